//! `.kconfig` and `.ksyms` externs: collection, resolution with injected sources, linking.

mod common;

use common::{parse, CLANGS};
use corebpf_btf::{Btf, BtfBuilder, Linkage, INT_SIGNED};
use corebpf_obj::insn::pseudo;
use corebpf_obj::{
    ExternKind, ExternValue, KconfigType, KernelConfig, KsymKind, MapKind, MapRelocKind, ObjError,
    POISON_CALL_KFUNC_BASE,
};

const CONFIG: &str = "CONFIG_BPF_SYSCALL=y\nCONFIG_HZ=250\nCONFIG_BPF_LSM=y\n# CONFIG_NET_SCH_SFQ is not set\nCONFIG_DEFAULT_HOSTNAME=\"(none)\"\n";

#[test]
fn kconfig_externs() {
    for clang in CLANGS {
        let mut spec = parse(clang, "obj_externs_kconfig");
        let kinds: Vec<_> = spec
            .externs
            .iter()
            .map(|e| match e.kind {
                ExternKind::Kconfig { ty, size, .. } => (e.name.as_str(), ty, size, e.weak),
                ExternKind::Ksym(_) => panic!("ksym"),
            })
            .collect();
        let int = KconfigType::Int { signed: true };
        let mut want = vec![
            ("LINUX_KERNEL_VERSION", int, 4, false),
            ("CONFIG_BPF_SYSCALL", KconfigType::Bool, 1, false),
            ("CONFIG_HZ", int, 4, true),
            ("CONFIG_BPF_LSM", KconfigType::Tristate, 4, true),
            ("CONFIG_NET_SCH_SFQ", KconfigType::Tristate, 4, true),
            ("CONFIG_DEFAULT_HOSTNAME", KconfigType::CharArray, 16, true),
            ("CONFIG_COREBPF_DOES_NOT_EXIST", int, 4, true),
        ];
        let mut got = kinds.clone();
        got.sort_by_key(|k| k.0);
        want.sort_by_key(|k| k.0);
        assert_eq!(got, want, "{clang}");
        let m = spec
            .maps
            .iter()
            .find(|m| m.kind == MapKind::Kconfig)
            .unwrap();
        assert_eq!(m.name, "obj_ext.kconfig");
        assert_eq!((m.value_size, m.max_entries, m.freeze), (37, 1, true));

        let cfg = KernelConfig::from_text(CONFIG).with_kernel_version(0x061200);
        spec.resolve_kconfig(&cfg).unwrap();
        let data = spec
            .maps
            .iter()
            .find(|m| m.kind == MapKind::Kconfig)
            .unwrap()
            .data
            .clone()
            .unwrap();
        let val = |name: &str| {
            let e = spec.externs.iter().find(|e| e.name == name).unwrap();
            let ExternKind::Kconfig { data_off, size, .. } = e.kind else {
                unreachable!()
            };
            data[data_off as usize..(data_off + size) as usize].to_vec()
        };
        assert_eq!(val("LINUX_KERNEL_VERSION"), 0x061200u32.to_le_bytes());
        assert_eq!(val("CONFIG_BPF_SYSCALL"), [1]);
        assert_eq!(val("CONFIG_HZ"), 250u32.to_le_bytes());
        assert_eq!(val("CONFIG_BPF_LSM"), 1u32.to_le_bytes());
        assert_eq!(val("CONFIG_NET_SCH_SFQ"), [0; 4]);
        assert_eq!(val("CONFIG_COREBPF_DOES_NOT_EXIST"), [0; 4]);
        assert_eq!(&val("CONFIG_DEFAULT_HOSTNAME")[..7], b"(none)\0");
        let missing = spec
            .externs
            .iter()
            .find(|e| e.name == "CONFIG_COREBPF_DOES_NOT_EXIST")
            .unwrap();
        assert_eq!(missing.resolved, Some(ExternValue::Missing));

        // Each extern access reads the .kconfig map at the extern's offset.
        let l = spec.link_program_by_name("kconfig_read").unwrap();
        let kcfg = spec
            .maps
            .iter()
            .position(|m| m.kind == MapKind::Kconfig)
            .unwrap();
        let mut offs: Vec<u32> = l
            .map_relocs
            .iter()
            .filter(|r| r.map == kcfg)
            .map(|r| match r.kind {
                MapRelocKind::Value { offset } => offset,
                MapRelocKind::Fd => panic!(),
            })
            .collect();
        offs.sort();
        offs.dedup();
        let mut want: Vec<u32> = spec
            .externs
            .iter()
            .map(|e| match e.kind {
                ExternKind::Kconfig { data_off, .. } => data_off,
                _ => unreachable!(),
            })
            .collect();
        want.sort();
        assert_eq!(offs, want, "{clang}");

        // The BTF's .kconfig DATASEC now matches the map layout, with allocated VARs.
        let btf = spec.btf.as_ref().unwrap();
        let ds = btf
            .type_by_id(
                btf.find_by_name_kind(".kconfig", corebpf_btf::Kind::Datasec)
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(ds.size(), 37);
        for v in ds.datasec_vars() {
            let var = btf.type_by_id(v.type_id).unwrap();
            assert_eq!(var.linkage(), Some(Linkage::Global));
        }
    }
}

#[test]
fn kconfig_missing_non_weak_is_an_error() {
    for clang in CLANGS {
        let mut spec = parse(clang, "obj_externs_kconfig");
        let cfg = KernelConfig::from_text(CONFIG); // no kernel version
        match spec.resolve_kconfig(&cfg) {
            Err(ObjError::Extern { name, .. }) => assert_eq!(name, "LINUX_KERNEL_VERSION"),
            r => panic!("{r:?}"),
        }
        let cfg = KernelConfig::from_text("CONFIG_HZ=100\n").with_kernel_version(1);
        match spec.resolve_kconfig(&cfg) {
            Err(ObjError::Extern { name, .. }) => assert_eq!(name, "CONFIG_BPF_SYSCALL"),
            r => panic!("{r:?}"),
        }
    }
}

/// A tiny "vmlinux" with the symbols obj_externs_ksyms needs.
fn fake_vmlinux() -> Btf {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let rq = b.add_struct(
        "rq",
        8,
        &[corebpf_btf::MemberSpec::new("nr_running", int, 4)],
    );
    let _ = b.add_var("runqueues", rq, Linkage::Global);
    // The kfuncs' prototypes must match the object's (libbpf checks them).
    let task = b.add_struct("task_struct", 8, &[]);
    let task_ptr = b.add_ptr(task);
    let acquire = b.add_func_proto(task_ptr, &[("p", task_ptr)]);
    let release = b.add_func_proto(0, &[("p", task_ptr)]);
    b.add_func("bpf_task_acquire", acquire, Linkage::Global);
    b.add_func("bpf_task_release", release, Linkage::Global);
    Btf::from_vec(b.build()).unwrap()
}

#[test]
fn ksym_externs() {
    for clang in CLANGS {
        let mut spec = parse(clang, "obj_externs_ksyms");
        let mut got: Vec<_> = spec
            .externs
            .iter()
            .map(|e| {
                let k = match e.kind {
                    ExternKind::Ksym(KsymKind::Var { .. }) => "var",
                    ExternKind::Ksym(KsymKind::Typeless) => "typeless",
                    ExternKind::Ksym(KsymKind::Func { .. }) => "func",
                    ExternKind::Kconfig { .. } => "kconfig",
                };
                (e.name.as_str(), k, e.weak)
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("_stext", "typeless", false),
                ("bpf_task_acquire", "func", false),
                ("bpf_task_release", "func", false),
                ("corebpf_no_such_kfunc", "func", true),
                ("runqueues", "var", false),
            ],
            "{clang}"
        );
        let vmlinux = fake_vmlinux();
        spec.resolve_ksyms(&vmlinux, Some("ffffffff81000000 T _stext\n"))
            .unwrap();
        let idx = |n: &str| spec.externs.iter().position(|e| e.name == n).unwrap();

        let l = spec.link_program_by_name("ksym_vars").unwrap();
        let at = |ext: usize| {
            l.extern_relocs
                .iter()
                .find(|r| r.ext == ext)
                .unwrap()
                .insn_idx
        };
        let rq = l.insns[at(idx("runqueues"))];
        assert_eq!(
            (rq.src, rq.imm as u32),
            (
                pseudo::BTF_ID,
                vmlinux
                    .find_by_name_kind("runqueues", corebpf_btf::Kind::Var)
                    .unwrap()
            )
        );
        let i = at(idx("_stext"));
        assert_eq!(
            (
                l.insns[i].src,
                l.insns[i].imm as u32,
                l.insns[i + 1].imm as u32
            ),
            (0, 0x81000000, 0xffffffff)
        );

        let l = spec.link_program_by_name("ksym_kfunc").unwrap();
        let calls: Vec<_> = l.extern_relocs.iter().filter(|r| r.call).collect();
        assert_eq!(calls.len(), 3);
        for r in calls {
            let insn = l.insns[r.insn_idx];
            let name = &spec.externs[r.ext].name;
            if name == "corebpf_no_such_kfunc" {
                assert_eq!(
                    (insn.src, insn.imm),
                    (0, POISON_CALL_KFUNC_BASE + r.ext as i32)
                );
            } else {
                let id = vmlinux
                    .find_by_name_kind(name, corebpf_btf::Kind::Func)
                    .unwrap();
                assert_eq!(
                    (insn.src, insn.imm as u32),
                    (pseudo::KFUNC_CALL, id),
                    "{name}"
                );
            }
        }
        // &corebpf_no_such_kfunc (weak, missing) loads 0.
        let r = l.extern_relocs.iter().find(|r| !r.call).unwrap();
        assert_eq!(
            (l.insns[r.insn_idx].imm, l.insns[r.insn_idx + 1].imm),
            (0, 0)
        );

        // .ksyms DATASEC fixed up: 4-byte entries, no extern linkage left.
        let btf = spec.btf.as_ref().unwrap();
        let ds = btf
            .type_by_id(
                btf.find_by_name_kind(".ksyms", corebpf_btf::Kind::Datasec)
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(ds.size(), 4 * ds.vlen());
        for v in ds.datasec_vars() {
            assert_eq!(v.size, 4);
            assert_eq!(
                btf.type_by_id(v.type_id).unwrap().linkage(),
                Some(Linkage::Global)
            );
        }
    }
}

#[test]
fn ksym_missing_non_weak_is_an_error() {
    let mut spec = parse("clang19", "obj_externs_ksyms");
    let empty = Btf::from_vec(BtfBuilder::new().build()).unwrap();
    match spec.resolve_ksyms(&empty, Some("")) {
        Err(ObjError::Extern { name, .. }) => assert!([
            "_stext",
            "bpf_task_acquire",
            "bpf_task_release",
            "runqueues"
        ]
        .contains(&name.as_str())),
        r => panic!("{r:?}"),
    }
}
