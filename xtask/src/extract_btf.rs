//! `cargo xtask extract-btf [--kernel VER]... [--timeout SECS]`: write the BTF of Debian's
//! cloud kernels to `testdata/btf/<VER>.btf.gz` (default: every kernel `vm-test` knows).
//!
//! The BTF comes from the running kernel itself: the guest of `vm-test` boots in a mode that
//! copies `/sys/kernel/btf/vmlinux` raw to a third serial port (Debian ships only the
//! compressed `vmlinuz`, so this is simpler than digging `.BTF` out of it). The blob is
//! checked (magic, header and section sizes) and gzipped with a zero mtime, so the same
//! kernel always gives the same file. The package each file came from is printed; record it
//! in `testdata/btf/README.md`.

use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

/// Runs `cargo xtask extract-btf`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut versions = Vec::new();
    let mut timeout = Duration::from_secs(300);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kernel" => versions.push(it.next().ok_or("--kernel needs a version")?.clone()),
            "--timeout" => {
                let v = it.next().ok_or("--timeout needs seconds")?;
                timeout = Duration::from_secs(v.parse().map_err(|_| format!("bad --timeout {v}"))?);
            }
            other => {
                return Err(format!(
                    "unknown argument '{other}'\nusage: cargo xtask extract-btf [--kernel VER]... [--timeout SECS]"
                ))
            }
        }
    }
    if versions.is_empty() {
        versions = crate::vm::kernel_versions()
            .iter()
            .map(|v| v.to_string())
            .collect();
    }
    let dir = crate::vm::workspace_root().join("testdata/btf");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for v in &versions {
        let (k, btf) = crate::vm::kernel_btf(v, timeout)?;
        check_btf(&btf).map_err(|e| format!("kernel {v}: bad BTF: {e}"))?;
        let out = dir.join(format!("{v}.btf.gz"));
        let gz = gzip(&btf).map_err(|e| format!("gzip: {e}"))?;
        std::fs::write(&out, &gz).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        println!(
            "{}: {} bytes of BTF ({} gzipped) from {} {}",
            out.display(),
            btf.len(),
            gz.len(),
            k.package,
            k.package_version
        );
    }
    Ok(())
}

/// Gzips `data` reproducibly (no name, mtime 0).
fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc: GzEncoder<Vec<u8>> = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    enc.write_all(data)?;
    enc.finish()
}

/// The fixed part of a BTF header (`struct btf_header` before Linux 7.1).
const BTF_HDR_LEN_BASE: usize = 24;
/// The header with the layout section's offset and length (Linux 7.1, pahole 1.31).
const BTF_HDR_LEN_LAYOUT: usize = 32;
/// `sizeof(struct btf_layout)`: one `{ u8 info_sz; u8 elem_sz; u16 flags; }` per kind.
const BTF_LAYOUT_SIZE: usize = 4;

/// Checks the BTF header: magic, version, a known header length (24, or 32 with a layout
/// section), and that the type, layout and string sections lie in the blob, in that order
/// without overlapping, and end exactly at its end.
fn check_btf(b: &[u8]) -> Result<(), String> {
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .and_then(|s| s.try_into().ok())
            .map(|s| u32::from_le_bytes(s) as usize)
    };
    if b.get(..2) != Some(&[0x9f, 0xeb]) {
        return Err("no little-endian BTF magic 0xeb9f".into());
    }
    if b.get(2) != Some(&1) {
        return Err(format!("unknown BTF version {:?}", b.get(2)));
    }
    let hdr_len = u32_at(4).ok_or("short header")?;
    if hdr_len != BTF_HDR_LEN_BASE && hdr_len != BTF_HDR_LEN_LAYOUT {
        return Err(format!(
            "unknown header length {hdr_len} (expected {BTF_HDR_LEN_BASE} or {BTF_HDR_LEN_LAYOUT})"
        ));
    }
    let fields: Vec<usize> = (8..hdr_len)
        .step_by(4)
        .map(u32_at)
        .collect::<Option<_>>()
        .ok_or("short header")?;
    let types = (fields[0], fields[1]);
    let strs = (fields[2], fields[3]);
    // A 24-byte header has no layout section: as if its offset and length were 0.
    let layout = (
        fields.get(4).copied().unwrap_or(0),
        fields.get(5).copied().unwrap_or(0),
    );
    check_layout(types, layout, strs)?;
    let end = hdr_len
        + (types.0 + types.1)
            .max(layout.0 + layout.1)
            .max(strs.0 + strs.1);
    if end != b.len() {
        return Err(format!(
            "sections end at {end} but the blob has {} bytes",
            b.len()
        ));
    }
    Ok(())
}

/// Checks that the layout section `(offset, length)`, if not empty, is whole `btf_layout`
/// entries, 4-byte aligned, and lies after the types and before the strings (as libbpf
/// requires), and that the types end before the strings start.
fn check_layout(
    types: (usize, usize),
    layout: (usize, usize),
    strs: (usize, usize),
) -> Result<(), String> {
    let types_end = types.0 + types.1;
    if types_end > strs.0 {
        return Err(format!(
            "types at {} + {} overlap strings at {}",
            types.0, types.1, strs.0
        ));
    }
    let (off, len) = layout;
    if len == 0 {
        return Ok(());
    }
    if len % BTF_LAYOUT_SIZE != 0 || off % 4 != 0 {
        return Err(format!(
            "layout at {off} + {len}: not aligned whole {BTF_LAYOUT_SIZE}-byte entries"
        ));
    }
    if off < types_end || off + len > strs.0 {
        return Err(format!(
            "layout at {off} + {len} is not between types (end {types_end}) and strings (at {})",
            strs.0
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btf_header_checks() {
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for v in [24u32, 0, 4, 4, 2] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[0; 6]);
        assert_eq!(check_btf(&b), Ok(()));
        b.push(0);
        assert!(check_btf(&b).is_err());
        assert!(check_btf(b"\x7fELF").is_err());
    }

    /// A blob with `hdr` (u32 words after magic/version/flags) followed by `body` zero bytes.
    fn blob(hdr: &[u32], body: usize) -> Vec<u8> {
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for v in hdr {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.resize(b.len() + body, 0);
        b
    }

    #[test]
    fn btf_header_with_layout_checks() {
        // hdr_len, type_off/len, str_off/len, layout_off/len: types, 2 layout entries, strings.
        assert_eq!(check_btf(&blob(&[32, 0, 12, 20, 2, 12, 8], 22)), Ok(()));
        // No layout section in a 32-byte header.
        assert_eq!(check_btf(&blob(&[32, 0, 12, 12, 2, 0, 0], 14)), Ok(()));
        // Layout overlapping the types, reaching into the strings, or not whole entries.
        assert!(check_btf(&blob(&[32, 0, 12, 20, 2, 8, 8], 22)).is_err());
        assert!(check_btf(&blob(&[32, 0, 12, 20, 2, 12, 12], 22)).is_err());
        assert!(check_btf(&blob(&[32, 0, 12, 20, 2, 12, 6], 22)).is_err());
        // Layout after the strings.
        assert!(check_btf(&blob(&[32, 0, 12, 12, 2, 16, 8], 24)).is_err());
        // Unknown header lengths.
        assert!(check_btf(&blob(&[28, 0, 4, 4, 2, 0], 6)).is_err());
        assert!(check_btf(&blob(&[40, 0, 4, 4, 2, 0, 0, 0, 0], 6)).is_err());
    }

    #[test]
    fn gzip_is_reproducible() {
        assert_eq!(gzip(b"abc").unwrap(), gzip(b"abc").unwrap());
    }
}
