//! BTF with a layout section (Linux 7.1+, pahole 1.31+: a 32-byte header whose
//! `layout_off`/`layout_len` give each kind's record sizes): a real kernel's BTF re-emitted
//! with one reads exactly as without; types of kinds corebpf does not know are stepped over
//! with one warning and stay opaque to name lookups, CO-RE and the C dump; malformed
//! layouts give `BtfError::BadLayout` (or `BadKind`) naming what is wrong.

mod cdump_util;
mod layout_util;

use std::sync::{Arc, Mutex, Once};

use corebpf_btf::relo::{Relocator, TargetSet};
use corebpf_btf::{
    cdump, Btf, BtfBuilder, BtfError, CoreRelo, CoreReloKind, Header, Kind, KindLayout, MemberSpec,
    INT_SIGNED,
};
use layout_util::{kernel_btf, linux_7_2_with_layout, with_layout, KNOWN};

/// Log records of every thread: (thread, level, message).
static LOGS: Mutex<Vec<(std::thread::ThreadId, log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        let entry = (std::thread::current().id(), r.level(), r.args().to_string());
        LOGS.lock().unwrap().push(entry);
    }
    fn flush(&self) {}
}

/// The warnings `f` logs on this thread (tests run on parallel threads).
fn warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Debug);
    });
    let me = std::thread::current().id();
    LOGS.lock().unwrap().retain(|(t, _, _)| *t != me);
    let r = f();
    let logs = LOGS.lock().unwrap();
    let warned = logs
        .iter()
        .filter(|(t, l, _)| *t == me && *l == log::Level::Warn)
        .map(|(_, _, m)| m.clone())
        .collect();
    (r, warned)
}

fn layout_entries(entries: &[(u8, u8)]) -> Vec<KindLayout> {
    entries
        .iter()
        .map(|&(info_sz, elem_sz)| KindLayout {
            info_sz,
            elem_sz,
            flags: 0,
        })
        .collect()
}

#[test]
fn the_known_layout_is_what_btf_h_defines() {
    assert_eq!(KindLayout::known(), layout_entries(&KNOWN));
    for (k, &(info_sz, elem_sz)) in KNOWN.iter().enumerate().skip(1) {
        let kind = Kind::from_u32(k as u32).unwrap();
        assert_eq!(
            kind.extra_len(3),
            info_sz as usize + 3 * elem_sz as usize,
            "{kind}"
        );
    }
}

#[test]
fn linux_7_2_btf_reads_the_same_with_a_layout_section() {
    let plain_raw = kernel_btf("7.2");
    let (plain, warned) = warnings(|| Btf::from_vec(plain_raw.clone()).unwrap());
    assert!(warned.is_empty(), "{warned:?}");
    assert_eq!(plain.layout(), None);
    let raw = linux_7_2_with_layout();
    let hdr = Header::parse(&raw).unwrap();
    assert_eq!((hdr.hdr_len, hdr.layout_len), (32, 80));
    assert_eq!(hdr.layout_off, hdr.type_len, "right after the types");
    let (btf, warned) = warnings(|| Btf::from_vec(raw).unwrap());
    assert!(warned.is_empty(), "{warned:?}");
    assert_eq!(btf.layout(), Some(&layout_entries(&KNOWN)[..]));
    assert!(btf.unknown_kinds().is_empty());
    btf.validate().unwrap();
    assert_eq!(btf.type_count(), plain.type_count());
    assert!(btf.type_count() > 100_000, "{}", btf.type_count());
    for (a, b) in plain.types().zip(btf.types()) {
        assert_eq!(a.raw(), b.raw(), "type [{}]", a.id());
        assert_eq!(a.name_bytes(), b.name_bytes(), "type [{}]", a.id());
    }
    for (name, kind) in [
        ("task_struct", Kind::Struct),
        ("bpf_map_type", Kind::Enum),
        ("do_nanosleep", Kind::Func),
        ("btf_max", Kind::Enum),
    ] {
        let id = btf.find_by_name_kind(name, kind);
        assert!(id.is_some(), "{name}");
        assert_eq!(id, plain.find_by_name_kind(name, kind), "{name}");
    }
    // 7.2 is from the series that widened vlen to 24 bits and the kind to 7.
    let btf_max = btf.find_by_name_kind("btf_max", Kind::Enum).unwrap();
    let values: Vec<(String, u64)> = btf
        .type_by_id(btf_max)
        .unwrap()
        .enumerators()
        .map(|e| (e.name().to_string(), e.value))
        .collect();
    assert!(
        values.contains(&("BTF_MAX_VLEN".into(), 0xff_ffff)),
        "{values:?}"
    );
    assert!(
        values.contains(&("BTF_MAX_KIND".into(), 0x7f)),
        "{values:?}"
    );
}

#[test]
fn the_builder_keeps_or_drops_the_layout() {
    let btf = Btf::from_vec(linux_7_2_with_layout()).unwrap();
    let mut b = BtfBuilder::from_btf(&btf).unwrap();
    assert_eq!(b.layout(), btf.layout());
    let again = Btf::from_vec(b.build()).unwrap();
    assert_eq!(again.layout(), btf.layout());
    assert_eq!(again.type_count(), btf.type_count());
    b.set_layout(None);
    let raw = b.build();
    assert_eq!(Header::parse(&raw).unwrap().hdr_len, 24);
    let plain = Btf::from_vec(raw).unwrap();
    assert_eq!(plain.layout(), None);
    assert_eq!(plain.raw_bytes(), &kernel_btf("7.2")[..]);
}

/// Kind 25 (vlen 2, a 4-byte info and 8-byte elements, as the layout says) and kind 100
/// (7 bits: beyond the 5 the info word had before 7.1), referenced by pointer, typedef,
/// by value, as an array element and as a parameter.
struct Unknowns {
    btf: Btf,
    int: u32,
    mystery: u32,
    other: u32,
    mystery_t: u32,
    holder: u32,
    embeds: u32,
}

fn unknowns() -> (Vec<u8>, [u32; 6]) {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let name = b.add_string("mystery");
    let mystery = b.add_raw(name, 25 << 24 | 2, 7, &[0xdead, 1, int, 2, int]);
    let name = b.add_string("other");
    let other = b.add_raw(name, 100 << 24 | 3, 0, &[1, 2, 3]);
    b.add_raw(0, 25 << 24, 0, &[0]);
    let ptr = b.add_ptr(mystery);
    let mystery_t = b.add_typedef("mystery_t", mystery);
    let arr = b.add_array(other, int, 3);
    let proto = b.add_func_proto(int, &[("m", mystery), ("x", int)]);
    let cb = b.add_ptr(proto);
    let holder = b.add_struct(
        "holder",
        24,
        &[
            MemberSpec::new("a", int, 0),
            MemberSpec::new("p", ptr, 8),
            MemberSpec::new("cb", cb, 16),
        ],
    );
    let mt_ptr = b.add_ptr(mystery_t);
    let embeds = b.add_struct(
        "embeds",
        32,
        &[
            MemberSpec::new("a", int, 0),
            MemberSpec::new("m", mystery, 4),
            MemberSpec::new("b", int, 8),
            MemberSpec::new("arr", arr, 12),
            MemberSpec::new("c", int, 20),
            MemberSpec::new("t", mt_ptr, 24),
        ],
    );
    b.add_union(
        "either",
        4,
        &[
            MemberSpec::new("a", int, 0),
            MemberSpec::new("m", mystery, 0),
        ],
    );
    let mut layout = KindLayout::known();
    layout.resize(101, KindLayout::default());
    layout[25] = KindLayout {
        info_sz: 4,
        elem_sz: 8,
        flags: 0,
    };
    layout[100].elem_sz = 4;
    b.set_layout(Some(layout));
    (b.build(), [int, mystery, other, mystery_t, holder, embeds])
}

fn parse_unknowns() -> (Unknowns, Vec<String>) {
    let (raw, [int, mystery, other, mystery_t, holder, embeds]) = unknowns();
    let (btf, warned) = warnings(|| Btf::from_vec(raw).unwrap());
    let u = Unknowns {
        btf,
        int,
        mystery,
        other,
        mystery_t,
        holder,
        embeds,
    };
    (u, warned)
}

#[test]
fn unknown_kinds_are_stepped_over_with_one_warning() {
    let (u, warned) = parse_unknowns();
    let btf = &u.btf;
    assert_eq!(btf.unknown_kinds(), &[(25, 2), (100, 1)]);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("kind 25: 2 types") && warned[0].contains("kind 100: 1 type"),
        "{}",
        warned[0]
    );
    btf.validate().unwrap();
    let t = btf.type_by_id(u.mystery).unwrap();
    assert!(t.is_unknown_kind());
    assert_eq!((t.raw_kind(), t.kind(), t.vlen()), (25, Kind::Void, 2));
    assert_eq!(t.raw().len(), 12 + 4 + 2 * 8, "sized by the layout");
    assert_eq!((t.size(), t.type_id()), (0, None));
    assert_eq!(
        t.members().len() + t.params().len() + t.enumerators().len(),
        0
    );
    assert_eq!(t.name(), "mystery");
    assert_eq!(t.to_string(), "unknown kind 25 mystery");
    assert_eq!(btf.type_by_id(u.other).unwrap().raw_kind(), 100);
    assert!(!btf.type_by_id(u.int).unwrap().is_unknown_kind());
    // Opaque: no size, no alignment, no name lookup finds it.
    for id in [u.mystery, u.mystery_t] {
        let e = btf.size_of(id).unwrap_err();
        assert!(
            matches!(e, BtfError::BadSize { ref reason, .. } if reason.contains("kind 25")),
            "{e}"
        );
        assert!(btf.align_of(id).is_err());
    }
    assert_eq!(btf.find_by_name("mystery").count(), 0);
    assert_eq!(btf.find_by_name("other").count(), 0);
    assert_eq!(btf.find_by_essential_name(b"mystery").count(), 0);
    assert_eq!(btf.find_by_name_kind("mystery", Kind::Void), None);
    assert_eq!(
        btf.find_by_name("mystery_t").collect::<Vec<_>>(),
        [u.mystery_t]
    );
    // The types after them were found where they are.
    let embeds = btf.type_by_id(u.embeds).unwrap();
    let names: Vec<&str> = embeds.members().map(|m| m.name()).collect();
    assert_eq!(names, ["a", "m", "b", "arr", "c", "t"]);
    assert_eq!(
        btf.find_by_name_kind("holder", Kind::Struct),
        Some(u.holder)
    );
    assert_eq!(btf.size_of(u.holder).unwrap(), 24);
    // Re-encoded (object BTF fix-ups do this), they stay as they were.
    let again = Btf::from_vec(BtfBuilder::from_btf(btf).unwrap().build()).unwrap();
    assert_eq!(again.unknown_kinds(), btf.unknown_kinds());
    assert_eq!(again.raw_bytes(), btf.raw_bytes());
}

#[test]
fn split_btf_sizes_unknown_kinds_with_the_base_layout() {
    let (u, _) = parse_unknowns();
    let base = Arc::new(u.btf);
    let mut b = BtfBuilder::new_split(&base);
    let name = b.add_string("split_mystery");
    let id = b.add_raw(name, 25 << 24 | 1, 0, &[0, 1, 2]);
    let ptr = b.add_ptr(id);
    let (split, warned) = warnings(|| Btf::parse_split(&b.build(), base.clone()).unwrap());
    assert_eq!(split.layout(), None, "its own header has none");
    assert_eq!(split.unknown_kinds(), &[(25, 1)]);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(split.type_by_id(id).unwrap().is_unknown_kind());
    assert_eq!(split.type_by_id(ptr).unwrap().type_id(), Some(id));
    assert_eq!(split.find_by_name("split_mystery").count(), 0);
}

/// A CO-RE relocation of `kind` on `access` of local type `type_id`, resolved against
/// `target`: (poisoned, new value, target root).
fn relocate(
    local: &Btf,
    type_id: u32,
    access: u32,
    kind: CoreReloKind,
    target: &Arc<Btf>,
) -> (bool, u64, Option<u32>) {
    let targets = TargetSet::from_btfs(vec![target.clone()]);
    let mut r = Relocator::new(&targets);
    let relo = CoreRelo {
        insn_off: 0,
        type_id,
        access_str_off: access,
        kind: kind as u32,
    };
    let res = r.resolve(local, &relo, 0, "prog").unwrap();
    (res.res.poison, res.res.new_val, res.target_root)
}

#[test]
fn unknown_kinds_are_never_co_re_candidates() {
    let (u, _) = parse_unknowns();
    let target = Arc::new(u.btf);
    // The object's view: `struct mystery { int x; }`, embedded in `struct embeds`, and a
    // pointer to it in `struct holder`.
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let mystery = b.add_struct("mystery", 4, &[MemberSpec::new("x", int, 0)]);
    let ptr = b.add_ptr(mystery);
    let embeds = b.add_struct(
        "embeds",
        12,
        &[
            MemberSpec::new("a", int, 0),
            MemberSpec::new("m", mystery, 4),
            MemberSpec::new("b", int, 8),
        ],
    );
    let holder = b.add_struct("holder", 16, &[MemberSpec::new("p", ptr, 8)]);
    let s00 = b.add_string("0:0");
    let s01 = b.add_string("0:1");
    let s02 = b.add_string("0:2");
    let s0 = b.add_string("0");
    let local = Btf::from_vec(b.build()).unwrap();
    use CoreReloKind::*;
    // `mystery` has no candidate: the target's type of that name is of an unknown kind.
    assert!(relocate(&local, mystery, s00, FieldByteOffset, &target).0);
    assert_eq!(
        relocate(&local, mystery, s0, TypeExists, &target),
        (false, 0, None)
    );
    // A member of that type does not match: `embeds.m` does not exist, `embeds.b` does.
    assert_eq!(relocate(&local, embeds, s01, FieldExists, &target).1, 0);
    let (poison, off, root) = relocate(&local, embeds, s02, FieldByteOffset, &target);
    assert!(!poison);
    assert_eq!(
        (off, root),
        (8, target.find_by_name_kind("embeds", Kind::Struct))
    );
    // Pointers to it only match pointers to it... of a known kind: `holder.p` is there.
    assert_eq!(relocate(&local, holder, s00, FieldExists, &target).1, 1);
    assert_eq!(relocate(&local, holder, s00, FieldByteOffset, &target).1, 8);
    assert_eq!(relocate(&local, holder, s0, TypeMatches, &target).1, 0);
}

#[test]
fn the_c_dump_declares_unknown_kinds_as_opaque_placeholders() {
    let (u, _) = parse_unknowns();
    let header = cdump::to_c_header(&u.btf).unwrap();
    let placeholder = format!("struct __btf_unknown_kind25_id{}", u.mystery);
    assert!(
        header.contains(&format!(
            "/* type [{}] 'mystery': BTF kind 25, unknown to corebpf */\n{placeholder} {{}};",
            u.mystery
        )),
        "{header}"
    );
    assert!(
        header.contains(&format!("typedef {placeholder} mystery_t;")),
        "{header}"
    );
    assert!(header.contains(&format!("\t{placeholder} *p;")), "{header}");
    assert!(
        header.contains(&format!(
            "struct __btf_unknown_kind100_id{} arr[3];",
            u.other
        )),
        "{header}"
    );
    assert!(!header.contains("struct mystery"), "{header}");
    if !cdump_util::have_clang() {
        return;
    }
    // It compiles, and every struct keeps its size and member offsets.
    let (sizes, offsets) = cdump_util::check_layouts(&u.btf, "unknown-kinds");
    assert!(sizes >= 2 && offsets >= 8, "{sizes} {offsets}");
    let dir = cdump_util::scratch("unknown-kinds-prog");
    std::fs::write(dir.join("vmlinux.h"), &header).unwrap();
    std::fs::write(
        dir.join("prog.c"),
        "#include \"vmlinux.h\"\n\
         int f(struct embeds *e, struct holder *h, mystery_t *m) {\n\
         \treturn e->a + e->b + e->c + (e->t == m) + h->a + (h->p != 0);\n\
         }\n",
    )
    .unwrap();
    cdump_util::clang_bpf(&dir, "prog.c", &["-O2", "-c", "-o", "prog.o"]);
    let _ = std::fs::remove_dir_all(&dir);
}

fn set_u32(v: &mut [u8], off: usize, x: u32) {
    v[off..off + 4].copy_from_slice(&x.to_le_bytes());
}

fn u32_at(v: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(v[off..off + 4].try_into().unwrap())
}

fn small_with_layout(layout: &[(u8, u8)]) -> Vec<u8> {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    b.add_struct("s", 4, &[MemberSpec::new("a", int, 0)]);
    with_layout(&b.build(), layout)
}

fn layout_error(raw: &[u8]) -> String {
    match Btf::parse(raw).unwrap_err() {
        BtfError::BadLayout { reason } => reason,
        e => panic!("not a layout error: {e}"),
    }
}

#[test]
fn malformed_layouts_are_typed_errors() {
    let good = small_with_layout(&KNOWN);
    Btf::parse(&good).unwrap();
    let type_len = u32_at(&good, 12);
    // Misaligned: layout_off 2 past the types (and the strings moved along).
    let mut v = good.clone();
    set_u32(&mut v, 24, type_len + 2);
    assert!(layout_error(&v).contains("not 4-byte aligned"));
    // Not whole entries.
    let mut v = good.clone();
    set_u32(&mut v, 28, 78);
    assert!(layout_error(&v).contains("not a multiple of 4"));
    // Overlapping the types, or the strings.
    let mut v = good.clone();
    set_u32(&mut v, 24, type_len - 4);
    assert!(layout_error(&v).contains("before the type section"));
    let mut v = good.clone();
    set_u32(&mut v, 28, 84);
    let e = layout_error(&v);
    assert!(e.contains("runs into the string section"), "{e}");
    // An entry for a known kind too short for its records.
    let mut short = KNOWN;
    short[1] = (0, 0);
    let e = layout_error(&small_with_layout(&short));
    assert!(
        e.contains("kind 1 (int): info_sz 0, elem_sz 0, but int records have info_sz 4"),
        "{e}"
    );
    let mut wide = KNOWN;
    wide[4] = (0, 16);
    assert!(layout_error(&small_with_layout(&wide)).contains("kind 4 (struct)"));
    // Sizes of an unknown kind that are not whole words.
    let mut odd = KNOWN.to_vec();
    odd.extend([(0, 0); 5]);
    odd.push((6, 0));
    let e = layout_error(&small_with_layout(&odd));
    assert!(
        e.contains("kind 25: info_sz 6 is not a multiple of 4"),
        "{e}"
    );
    odd[25] = (4, 2);
    assert!(layout_error(&small_with_layout(&odd)).contains("kind 25: elem_sz 2"));
}

#[test]
fn an_unknown_kind_without_a_layout_entry_is_a_bad_kind() {
    let mut b = BtfBuilder::new();
    b.add_int("int", 4, INT_SIGNED);
    b.add_raw(0, 25 << 24, 0, &[]);
    for layout in [None, Some(KindLayout::known())] {
        b.set_layout(layout.clone());
        let e = Btf::parse(&b.build()).unwrap_err();
        assert!(
            matches!(
                e,
                BtfError::BadKind {
                    id: 2,
                    kind: 25,
                    ..
                }
            ),
            "{layout:?}: {e}"
        );
    }
    // Kind 0 is void: no layout makes a record of it valid.
    let mut b = BtfBuilder::new();
    b.add_raw(0, 0, 0, &[]);
    b.set_layout(Some(KindLayout::known()));
    assert!(matches!(
        Btf::parse(&b.build()).unwrap_err(),
        BtfError::BadKind { kind: 0, .. }
    ));
}

#[test]
fn header_lengths_24_32_and_longer() {
    let good = small_with_layout(&KNOWN);
    // A 32-byte header without a layout (layout_len 0) is a plain blob.
    let mut b = BtfBuilder::new();
    b.add_int("int", 4, INT_SIGNED);
    let plain = b.build();
    let mut v = plain[..4].to_vec();
    v.extend_from_slice(&32u32.to_le_bytes());
    v.extend_from_slice(&plain[8..24]);
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&plain[24..]);
    let btf = Btf::parse(&v).unwrap();
    assert_eq!((btf.layout(), btf.type_count()), (None, 2));
    // Longer headers: the tail is ignored, zero or not (libbpf reads such BTF too).
    for tail in [[0u8; 8], [1, 2, 3, 4, 5, 6, 7, 8]] {
        let mut v = good[..4].to_vec();
        v.extend_from_slice(&40u32.to_le_bytes());
        v.extend_from_slice(&good[8..32]);
        v.extend_from_slice(&tail);
        v.extend_from_slice(&good[32..]);
        let btf = Btf::parse(&v).unwrap();
        assert_eq!(btf.layout().map(<[_]>::len), Some(20));
        assert_eq!(btf.type_count(), 3);
    }
}

#[test]
fn vlen_has_24_bits_and_the_kind_7() {
    // A struct with 65537 members: vlen 0x10001 needs bit 16.
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let members: Vec<MemberSpec> = (0..0x10001u32)
        .map(|i| MemberSpec::new(if i == 0x10000 { "last" } else { "" }, int, 0))
        .collect();
    let s = b.add_struct("wide", 4, &members);
    let btf = Btf::parse(&b.build()).unwrap();
    let t = btf.type_by_id(s).unwrap();
    assert_eq!(t.vlen(), 0x10001);
    assert_eq!(t.members().last().unwrap().name(), "last");
    // Kind bits 29 and 30 make a kind number above 31: unknown, not masked to a known one.
    let mut b = BtfBuilder::new();
    b.add_raw(0, (Kind::Int as u32 | 0x20) << 24, 4, &[32]);
    assert!(matches!(
        Btf::parse(&b.build()).unwrap_err(),
        BtfError::BadKind { kind: 0x21, .. }
    ));
}

#[test]
fn big_endian_blobs_with_a_layout() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let name = b.add_string("mystery");
    let unk = b.add_raw(name, 25 << 24 | 1, 0, &[int, 9]);
    b.add_ptr(unk);
    let mut layout = KindLayout::known();
    layout.resize(26, KindLayout::default());
    layout[25] = KindLayout {
        info_sz: 0,
        elem_sz: 8,
        flags: 0x0102,
    };
    b.set_layout(Some(layout.clone()));
    let le = b.build();
    // Byte-swap the 16-bit magic, every 32-bit word of the header and types, and the
    // 16-bit flags of each layout entry.
    let mut be = le.clone();
    be[0..2].copy_from_slice(&u16::from_le_bytes([le[0], le[1]]).to_be_bytes());
    let type_len = u32_at(&le, 12) as usize;
    for off in (4..32 + type_len).step_by(4) {
        be[off..off + 4].copy_from_slice(&u32_at(&le, off).to_be_bytes());
    }
    for e in (32 + type_len..32 + type_len + 4 * layout.len()).step_by(4) {
        be.swap(e + 2, e + 3);
    }
    let (btf, warned) = warnings(|| Btf::parse(&be).unwrap());
    assert_eq!(btf.endian(), corebpf_btf::Endian::Big);
    assert_eq!(btf.layout(), Some(&layout[..]), "flags read big-endian");
    assert_eq!(btf.unknown_kinds(), &[(25, 1)]);
    assert_eq!(warned.len(), 1);
    assert_eq!(btf.type_by_id(unk + 1).unwrap().type_id(), Some(unk));
    // Re-encoding little-endian would need the widths of the unknown kind's fields.
    let e = BtfBuilder::from_btf(&btf).unwrap_err();
    assert!(
        matches!(e, BtfError::BadLayout { ref reason } if reason.contains("big-endian")),
        "{e}"
    );
}
