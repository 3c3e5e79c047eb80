//! struct_ops maps: what the object declares (maps, slots, `?` sections), malformed
//! declarations, the value laid out for real kernels' BTF (5.10 to 7.2, from testdata), and
//! user-space changes before load.

mod common;

use std::io::Read;

use common::{parse, path, CLANGS};
use corebpf_abi::consts::BPF_F_LINK;
use corebpf_btf::Btf;
use corebpf_obj::struct_ops::kern::{kern_struct_ops, KernOpsTypes};
use corebpf_obj::{MapKind, Object, ObjectSpec};

/// A kernel's BTF from `testdata/btf/<version>.btf.gz`.
fn kernel_btf(version: &str) -> Btf {
    let p = path("", "")
        .join("../../btf")
        .join(format!("{version}.btf.gz"));
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    Btf::from_vec(raw).unwrap()
}

fn slots(spec: &ObjectSpec, map: &str) -> Vec<(String, String)> {
    let mut v: Vec<_> = spec
        .map(map)
        .unwrap()
        .struct_ops_slots
        .iter()
        .map(|s| (s.member.clone(), spec.programs[s.program].name.clone()))
        .collect();
    v.sort();
    v
}

#[test]
fn maps_slots_and_sections() {
    for clang in CLANGS {
        let spec = parse(clang, "struct_ops_cc_link");
        for name in ["ccl_one", "ccl_two"] {
            let m = spec.map(name).unwrap();
            assert_eq!(m.kind, MapKind::StructOps);
            assert_eq!(m.map_flags, BPF_F_LINK, "{name}: .struct_ops.link");
            assert!(m.autocreate);
        }
        let avoid = |map| {
            slots(&spec, map)
                .into_iter()
                .find(|(m, _)| m == "cong_avoid")
                .unwrap()
                .1
        };
        assert_eq!(avoid("ccl_one"), "cc_cong_avoid");
        assert_eq!(avoid("ccl_two"), "cc_cong_avoid_two");
        let spec = parse(clang, "struct_ops_unused");
        let (main, opt) = (
            spec.map("cc_main").unwrap(),
            spec.map("cc_optional").unwrap(),
        );
        assert!(main.autocreate && main.map_flags == 0);
        assert!(
            !opt.autocreate,
            "SEC(\"?.struct_ops\") is not created by default"
        );
        assert_eq!(slots(&spec, "cc_optional")[1].1, "cc_optional_init");
    }
}

#[test]
fn malformed_declarations_name_map_and_member() {
    for clang in CLANGS {
        let e = Object::from_file(path(clang, "bad_struct_ops_prog.bpf.o")).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("map 'cc_bad'")
                && text.contains("member 'init'")
                && text.contains("'not_struct_ops'")
                && text.contains("is not a struct_ops program"),
            "{text}"
        );
        let e = Object::from_file(path(clang, "bad_struct_ops_sub.bpf.o")).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("map 'cc_bad_sub'")
                && text.contains("member 'init'")
                && text.contains("'helper' is not a program"),
            "{text}"
        );
    }
}

/// A struct_ops section cut short: the value runs past it.
#[test]
fn truncated_section_is_a_typed_error() {
    let mut bytes = std::fs::read(path("clang19", "struct_ops_cc.bpf.o")).unwrap();
    let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(bytes[0x3c..0x3e].try_into().unwrap()) as usize;
    let shstrndx = u16::from_le_bytes(bytes[0x3e..0x40].try_into().unwrap()) as usize;
    let sh = |i: usize| shoff + i * 64;
    let strtab = u64::from_le_bytes(
        bytes[sh(shstrndx) + 24..sh(shstrndx) + 32]
            .try_into()
            .unwrap(),
    ) as usize;
    let idx = (0..shnum)
        .find(|&i| {
            let name = u32::from_le_bytes(bytes[sh(i)..sh(i) + 4].try_into().unwrap()) as usize;
            bytes[strtab + name..].starts_with(b".struct_ops\0")
        })
        .unwrap();
    // sh_size = 16: the 64-byte tcp_congestion_ops no longer fits.
    bytes[sh(idx) + 32..sh(idx) + 40].copy_from_slice(&16u64.to_le_bytes());
    let e = Object::parse_named(&bytes, "x").unwrap_err().to_string();
    assert!(
        e.contains("corebpf_cc") && e.contains("outside the section"),
        "{e}"
    );
}

#[test]
fn laid_out_for_each_kernel() {
    let spec = parse("clang19", "struct_ops_cc");
    let btf = spec.btf.as_deref().unwrap();
    let m = spec.map("corebpf_cc").unwrap();
    for v in ["5.10", "6.1", "6.12", "7.2"] {
        let kern = kernel_btf(v);
        let types = KernOpsTypes::find(&kern, "tcp_congestion_ops")
            .unwrap()
            .unwrap_or_else(|| panic!("{v}: no bpf_struct_ops_tcp_congestion_ops"));
        let out = kern_struct_ops(m, btf, &spec.programs, &kern, &types, v).unwrap();
        assert_eq!(out.value.len() as u32, types.value_size);
        let mut funcs: Vec<_> = out
            .funcs
            .iter()
            .map(|f| (f.member.as_str(), spec.programs[f.program].name.as_str()))
            .collect();
        funcs.sort();
        assert_eq!(
            funcs,
            [
                ("cong_avoid", "cc_cong_avoid"),
                ("init", "cc_init"),
                ("ssthresh", "cc_ssthresh"),
                ("undo_cwnd", "cc_undo_cwnd")
            ],
            "{v}"
        );
        // Each program's member index is its position in the kernel's struct.
        let kt = kern.type_by_id(types.type_id).unwrap();
        for f in &out.funcs {
            assert_eq!(kt.member(f.member_index).unwrap().name(), f.member, "{v}");
        }
        // The name landed at the kernel's offset of `name`.
        let name_off = kt
            .members()
            .find(|mm| mm.name() == "name")
            .unwrap()
            .bit_offset
            / 8;
        let at = (types.data_offset + name_off) as usize;
        assert_eq!(&out.value[at..at + 11], b"corebpf_cc\0", "{v}");
        assert!(out.dropped.is_empty(), "corebpf_future_op is NULL: skipped");
    }
}

#[test]
fn member_missing_in_kernel_set_is_an_error_naming_it() {
    let mut spec = parse("clang19", "struct_ops_cc");
    let p = spec.program_index("cc_init");
    spec.set_struct_ops_program("corebpf_cc", "corebpf_future_op", p)
        .unwrap();
    let kern = kernel_btf("6.12");
    let types = KernOpsTypes::find(&kern, "tcp_congestion_ops")
        .unwrap()
        .unwrap();
    let btf = spec.btf.clone().unwrap();
    let m = spec.map("corebpf_cc").unwrap();
    let e = kern_struct_ops(m, &btf, &spec.programs, &kern, &types, "Linux 6.12")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("corebpf_cc")
            && e.contains("member 'corebpf_future_op'")
            && e.contains("struct tcp_congestion_ops of Linux 6.12 has no such member"),
        "{e}"
    );
    // Back to NULL: fine again.
    spec.set_struct_ops_program("corebpf_cc", "corebpf_future_op", None)
        .unwrap();
    let m = spec.map("corebpf_cc").unwrap();
    kern_struct_ops(m, &btf, &spec.programs, &kern, &types, "Linux 6.12").unwrap();
}

#[test]
fn user_space_changes_before_load() {
    let mut spec = parse("clang19", "struct_ops_cc");
    let name = spec.struct_ops_data_mut("corebpf_cc", "name").unwrap();
    assert_eq!(&name[..11], b"corebpf_cc\0");
    name.fill(0);
    name[..6].copy_from_slice(b"cc_two");
    spec.struct_ops_data_mut("corebpf_cc", "flags")
        .unwrap()
        .copy_from_slice(&1u32.to_ne_bytes());
    // Function pointers are set as programs, not bytes; unknown members are errors.
    let e = spec.struct_ops_data_mut("corebpf_cc", "init").unwrap_err();
    assert!(e.to_string().contains("function pointer"), "{e}");
    let e = spec.struct_ops_data_mut("corebpf_cc", "nope").unwrap_err();
    assert!(e.to_string().contains("member 'nope'"), "{e}");
    let undo = spec.program_index("cc_undo_cwnd");
    spec.set_struct_ops_program("corebpf_cc", "init", undo)
        .unwrap();
    assert_eq!(spec.struct_ops_program("corebpf_cc", "init").unwrap(), undo);
    let kern = kernel_btf("7.2");
    let types = KernOpsTypes::find(&kern, "tcp_congestion_ops")
        .unwrap()
        .unwrap();
    let m = spec.map("corebpf_cc").unwrap();
    let btf = spec.btf.as_deref().unwrap();
    let out = kern_struct_ops(m, btf, &spec.programs, &kern, &types, "7.2").unwrap();
    let kt = kern.type_by_id(types.type_id).unwrap();
    let off = |n: &str| {
        (types.data_offset + kt.members().find(|mm| mm.name() == n).unwrap().bit_offset / 8)
            as usize
    };
    assert_eq!(&out.value[off("name")..off("name") + 7], b"cc_two\0");
    assert_eq!(
        &out.value[off("flags")..off("flags") + 4],
        &1u32.to_ne_bytes()
    );
    let init = out.funcs.iter().find(|f| f.member == "init").unwrap();
    assert_eq!(Some(init.program), undo);
}

/// The sched_ext scheduler against a kernel with sched_ext (7.2) and against one without
/// (6.12: no `bpf_struct_ops_sched_ext_ops`).
#[test]
fn sched_ext_laid_out_for_7_2() {
    for clang in CLANGS {
        let spec = parse(clang, "sched_ext_minimal");
        let m = spec.map("minimal_ops").unwrap();
        assert_eq!(m.map_flags, BPF_F_LINK);
        let kern = kernel_btf("7.2");
        let types = KernOpsTypes::find(&kern, "sched_ext_ops").unwrap().unwrap();
        let btf = spec.btf.as_deref().unwrap();
        let out = kern_struct_ops(m, btf, &spec.programs, &kern, &types, "7.2").unwrap();
        let members: Vec<_> = out.funcs.iter().map(|f| f.member.as_str()).collect();
        assert_eq!(members, ["enqueue", "running", "exit"]);
        let kt = kern.type_by_id(types.type_id).unwrap();
        let name = kt.members().find(|mm| mm.name() == "name").unwrap();
        let at = (types.data_offset + name.bit_offset / 8) as usize;
        assert_eq!(&out.value[at..at + 16], b"corebpf_minimal\0");
        assert!(KernOpsTypes::find(&kernel_btf("6.12"), "sched_ext_ops")
            .unwrap()
            .is_none());
    }
}
