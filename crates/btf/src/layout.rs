//! The layout section (Linux 7.1+, pahole 1.31+): one `struct btf_layout` per kind the
//! encoder knew, giving the size of that kind's records so that a reader can step over
//! kinds it does not know. corebpf checks the entries of the kinds it knows against its
//! own table, sizes records of other kinds with it, and reports how many it stepped over.

use crate::raw::{Endian, Header, Kind, KindLayout, Sizes, EXTRA, KIND_LAYOUT_LEN, MAX_KIND};
use crate::{BtfError, Result};

/// The blob's layout entries, checked; `None` if it has no layout section.
pub(crate) fn parse_layout(bytes: &[u8], hdr: &Header) -> Result<Option<Vec<KindLayout>>> {
    let Some(range) = hdr.layout_range() else {
        return Ok(None);
    };
    // The header check put the section inside the blob.
    let raw = bytes.get(range).unwrap_or(&[]);
    let entries: Vec<KindLayout> = raw
        .chunks_exact(KIND_LAYOUT_LEN)
        .map(|e| KindLayout {
            info_sz: e[0],
            elem_sz: e[1],
            flags: match hdr.endian {
                Endian::Little => u16::from_le_bytes([e[2], e[3]]),
                Endian::Big => u16::from_be_bytes([e[2], e[3]]),
            },
        })
        .collect();
    for (kind, l) in entries.iter().enumerate() {
        check_entry(kind as u32, l)?;
    }
    Ok(Some(entries))
}

/// An entry of a kind this reader knows must describe that kind's records exactly (a
/// blob that disagrees cannot be read either way); one of another kind must size records
/// in whole 4-byte words, as the type section is.
fn check_entry(kind: u32, l: &KindLayout) -> Result<()> {
    let bad = |reason: String| Err(BtfError::BadLayout { reason });
    match Kind::from_u32(kind) {
        // Void has no records; entries past the largest kind number can never be used.
        Some(Kind::Void) => Ok(()),
        _ if kind > MAX_KIND => Ok(()),
        Some(k) => {
            let want = k.layout();
            if (l.info_sz, l.elem_sz) != (want.info_sz, want.elem_sz) {
                return bad(format!(
                    "kind {kind} ({k}): info_sz {}, elem_sz {}, but {k} records have info_sz {}, elem_sz {}",
                    l.info_sz, l.elem_sz, want.info_sz, want.elem_sz
                ));
            }
            Ok(())
        }
        None => {
            for (what, v) in [("info_sz", l.info_sz), ("elem_sz", l.elem_sz)] {
                if v % 4 != 0 {
                    return bad(format!("kind {kind}: {what} {v} is not a multiple of 4"));
                }
            }
            Ok(())
        }
    }
}

/// The record sizes of a blob with layout entries `layout`: the known kinds', plus those
/// of other kinds the entries describe.
pub(crate) fn sizes_with(layout: &[KindLayout]) -> Sizes {
    let mut t = EXTRA;
    let known = Kind::COUNT;
    for (k, l) in layout.iter().enumerate().take(t.len()).skip(known) {
        t[k] = (l.elem_sz, l.info_sz);
    }
    t
}

/// Per-kind counts of records of kinds this reader does not know, as `(kind, count)` in
/// kind order (from a table indexed by kind).
pub(crate) fn unknown_counts(counts: &[u32]) -> Vec<(u32, u32)> {
    counts
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n != 0)
        .map(|(k, &n)| (k as u32, n))
        .collect()
}

/// The one warning a parse gives when it stepped over types of unknown kinds.
pub(crate) fn warn_unknown(name: &str, unknown: &[(u32, u32)]) {
    if unknown.is_empty() {
        return;
    }
    let list: Vec<String> = unknown
        .iter()
        .map(|(k, n)| format!("kind {k}: {n} type{}", if *n == 1 { "" } else { "s" }))
        .collect();
    // "btf" is the name of BTF parsed from bytes, before a caller names it.
    let whose = if name == "btf" {
        String::new()
    } else {
        format!(" '{name}'")
    };
    log::warn!(
        "BTF{whose}: skipped types of kinds corebpf does not know ({}), sized by the layout section; they read as opaque types",
        list.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use crate::data::Data;
    use crate::scan::Check;
    use crate::{Btf, BtfBuilder, Kind, KindLayout, INT_SIGNED};

    /// Debian's 7.2 BTF re-emitted with a 32-byte header and the known kinds' layout.
    fn linux_7_2_with_layout() -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/btf/7.2.btf.gz");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        let btf = Btf::from_vec(raw).unwrap();
        let mut b = BtfBuilder::from_btf(&btf).unwrap();
        b.set_layout(Some(KindLayout::known()));
        b.build()
    }

    fn parse(raw: &[u8], check: Check) -> Btf {
        Btf::from_data_checked(Data::Owned(raw.into()), None, "t", check).unwrap()
    }

    /// Kernel BTF from sysfs gets the bounds-only walk (on two threads for vmlinux): it
    /// must size records by the layout like the full pass.
    #[test]
    fn the_bounds_walk_reads_layouts_like_the_full_pass() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let name = b.add_string("mystery");
        b.add_raw(name, 25 << 24 | 2, 0, &[1, 2, 3, 4, 5]);
        b.add_typedef("t", int);
        let mut layout = KindLayout::known();
        layout.resize(26, KindLayout::default());
        layout[25] = KindLayout {
            info_sz: 4,
            elem_sz: 8,
            flags: 0,
        };
        b.set_layout(Some(layout));
        let small = b.build();
        for raw in [small, linux_7_2_with_layout()] {
            let full = parse(&raw, Check::Full);
            let walked = parse(&raw, Check::Bounds);
            assert_eq!(walked.type_count(), full.type_count());
            assert_eq!(walked.unknown_kinds(), full.unknown_kinds());
            assert_eq!(walked.layout(), full.layout());
            assert_eq!(walked.index().len(), full.index().len());
            let last = full.type_count() - 1;
            assert_eq!(
                walked.type_by_id(last).unwrap().raw(),
                full.type_by_id(last).unwrap().raw()
            );
            assert_eq!(
                walked.find_by_name_kind("t", Kind::Typedef),
                full.find_by_name_kind("t", Kind::Typedef)
            );
            assert_eq!(walked.find_by_name("mystery").count(), 0);
        }
    }
}
