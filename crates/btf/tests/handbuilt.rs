//! BTF built by hand with `BtfBuilder`: every kind decodes back, kflag semantics, sizes and
//! alignment, the name index with CO-RE flavors, split BTF, big-endian blobs and `.BTF.ext`.

use std::sync::Arc;

use corebpf_btf::{
    Btf, BtfBuilder, BtfExt, Kind, Linkage, MemberSpec, INT_BOOL, INT_CHAR, INT_SIGNED,
};

#[test]
fn every_kind_round_trips() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let ch = b.add_int("char", 1, INT_CHAR);
    let boolean = b.add_int("_Bool", 1, INT_BOOL);
    let ptr = b.add_ptr(int);
    let arr = b.add_array(ch, int, 16);
    let s = b.add_struct(
        "s",
        24,
        &[
            MemberSpec::new("a", int, 0),
            MemberSpec::new("p", ptr, 8),
            MemberSpec::new("name", arr, 16),
        ],
    );
    let u = b.add_union(
        "u",
        8,
        &[MemberSpec::new("i", int, 0), MemberSpec::new("p", ptr, 0)],
    );
    let e = b.add_enum("e", 4, true, &[("NEG", -1), ("ONE", 1)]);
    let e64 = b.add_enum64("e64", 8, false, &[("BIG", 1 << 40)]);
    let fwd = b.add_fwd("fwd_u", true);
    let td = b.add_typedef("s_t", s);
    let vol = b.add_modifier(Kind::Volatile, int);
    let cst = b.add_modifier(Kind::Const, vol);
    let rst = b.add_modifier(Kind::Restrict, ptr);
    let proto = b.add_func_proto(int, &[("x", int), ("", 0)]);
    let func = b.add_func("f", proto, Linkage::Global);
    let var = b.add_var("v", int, Linkage::Global);
    let sec = b.add_datasec(".data", 4, &[(var, 0, 4)]);
    let fl = b.add_float("double", 8);
    let tag = b.add_decl_tag("tag", func, -1);
    let ttag = b.add_type_tag("user", int);
    let btf = Btf::from_vec(b.build()).unwrap();
    btf.validate().unwrap();
    assert_eq!(btf.type_count(), ttag + 1);
    let t = |id| btf.type_by_id(id).unwrap();
    assert_eq!(
        (
            t(int).kind(),
            t(int).size(),
            t(int).int_bits(),
            t(int).int_encoding()
        ),
        (Kind::Int, 4, 32, INT_SIGNED)
    );
    assert_eq!(t(boolean).int_encoding(), INT_BOOL);
    assert_eq!(t(ptr).type_id(), Some(int));
    let a = t(arr).array().unwrap();
    assert_eq!((a.elem_type, a.index_type, a.nelems), (ch, int, 16));
    let names: Vec<_> = t(s)
        .members()
        .map(|m| (m.name().to_string(), m.type_id, m.bit_offset / 8))
        .collect();
    assert_eq!(
        names,
        [
            ("a".into(), int, 0),
            ("p".into(), ptr, 8),
            ("name".into(), arr, 16)
        ]
    );
    assert_eq!(t(u).kind(), Kind::Union);
    let vals: Vec<_> = t(e)
        .enumerators()
        .map(|e| (e.name().to_string(), e.value as i64))
        .collect();
    assert_eq!(vals, [("NEG".into(), -1), ("ONE".into(), 1)]);
    assert!(t(e).enum_signed());
    assert_eq!(t(e64).enumerators().next().unwrap().value, 1 << 40);
    assert!(t(fwd).fwd_is_union());
    assert_eq!(btf.skip_mods_and_typedefs(td).unwrap().id(), s);
    assert_eq!(btf.skip_mods(cst).unwrap().id(), int);
    assert_eq!(t(rst).kind(), Kind::Restrict);
    let params: Vec<_> = t(proto)
        .params()
        .map(|p| (p.name().to_string(), p.type_id))
        .collect();
    assert_eq!(params, [("x".into(), int), ("".into(), 0)]);
    assert_eq!(t(func).linkage(), Some(Linkage::Global));
    assert_eq!(t(var).linkage(), Some(Linkage::Global));
    assert_eq!(t(sec).datasec_vars().next().unwrap().type_id, var);
    assert_eq!((t(fl).kind(), t(fl).size()), (Kind::Float, 8));
    assert_eq!(t(tag).decl_tag_component(), Some(-1));
    assert_eq!(t(ttag).kind(), Kind::TypeTag);
    assert_eq!(btf.size_of(s).unwrap(), 24);
    assert_eq!(btf.size_of(arr).unwrap(), 16);
    assert_eq!(btf.size_of(td).unwrap(), 24);
    assert_eq!(btf.align_of(s).unwrap(), 8);
    assert_eq!(format!("{}", t(s).with_id()), format!("[{s}] struct s"));
    assert_eq!(format!("{}", t(ptr)), "ptr <anon>");
    assert!(btf.size_of(func).is_err(), "a function has no size");
}

#[test]
fn bitfields_use_the_kflag_encoding() {
    let mut b = BtfBuilder::new();
    let uint = b.add_int("unsigned int", 4, 0);
    let s = b.add_struct(
        "bits",
        4,
        &[
            MemberSpec::bitfield("a", uint, 0, 3),
            MemberSpec::bitfield("b", uint, 3, 5),
            MemberSpec::bitfield("c", uint, 8, 24),
        ],
    );
    let btf = Btf::from_vec(b.build()).unwrap();
    let t = btf.type_by_id(s).unwrap();
    assert!(t.kflag());
    let m: Vec<_> = t
        .members()
        .map(|m| (m.bit_offset, m.bitfield_size))
        .collect();
    assert_eq!(m, [(0, 3), (3, 5), (8, 24)]);
}

#[test]
fn packed_struct_has_alignment_one() {
    let mut b = BtfBuilder::new();
    let ch = b.add_int("char", 1, INT_SIGNED);
    let int = b.add_int("int", 4, INT_SIGNED);
    let s = b.add_struct(
        "packed",
        5,
        &[MemberSpec::new("c", ch, 0), MemberSpec::new("i", int, 1)],
    );
    let btf = Btf::from_vec(b.build()).unwrap();
    assert_eq!(btf.align_of(s).unwrap(), 1);
}

#[test]
fn index_finds_exact_names_and_flavors() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let a = b.add_struct("task", 4, &[MemberSpec::new("x", int, 0)]);
    let a_old = b.add_struct("task___old", 4, &[MemberSpec::new("y", int, 0)]);
    let a_td = b.add_typedef("task", a);
    let f = b.add_func_proto(int, &[]);
    let func = b.add_func("task", f, Linkage::Static);
    let weird = b.add_struct("a___b___c", 0, &[]);
    let btf = Btf::from_vec(b.build()).unwrap();
    assert_eq!(btf.find_by_name_kind("task", Kind::Struct), Some(a));
    assert_eq!(btf.find_by_name_kind("task", Kind::Typedef), Some(a_td));
    assert_eq!(btf.find_by_name_kind("task", Kind::Func), Some(func));
    assert_eq!(
        btf.find_by_name_kind("task___old", Kind::Struct),
        Some(a_old)
    );
    let mut all: Vec<u32> = btf.find_by_name("task").collect();
    all.sort();
    assert_eq!(all, [a, a_td, func]);
    let mut ess: Vec<u32> = btf.find_by_essential_name(b"task").collect();
    ess.sort();
    assert_eq!(ess, [a, a_old, a_td], "FUNCs are not CO-RE candidates");
    assert_eq!(
        btf.find_by_essential_name(b"a___b").collect::<Vec<_>>(),
        [weird]
    );
    assert_eq!(btf.find_by_name_kind("nope", Kind::Struct), None);
}

#[test]
fn split_btf_continues_ids_and_strings_after_its_base() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let base = Arc::new(Btf::from_vec(b.build()).unwrap());
    let mut s = BtfBuilder::new_split(&base);
    let m = s.add_struct("module_thing", 4, &[MemberSpec::new("v", int, 0)]);
    assert_eq!(m, base.type_count());
    let split = Btf::parse_split(&s.build(), base.clone()).unwrap();
    split.validate().unwrap();
    let t = split.type_by_id(m).unwrap();
    assert_eq!(t.name(), "module_thing");
    assert_eq!(
        split.type_by_id(int).unwrap().name(),
        "int",
        "base types are reachable"
    );
    assert_eq!(
        split.find_by_name_kind("module_thing", Kind::Struct),
        Some(m)
    );
    assert_eq!(split.find_by_name_kind("int", Kind::Int), Some(int));
    assert_eq!(split.size_of(m).unwrap(), 4);
}

#[test]
fn big_endian_blobs_parse() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let s = b.add_struct(
        "be",
        8,
        &[MemberSpec::new("a", int, 0), MemberSpec::new("b", int, 4)],
    );
    let le = b.build();
    // Byte-swap every 32-bit word of header and types, and the 16-bit magic.
    let mut be = le.clone();
    be[0..2].copy_from_slice(&u16::from_le_bytes([le[0], le[1]]).to_be_bytes());
    let types_end = 24 + u32::from_le_bytes(le[12..16].try_into().unwrap()) as usize;
    for off in (4..types_end).step_by(4) {
        let w = u32::from_le_bytes(le[off..off + 4].try_into().unwrap());
        be[off..off + 4].copy_from_slice(&w.to_be_bytes());
    }
    let btf = Btf::parse(&be).unwrap();
    assert_eq!(btf.endian(), corebpf_btf::Endian::Big);
    let t = btf.type_by_id(s).unwrap();
    assert_eq!(t.members().nth(1).unwrap().bit_offset, 32);
    assert_eq!(t.name(), "be");
}

/// A `.BTF.ext` blob: header then func_info, line_info and core_relo subsections.
fn ext_blob(func: &[u32], line: &[u32], core: &[u32]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut offs = Vec::new();
    for sub in [func, line, core] {
        offs.push((data.len() as u32, (sub.len() * 4) as u32));
        for w in sub {
            data.extend_from_slice(&w.to_le_bytes());
        }
    }
    let mut out = vec![0x9f, 0xeb, 1, 0];
    out.extend_from_slice(&32u32.to_le_bytes());
    for (o, l) in offs {
        out.extend_from_slice(&o.to_le_bytes());
        out.extend_from_slice(&l.to_le_bytes());
    }
    out.extend_from_slice(&data);
    out
}

#[test]
fn btf_ext_records_decode() {
    let mut b = BtfBuilder::new();
    let sec = b.add_string("kprobe/x");
    let file = b.add_string("x.bpf.c");
    let line = b.add_string("return 0;");
    let acc = b.add_string("0:1");
    let int = b.add_int("int", 4, INT_SIGNED);
    let btf = Btf::from_vec(b.build()).unwrap();
    let ext = ext_blob(
        &[8, sec, 1, 0, int],
        &[
            16,
            sec,
            2,
            0,
            file,
            line,
            7 << 10 | 3,
            8,
            file,
            line,
            9 << 10,
        ],
        &[16, sec, 1, 16, int, acc, 0],
    );
    let e = BtfExt::parse(&ext, &btf).unwrap();
    assert_eq!(e.func_info_of("kprobe/x")[0].type_id, int);
    let li = e.line_info_of("kprobe/x");
    assert_eq!((li[0].line(), li[0].col(), li[1].insn_idx()), (7, 3, 1));
    let cr = e.core_relos_of("kprobe/x")[0];
    assert_eq!(
        (
            cr.insn_idx(),
            cr.type_id,
            btf.str_at(cr.access_str_off).unwrap()
        ),
        (2, int, "0:1")
    );
    assert_eq!(cr.kind(), Some(corebpf_btf::CoreReloKind::FieldByteOffset));
}
