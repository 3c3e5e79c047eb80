//! BTF sanitization for older kernels: every kind a kernel may lack is rewritten as libbpf
//! does, type ids stay put, and the kernel accepts the result. The layout section is kept
//! for kernels that read it and dropped for the others; types of kinds corebpf does not
//! know become 1-byte INTs.

mod maps_util;

use corebpf::btf::{Btf, BtfBuilder, Header, Kind, KindLayout, Linkage, MemberSpec, INT_SIGNED};
use corebpf::sanitize::{sanitize, BtfSupport};
use corebpf::sys::{probe_feature, Feature};
use maps_util::kernel_at_least;

/// Nothing a kernel may lack is there.
const NONE: BtfSupport = BtfSupport {
    func: false,
    func_global: false,
    datasec: false,
    float: false,
    decl_tag: false,
    type_tag: false,
    enum64: false,
    layout: false,
    qmark_datasec: false,
};

/// BTF with one of each kind an old kernel may not know.
fn modern_btf() -> (Vec<u8>, [u32; 8]) {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let fl = b.add_float("double", 8);
    let tag = b.add_type_tag("user", int);
    let ptr = b.add_ptr(tag);
    let s = b.add_struct(
        "s",
        16,
        &[MemberSpec::new("p", ptr, 0), MemberSpec::new("d", fl, 8)],
    );
    let e64 = b.add_enum64("big", 8, false, &[("HUGE", 1 << 40), ("SMALL", 1)]);
    let sig = b.add_enum("sig", 4, true, &[("NEG", -1)]);
    let proto = b.add_func_proto(int, &[("x", int)]);
    let func = b.add_func("f", proto, Linkage::Global);
    let dtag = b.add_decl_tag("kfunc", func, -1);
    let var = b.add_var("counter", int, Linkage::Global);
    let sec = b.add_datasec(".data", 4, &[(var, 0, 4)]);
    let _ = (s, sig);
    (b.build(), [fl, tag, e64, proto, func, dtag, var, sec])
}

#[test]
fn everything_missing_is_rewritten_without_moving_ids() {
    let (raw, [fl, tag, e64, proto, func, dtag, var, sec]) = modern_btf();
    let btf = Btf::parse(&raw).unwrap();
    let out = Btf::parse(&sanitize(&btf, NONE).unwrap().expect("rewritten")).unwrap();
    out.validate().unwrap();
    let kind = |id| out.type_by_id(id).unwrap().kind();
    assert_eq!(
        kind(fl),
        Kind::Struct,
        "FLOAT -> empty struct of the same size"
    );
    assert_eq!(out.type_by_id(fl).unwrap().size(), 8);
    assert_eq!(kind(tag), Kind::Const, "TYPE_TAG -> CONST");
    assert_eq!(kind(e64), Kind::Union, "ENUM64 -> UNION");
    assert_eq!(kind(proto), Kind::Enum, "FUNC_PROTO -> ENUM");
    assert_eq!(kind(func), Kind::Typedef, "FUNC -> TYPEDEF");
    assert_eq!(kind(dtag), Kind::Int, "DECL_TAG -> INT");
    assert_eq!(kind(var), Kind::Int, "VAR -> INT");
    assert_eq!(kind(sec), Kind::Struct, "DATASEC -> STRUCT");
    let dsec = out.type_by_id(sec).unwrap();
    assert_eq!(dsec.name(), "_data");
    assert_eq!(dsec.members().next().unwrap().name(), "counter");
    // Ids did not move: the struct still finds its members' types.
    let s = out.find_by_name_kind("s", Kind::Struct).unwrap();
    assert_eq!(
        out.type_by_id(s).unwrap().members().nth(1).unwrap().type_id,
        fl
    );
}

#[test]
fn only_what_the_kernel_lacks_changes() {
    let (raw, [fl, tag, e64, ..]) = modern_btf();
    let btf = Btf::parse(&raw).unwrap();
    assert!(
        sanitize(&btf, BtfSupport::all()).unwrap().is_none(),
        "nothing to do"
    );
    let no_float = BtfSupport {
        float: false,
        ..BtfSupport::all()
    };
    let out = Btf::parse(&sanitize(&btf, no_float).unwrap().unwrap()).unwrap();
    assert_eq!(out.type_by_id(fl).unwrap().kind(), Kind::Struct);
    assert_eq!(out.type_by_id(tag).unwrap().kind(), Kind::TypeTag);
    assert_eq!(out.type_by_id(e64).unwrap().kind(), Kind::Enum64);
}

#[test]
fn the_kernel_accepts_the_sanitized_blob() {
    // Every rewrite must give BTF this kernel validates: the fully sanitized form (the
    // oldest kernel's view), what this kernel supports, and that with each kind turned off
    // in turn (never claiming a kind this kernel lacks).
    let (raw, _) = modern_btf();
    let btf = Btf::parse(&raw).unwrap();
    let here = BtfSupport::probe();
    let mut variants = vec![NONE, here];
    for off in 0..8 {
        let mut v = here;
        *[
            &mut v.func,
            &mut v.func_global,
            &mut v.datasec,
            &mut v.float,
            &mut v.decl_tag,
            &mut v.type_tag,
            &mut v.enum64,
            &mut v.layout,
        ][off] = false;
        variants.push(v);
    }
    for support in variants {
        let blob = sanitize(&btf, support)
            .unwrap()
            .unwrap_or_else(|| raw.clone());
        corebpf::sys::btf_load(&blob, None, 0).unwrap_or_else(|e| panic!("{support:?}: {e}"));
    }
}

/// The modern BTF with a layout section, and types of two kinds corebpf does not know
/// (25 and 100), referenced by pointer, typedef, struct member and array.
fn with_layout_and_unknown_kinds() -> (Vec<u8>, [u32; 4]) {
    let (raw, _) = modern_btf();
    let mut b = BtfBuilder::from_btf(&Btf::parse(&raw).unwrap()).unwrap();
    let int = b.add_int("long", 8, INT_SIGNED);
    let name = b.add_string("mystery");
    let u25 = b.add_raw(name, 25 << 24 | 2, 7, &[0xdead, 1, int, 2, int]);
    let u100 = b.add_raw(0, 100 << 24, 0, &[]);
    let ptr = b.add_ptr(u25);
    b.add_typedef("mystery_t", u25);
    let arr = b.add_array(u100, int, 4);
    let holder = b.add_struct(
        "holder",
        24,
        &[
            MemberSpec::new("p", ptr, 0),
            MemberSpec::new("m", u25, 8),
            MemberSpec::new("a", arr, 12),
            MemberSpec::new("x", int, 16),
        ],
    );
    let mut layout = KindLayout::known();
    layout.resize(101, KindLayout::default());
    layout[25] = KindLayout {
        info_sz: 4,
        elem_sz: 8,
        flags: 0,
    };
    b.set_layout(Some(layout));
    (b.build(), [u25, u100, ptr, holder])
}

#[test]
fn the_layout_section_is_kept_or_dropped_as_the_kernel_needs() {
    let mut b = BtfBuilder::from_btf(&Btf::parse(&modern_btf().0).unwrap()).unwrap();
    b.set_layout(Some(KindLayout::known()));
    let raw = b.build();
    let btf = Btf::parse(&raw).unwrap();
    assert!(
        sanitize(&btf, BtfSupport::all()).unwrap().is_none(),
        "kept as is"
    );
    let no_layout = BtfSupport {
        layout: false,
        ..BtfSupport::all()
    };
    let out = sanitize(&btf, no_layout).unwrap().expect("rewritten");
    let hdr = Header::parse(&out).unwrap();
    assert_eq!((hdr.hdr_len, hdr.layout_off, hdr.layout_len), (24, 0, 0));
    assert_eq!(hdr.str_off, hdr.type_len, "strings right after the types");
    let out = Btf::parse(&out).unwrap();
    assert_eq!(out.layout(), None);
    assert_eq!(out.type_count(), btf.type_count());
    for (a, b) in btf.types().zip(out.types()) {
        assert_eq!(a.raw(), b.raw());
    }
    // Other rewrites keep it for a kernel that reads it.
    let no_float = BtfSupport {
        float: false,
        ..BtfSupport::all()
    };
    let out = Btf::parse(&sanitize(&btf, no_float).unwrap().unwrap()).unwrap();
    assert_eq!(out.layout(), btf.layout());
}

#[test]
fn the_layout_probe_agrees_with_the_kernel() {
    // This kernel refuses what the probe says it cannot read; what sanitizing gives it, it
    // loads.
    let layout = probe_feature(Feature::BtfLayout);
    if !kernel_at_least(7, 0) {
        assert!(!layout, "BTF layout is a 7.x feature");
    }
    let mut b = BtfBuilder::from_btf(&Btf::parse(&modern_btf().0).unwrap()).unwrap();
    b.set_layout(Some(KindLayout::known()));
    let raw = b.build();
    let loaded = corebpf::sys::btf_load(&raw, None, 0);
    assert_eq!(loaded.is_ok(), layout, "{loaded:?}");
    let btf = Btf::parse(&raw).unwrap();
    let blob = sanitize(&btf, BtfSupport::probe())
        .unwrap()
        .unwrap_or_else(|| raw.clone());
    corebpf::sys::btf_load(&blob, None, 0).unwrap();
}

#[test]
fn unknown_kinds_become_one_byte_ints_for_any_kernel() {
    let (raw, [u25, u100, ptr, holder]) = with_layout_and_unknown_kinds();
    let btf = Btf::parse(&raw).unwrap();
    assert_eq!(btf.unknown_kinds(), &[(25, 1), (100, 1)]);
    for support in [BtfSupport::all(), BtfSupport::probe(), NONE] {
        let blob = sanitize(&btf, support).unwrap().expect("rewritten");
        let out = Btf::parse(&blob).unwrap();
        out.validate().unwrap();
        assert!(out.unknown_kinds().is_empty(), "{support:?}");
        // Ids do not move (without ENUM64, its placeholder INT comes last).
        let placeholder = u32::from(!support.enum64);
        assert_eq!(out.type_count(), btf.type_count() + placeholder);
        assert_eq!(out.type_by_id(holder).unwrap().name(), "holder");
        for id in [u25, u100] {
            let t = out.type_by_id(id).unwrap();
            assert_eq!(
                (t.kind(), t.size(), t.int_bits(), t.name_off()),
                (Kind::Int, 1, 8, 0)
            );
        }
        assert_eq!(out.type_by_id(ptr).unwrap().type_id(), Some(u25));
        let names: Vec<_> = out
            .type_by_id(holder)
            .unwrap()
            .members()
            .map(|m| m.name().to_string())
            .collect();
        assert_eq!(names, ["p", "m", "a", "x"]);
        assert_eq!(out.layout().is_some(), support.layout, "{support:?}");
        if support == BtfSupport::probe() || support == NONE {
            corebpf::sys::btf_load(&blob, None, 0).unwrap_or_else(|e| panic!("{support:?}: {e}"));
        }
    }
}

/// `run_xdp_ethertype.bpf.o` with its `.BTF` replaced by the same BTF with a layout section
/// and one type of an unknown kind, as a newer toolchain could write it.
fn xdp_object_with_layout_btf(dir: &std::path::Path) -> std::path::PathBuf {
    let testdata = corebpf_testutil::testdata();
    let elf = std::fs::read(testdata.join("bpf/out/clang19/run_xdp_ethertype.bpf.o")).unwrap();
    let btf = Btf::from_elf(&elf).unwrap();
    let mut b = BtfBuilder::from_btf(&btf).unwrap();
    let name = b.add_string("mystery");
    b.add_raw(name, 25 << 24, 0, &[]);
    let mut layout = KindLayout::known();
    layout.resize(26, KindLayout::default());
    b.set_layout(Some(layout));
    let out = dir.join("run_xdp_ethertype.layout.bpf.o");
    std::fs::write(&out, replace_section(elf, ".BTF", &b.build())).unwrap();
    out
}

/// An ELF64 little-endian object with section `name`'s contents replaced by `data`, which
/// is appended at the end of the file (the section header then points there); what
/// `llvm-objcopy --update-section` does, without needing LLVM in the QEMU guests.
fn replace_section(mut elf: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
    let u16_at = |e: &[u8], o: usize| u16::from_le_bytes([e[o], e[o + 1]]) as usize;
    let u64_at = |e: &[u8], o: usize| u64::from_le_bytes(e[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize) = (u64_at(&elf, 0x28), u16_at(&elf, 0x3a));
    let (shnum, shstrndx) = (u16_at(&elf, 0x3c), u16_at(&elf, 0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(&elf, header(shstrndx) + 0x18);
    let index = (0..shnum)
        .find(|&i| {
            let at = strtab
                + u32::from_le_bytes(elf[header(i)..header(i) + 4].try_into().unwrap()) as usize;
            elf[at..].split(|&c| c == 0).next() == Some(name.as_bytes())
        })
        .unwrap_or_else(|| panic!("no section {name}"));
    elf.resize(elf.len().next_multiple_of(8), 0);
    let (offset, size) = (elf.len() as u64, data.len() as u64);
    elf.extend_from_slice(data);
    let h = header(index);
    elf[h + 0x18..h + 0x20].copy_from_slice(&offset.to_le_bytes());
    elf[h + 0x20..h + 0x28].copy_from_slice(&size.to_le_bytes());
    elf
}

#[test]
fn an_object_whose_btf_has_a_layout_section_loads_with_its_btf_and_runs() {
    let dir = std::env::temp_dir().join(format!("corebpf-sanitize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = xdp_object_with_layout_btf(&dir);
    let open = corebpf::ObjectBuilder::new().open_file(&path).unwrap();
    let own = open.spec().btf.as_ref().expect("object BTF");
    assert_eq!(own.unknown_kinds(), &[(25, 1)]);
    assert!(own.layout().is_some());
    let obj = open.load().unwrap();
    // The BTF went to the kernel (sanitized for it): the map has a BTF id.
    let counts = obj.map("counts").expect("map counts");
    assert_ne!(counts.info().btf_id, 0, "the object's BTF was loaded");
    // IPv4 -> XDP_PASS (testdata/bpf/expected/runs.json).
    let frame: Vec<u8> = [
        &[0u8, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 8, 0][..],
        &[
            0x45, 0, 0, 0x28, 0, 0, 0, 0, 0x40, 0x11, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ],
        &[0; 20],
    ]
    .concat();
    let out = obj
        .program("xdp_ethertype")
        .unwrap()
        .test_run(&corebpf::TestRun {
            data: &frame,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(out.retval, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
