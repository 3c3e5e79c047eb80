//! Kernel symbols in modules' BTF (`testdata/bpf/obj/obj_module_btf.bpf.c`): kfuncs of
//! nf_conntrack (calls through `fd_array`), the per-CPU variable `xt_recseq` of x_tables (a
//! BTF-id `ld_imm64` with the module's BTF fd), fentry/fexit on veth's `veth_xmit`
//! (`attach_btf_obj_fd`, also as `veth:veth_xmit`).
//!
//! Each test finds where the symbol is on the running kernel (vmlinux, a module, nowhere) and
//! checks what corebpf does there: the program loads and runs (a test run or a real trigger,
//! result checked), or the error names the symbol (and the module). In the QEMU guests of
//! `cargo xtask vm-test` (6.1, 6.12: Debian builds these as modules, and the harness loads
//! them) the module path is required; on a host that builds them in, vmlinux serves.

use std::path::PathBuf;
use std::process::Command;

use corebpf::btf::Kind;
use corebpf::{Object, ObjectBuilder, TestRun};

fn object() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
        .join("bpf/out/clang19/obj_module_btf.bpf.o")
}

/// Where the running kernel has a symbol.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    Vmlinux,
    Module(String),
    Nowhere,
}

fn place(name: &str, kind: Kind) -> Place {
    let vmlinux = corebpf::kernel_btf().unwrap();
    if vmlinux.find_by_name_kind(name, kind).is_some() {
        return Place::Vmlinux;
    }
    corebpf::kernel_module_btfs(&vmlinux)
        .into_iter()
        .find(|m| m.btf.find_by_name_kind(name, kind).is_some())
        .map_or(Place::Nowhere, |m| Place::Module(m.name))
}

/// In a guest of `cargo xtask vm-test` on a kernel with module BTF (5.11+): the harness loaded
/// veth, nf_conntrack and x_tables, so their symbols must come from module BTF.
fn guest_with_module_btf() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    std::env::var("COREBPF_VM").is_ok_and(|v| v == "1") && (major, minor) >= (5, 11)
}

/// `name`'s place, which in a guest with module BTF (6.1, 6.12: every one of these symbols
/// exists there) must be `module`, loaded by the harness.
fn expect_place(name: &str, kind: Kind, module: &str) -> Place {
    let p = place(name, kind);
    eprintln!("{name}: {p:?}");
    if guest_with_module_btf() {
        assert_eq!(
            p,
            Place::Module(module.into()),
            "{name}: module not loaded?"
        );
    }
    p
}

fn load(prog: &str) -> corebpf::Result<Object> {
    let mut open = ObjectBuilder::new().open_file(object())?;
    open.load_only(&[prog])?;
    open.load()
}

fn read_u32(obj: &Object, name: &str) -> u32 {
    u32::from_ne_bytes(obj.read_global(name).unwrap().try_into().unwrap())
}

fn read_u64(obj: &Object, name: &str) -> u64 {
    u64::from_ne_bytes(obj.read_global(name).unwrap().try_into().unwrap())
}

fn xdp_run(obj: &Object, prog: &str) -> u32 {
    let packet = [0u8; 64];
    let out = obj
        .program(prog)
        .unwrap()
        .test_run(&TestRun {
            data: &packet,
            repeat: 1,
            ..Default::default()
        })
        .unwrap();
    out.retval
}

const XDP_PASS: u32 = 2;

/// The tests, in a module so that `cargo xtask vm-test -- module_btf` selects them.
mod module_btf {
    use super::*;

    #[test]
    fn conntrack_kfuncs_run() {
        let p = expect_place("bpf_xdp_ct_lookup", Kind::Func, "nf_conntrack");
        if p == Place::Nowhere {
            // Before 5.18, or nf_conntrack not loaded: the error names a conntrack kfunc
            // (the first missing one; 5.10 has neither).
            let e = load("ct_lookup").unwrap_err().to_string();
            assert!(
                e.contains("extern 'bpf_xdp_ct_lookup'") || e.contains("extern 'bpf_ct_release'"),
                "{e}"
            );
            assert!(e.contains("not found in kernel or module BTFs"), "{e}");
            return;
        }
        let obj = load("ct_lookup").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(xdp_run(&obj, "ct_lookup"), XDP_PASS);
        // No conntrack entry for the tuple: the kfunc ran and said so.
        assert_eq!(read_u32(&obj, "ct_error") as i32, -ENOENT);
    }

    const ENOENT: i32 = 2;

    #[test]
    fn module_percpu_variable_reads() {
        let p = expect_place("xt_recseq", Kind::Var, "x_tables");
        let loaded = load("recseq");
        let in_kallsyms = std::fs::read_to_string("/proc/kallsyms")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some("xt_recseq"));
        match (p, loaded) {
            (Place::Nowhere, Err(e)) => {
                let e = e.to_string();
                assert!(e.contains("extern 'xt_recseq'"), "{e}");
                assert!(e.contains("not found in kernel BTF"), "{e}");
            }
            (Place::Vmlinux, Err(e)) if !in_kallsyms => {
                // Built in, but a kernel without CONFIG_KALLSYMS_ALL has no address for it: the
                // verifier says which symbol.
                let e = e.to_string();
                assert!(e.contains("xt_recseq"), "{e}");
            }
            (_, Ok(obj)) => {
                // A raw_tp test run takes no data and no repeat count.
                let out = obj
                    .program("recseq")
                    .unwrap()
                    .test_run(&TestRun::default())
                    .unwrap();
                assert_eq!(out.retval, 0, "bpf_probe_read_kernel failed");
                let seen = read_u32(&obj, "recseq_seen");
                assert_eq!(seen % 2, 1, "sequence + 1 of an idle seqcount: {seen}");
            }
            (p, Err(e)) => panic!("xt_recseq in {p:?}: {e}"),
        }
    }

    /// Sends packets out of a fresh veth pair (in a network namespace of its own): each ARP
    /// request for the peer's address goes through `veth_xmit`.
    fn veth_traffic() {
        let ip = if std::path::Path::new("/usr/sbin/ip").exists() {
            "/usr/sbin/ip"
        } else {
            "ip"
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                for args in [
                    &["link", "add", "mbA", "type", "veth", "peer", "name", "mbB"][..],
                    &["addr", "add", "10.78.0.1/24", "dev", "mbA"],
                    &["link", "set", "mbA", "up"],
                    &["link", "set", "mbB", "up"],
                ] {
                    let out = Command::new(ip).args(args).output().unwrap();
                    assert!(out.status.success(), "ip {args:?}: {out:?}");
                }
                let sock = std::net::UdpSocket::bind("10.78.0.1:0").unwrap();
                for _ in 0..5 {
                    let _ = sock.send_to(b"to veth", "10.78.0.2:9");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            })
            .join()
            .unwrap();
        });
    }

    /// A tracing program on `veth_xmit`: it loads with the module's BTF, attaches, and counts
    /// the calls of real veth traffic in `counter`; or the load fails clearly.
    fn trace_veth_xmit(prog: &str, counter: &str) {
        let obj = match load(prog) {
            Ok(obj) => obj,
            Err(e) if e.is_permission() => {
                // Lockdown refuses fentry-type loads on some kernels (never in the guests).
                assert!(!guest_with_module_btf(), "{prog}: {e}");
                eprintln!("{prog}: this kernel refuses the load: {e}");
                return;
            }
            Err(e) => panic!("{prog}: {e}"),
        };
        let link = obj.program(prog).unwrap().attach_tracing().unwrap();
        veth_traffic();
        let n = read_u64(&obj, counter);
        drop(link);
        eprintln!("{prog}: {n} calls");
        assert!(n > 0, "{prog} saw no veth_xmit");
    }

    #[test]
    fn fentry_on_a_module_function() {
        match expect_place("veth_xmit", Kind::Func, "veth") {
            Place::Nowhere => {
                let e = load("on_veth_xmit").unwrap_err().to_string();
                assert!(e.contains("program 'on_veth_xmit'"), "{e}");
                assert!(
                    e.contains("attach target 'veth_xmit' not found in the kernel's BTF"),
                    "{e}"
                );
            }
            _ => trace_veth_xmit("on_veth_xmit", "xmit_calls"),
        }
    }

    #[test]
    fn fexit_on_a_target_named_with_its_module() {
        // `fexit/veth:veth_xmit` looks only in modules named veth*: where veth is built in (or
        // not loaded), the error names the module and the target.
        match expect_place("veth_xmit", Kind::Func, "veth") {
            Place::Module(_) => trace_veth_xmit("after_veth_xmit", "xmit_exits"),
            _ => {
                let e = load("after_veth_xmit").unwrap_err().to_string();
                eprintln!("{e}");
                assert!(e.contains("program 'after_veth_xmit'"), "{e}");
                assert!(e.contains("attach target 'veth:veth_xmit'"), "{e}");
                assert!(e.contains("no loaded module 'veth' has BTF"), "{e}");
            }
        }
    }

    #[test]
    fn dry_run_patches_module_references() {
        // What `corebpf relocate --dump` shows for the running kernel: a kfunc call in a module
        // has the module's fd_array index in `off` (1: nf_conntrack is the first module of a
        // kfunc), a BTF-id ld_imm64 of a module symbol the module's BTF object id in its second
        // half; vmlinux references have 0 in both.
        use corebpf::obj::{ExternValue, KsymOutcome, KsymTarget};
        let mut spec = corebpf::obj::Object::from_file(object()).unwrap();
        let vmlinux = corebpf::kernel_btf().unwrap();
        let mut target = KsymTarget::new(&vmlinux)
            .with_modules(|| corebpf::kernel_module_btfs(&vmlinux))
            .with_running_kallsyms();
        let ids: std::collections::HashMap<String, u32> =
            corebpf::module_btf_objects().into_iter().collect();
        let mut want = std::collections::HashMap::new();
        for r in spec.resolve_ksyms_all(&mut target) {
            let e = &spec.externs[r.ext];
            let kind = if e.name == "xt_recseq" {
                Kind::Var
            } else {
                Kind::Func
            };
            let (off, imm2) = match (place(&e.name, kind), &r.outcome) {
                (Place::Nowhere, KsymOutcome::Failed(_)) => continue,
                (
                    Place::Vmlinux,
                    KsymOutcome::Resolved(ExternValue::KsymBtf { module: None, .. }),
                ) => (0, 0),
                (
                    Place::Module(m),
                    KsymOutcome::Resolved(ExternValue::KsymBtf {
                        module: Some(km), ..
                    }),
                ) => {
                    assert_eq!(km.name, m);
                    assert_eq!(Some(&km.btf_obj_id), ids.get(&m), "{m}");
                    let idx = if kind == Kind::Func { 1 } else { 0 };
                    assert_eq!(km.fd_array_idx, idx, "{}", e.name);
                    (idx, km.btf_obj_id as i32)
                }
                (p, o) => panic!("{}: {p:?} but {o:?}", e.name),
            };
            want.insert(r.ext, (off, imm2));
        }
        let mut checked = 0;
        for prog in ["ct_lookup", "recseq"] {
            let linked = spec.link_program_by_name(prog).unwrap();
            for r in &linked.extern_relocs {
                let Some(&(off, imm2)) = want.get(&r.ext) else {
                    continue;
                };
                let insn = linked.insns[r.insn_idx];
                if r.call {
                    assert_eq!(insn.off, off, "{prog}: {}", spec.externs[r.ext].name);
                } else {
                    assert_eq!(linked.insns[r.insn_idx + 1].imm, imm2, "{prog}");
                }
                checked += 1;
            }
        }
        eprintln!("{checked} extern references checked");
        if guest_with_module_btf() {
            assert_eq!(checked, 3);
        }
    }
}
