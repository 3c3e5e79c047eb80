//! BTF sanitization for older kernels: every kind a kernel may lack is rewritten as libbpf
//! does, type ids stay put, and the kernel accepts the result.

use corebpf::btf::{Btf, BtfBuilder, Kind, Linkage, MemberSpec, INT_SIGNED};
use corebpf::sanitize::{sanitize, BtfSupport};

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
    let none = BtfSupport {
        func: false,
        func_global: false,
        datasec: false,
        float: false,
        decl_tag: false,
        type_tag: false,
        enum64: false,
    };
    let out = Btf::parse(&sanitize(&btf, none).unwrap().expect("rewritten")).unwrap();
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
    let none = BtfSupport {
        func: false,
        func_global: false,
        datasec: false,
        float: false,
        decl_tag: false,
        type_tag: false,
        enum64: false,
    };
    let mut variants = vec![none, here];
    for off in 0..7 {
        let mut v = here;
        *[
            &mut v.func,
            &mut v.func_global,
            &mut v.datasec,
            &mut v.float,
            &mut v.decl_tag,
            &mut v.type_tag,
            &mut v.enum64,
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
