//! `corebpf::compat`: what the testdata objects need, checked against the BTF of 5.10, 6.1,
//! 6.12 and 7.2 (known facts about those kernels), and against reality: on the running
//! kernel (this host, and the 5.10/6.1/6.12 guests of `cargo xtask vm-test`), every program
//! is loaded alone and the outcome compared with what compat predicted from
//! `/sys/kernel/btf/vmlinux`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use corebpf::btf::Btf;
use corebpf::compat::{self, Category, Kernel, ProgVerdict, Report, Status, Verdict};
use corebpf::obj::ObjectSpec;

fn testdata() -> PathBuf {
    match std::env::var_os("COREBPF_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata"),
    }
}

fn object(name: &str) -> ObjectSpec {
    let p = testdata().join("bpf/out/clang19").join(name);
    corebpf::obj::Object::from_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn kernel(v: &str) -> Kernel {
    let path = testdata().join(format!("btf/{v}.btf.gz"));
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()),
        &mut raw,
    )
    .unwrap();
    Kernel::from_btf(v, Arc::new(Btf::from_vec(raw).unwrap()))
}

/// Checks `obj` against each of `versions`.
fn reports(obj: &str, versions: &[&str]) -> Vec<Report> {
    let spec = object(obj);
    versions
        .iter()
        .map(|v| compat::check(&spec, &kernel(v)))
        .collect()
}

const ALL: &[&str] = &["5.10", "6.1", "6.12", "7.2"];

fn need<'r>(r: &'r Report, cat: Category, name: &str) -> &'r Status {
    &r.needs
        .iter()
        .find(|n| n.category == cat && n.name == name)
        .unwrap_or_else(|| {
            panic!(
                "{}: no need {} {name}: {:#?}",
                r.kernel,
                cat.name(),
                r.needs
            )
        })
        .status
}

fn verdict(r: &Report, prog: &str) -> ProgVerdict {
    r.program(prog)
        .unwrap_or_else(|| panic!("no program {prog}"))
        .verdict
}

#[test]
fn fsession_needs_7_0_and_netkit_attaches_from_6_7() {
    let rs = reports("obj_sec_names_17.bpf.o", ALL);
    for r in &rs {
        let has_fsession = r.kernel == "7.2";
        assert_eq!(
            matches!(
                need(r, Category::AttachType, "BPF_TRACE_FSESSION"),
                Status::Yes(_)
            ),
            has_fsession,
            "{}",
            r.kernel
        );
        let want = if has_fsession {
            ProgVerdict::Loads
        } else {
            ProgVerdict::Fails
        };
        assert_eq!(verdict(r, "p_fsession"), want, "{}", r.kernel);
        // sched_cls programs keep their attach type for attaching only: netkit ones load
        // everywhere (the 6.1 guest loads them) and attach from 6.7.
        let netkit = matches!(r.kernel.as_str(), "6.12" | "7.2");
        let want = if netkit {
            ProgVerdict::Loads
        } else {
            ProgVerdict::AttachFails
        };
        assert_eq!(verdict(r, "p_netkit_primary"), want, "{}", r.kernel);
        assert_eq!(verdict(r, "p_netkit_peer"), want, "{}", r.kernel);
    }
    let fsession = rs[2].program("p_fsession").unwrap();
    assert!(
        fsession.reasons[0].contains("BPF_TRACE_FSESSION") && fsession.reasons[0].contains("7.0"),
        "{:?}",
        fsession.reasons
    );
    // fsession, fsession.s, lsm_cgroup (6.0).
    assert!(matches!(&rs[0].verdict, Verdict::LoadsWithFailing(p) if p.len() == 3));
    assert_eq!(rs[3].verdict, Verdict::Loads);
}

#[test]
fn kprobe_multi_falls_back_and_sessions_cannot_attach_on_old_kernels() {
    let rs = reports("obj_sec_names_17.bpf.o", &["5.10", "6.12"]);
    let multi = need(&rs[0], Category::AttachType, "BPF_TRACE_KPROBE_MULTI");
    assert!(matches!(multi, Status::Tolerated(_)), "{multi:?}");
    assert_eq!(verdict(&rs[0], "p_kprobe_multi"), ProgVerdict::Loads);
    assert_eq!(
        verdict(&rs[0], "p_kprobe_session"),
        ProgVerdict::AttachFails
    );
    assert_eq!(verdict(&rs[1], "p_kprobe_session"), ProgVerdict::Loads);
    // 6.12 has bpf_session_is_return (kprobe sessions, 6.10) but allows it only to kprobe
    // session programs: a uprobe session program calling it fails there (the 6.12 guest).
    assert_eq!(verdict(&rs[1], "p_uprobe_session"), ProgVerdict::Fails);
    let why = &rs[1].program("p_uprobe_session").unwrap().reasons;
    assert!(
        why.iter()
            .any(|r| r.contains("bpf_session_is_return") && r.contains("UPROBE_SESSION")),
        "{why:?}"
    );
}

#[test]
fn arena_map_type_is_absent_before_6_9() {
    let rs = reports("arena_list.bpf.o", ALL);
    for r in &rs {
        let has = matches!(r.kernel.as_str(), "6.12" | "7.2");
        let status = need(r, Category::MapType, "BPF_MAP_TYPE_ARENA");
        assert_eq!(
            matches!(status, Status::Yes(_)),
            has,
            "{}: {status:?}",
            r.kernel
        );
        if has {
            assert_eq!(r.verdict, Verdict::Loads, "{}", r.kernel);
        } else {
            assert!(status.detail().contains("6.9"), "{status:?}");
            assert!(matches!(r.verdict, Verdict::DoesNotLoad(_)), "{}", r.kernel);
        }
    }
    // Syscall programs came in 5.14.
    assert!(matches!(
        need(&rs[0], Category::ProgType, "BPF_PROG_TYPE_SYSCALL"),
        Status::No(_)
    ));
}

#[test]
fn struct_ops_types_tcp_congestion_ops_everywhere_sched_ext_only_in_7_2() {
    for r in reports("struct_ops_cc.bpf.o", ALL) {
        let s = need(
            &r,
            Category::StructOps,
            "tcp_congestion_ops (map 'corebpf_cc')",
        );
        assert!(matches!(s, Status::Yes(_)), "{}: {s:?}", r.kernel);
        // Its programs call tcp_reno_* kfuncs, which 5.10 has but cannot call (5.13); the
        // programs of a struct_ops map load together, so the object does not load there.
        if r.kernel == "5.10" {
            assert!(
                matches!(&r.verdict, Verdict::DoesNotLoad(w) if w[0].contains("cannot call kfuncs")),
                "{:?}",
                r.verdict
            );
        } else {
            assert_eq!(r.verdict, Verdict::Loads, "{}", r.kernel);
        }
    }
    for r in reports("sched_ext_minimal.bpf.o", ALL) {
        let s = need(&r, Category::StructOps, "sched_ext_ops (map 'minimal_ops')");
        let has = r.kernel == "7.2";
        assert_eq!(matches!(s, Status::Yes(_)), has, "{}: {s:?}", r.kernel);
        let kfunc = need(&r, Category::Kfunc, "scx_bpf_dsq_insert");
        assert_eq!(matches!(kfunc, Status::Yes(_)), has, "{}", r.kernel);
        assert_eq!(r.verdict == Verdict::Loads, has, "{}", r.kernel);
    }
}

#[test]
fn struct_ops_link_maps_need_6_4() {
    for r in reports("struct_ops_cc_link.bpf.o", ALL) {
        let s = need(&r, Category::StructOps, "struct_ops link (map 'ccl_one')");
        let has = matches!(r.kernel.as_str(), "6.12" | "7.2");
        assert_eq!(matches!(s, Status::Yes(_)), has, "{}: {s:?}", r.kernel);
        assert_eq!(r.verdict == Verdict::Loads, has, "{}", r.kernel);
    }
}

#[test]
fn kfuncs_and_ksyms() {
    let rs = reports("obj_ksyms_kfuncs.bpf.o", ALL);
    // bpf_task_from_pid came in 6.2; the per-CPU variable runqueues is in the BTF of 6.1+
    // (Debian's 5.10 BTF has no variables).
    for r in &rs {
        let new = matches!(r.kernel.as_str(), "6.12" | "7.2");
        let k = need(r, Category::Kfunc, "bpf_task_from_pid");
        assert_eq!(matches!(k, Status::Yes(_)), new, "{}: {k:?}", r.kernel);
        let weak = need(r, Category::Kfunc, "bpf_task_from_pid___exists");
        assert_eq!(
            matches!(weak, Status::Tolerated(_)),
            !new,
            "{}: {weak:?}",
            r.kernel
        );
        let typeless = need(r, Category::Ksym, "_stext");
        assert!(matches!(typeless, Status::Unknown(_)), "{typeless:?}");
        assert_eq!(
            verdict(r, "kfunc_pid") == ProgVerdict::Fails,
            !new,
            "{}",
            r.kernel
        );
    }
    assert!(matches!(
        need(&rs[0], Category::Ksym, "runqueues"),
        Status::No(_)
    ));
    // Found in 6.1's BTF; whether its kallsyms has the address is config.
    let rq = need(&rs[1], Category::Ksym, "runqueues");
    assert!(
        matches!(rq, Status::Unknown(d) if d.contains("KALLSYMS_ALL")),
        "{rq:?}"
    );
    assert_eq!(verdict(&rs[0], "ksym_percpu"), ProgVerdict::Fails);
    assert_eq!(verdict(&rs[1], "ksym_percpu"), ProgVerdict::Loads);
}

#[test]
fn helpers_are_named_and_new_ones_missing_on_old_kernels() {
    // bpf_loop (#181) came in 5.17.
    let spec = object("attach_trace.bpf.o");
    for v in ALL {
        let r = compat::check(&spec, &kernel(v));
        for n in r.needs.iter().filter(|n| n.category == Category::Helper) {
            if let Status::Yes(name) = &n.status {
                let want = format!("BPF_FUNC_{}", n.name.strip_prefix("bpf_").unwrap());
                assert_eq!(name, &want, "{v}");
            }
        }
    }
    let helpers_510: Vec<_> = ["5.10", "6.1"]
        .iter()
        .map(|v| {
            let r = compat::check(&object("run_map_in_map.bpf.o"), &kernel(v));
            r.needs
                .iter()
                .filter(|n| n.category == Category::Helper)
                .map(|n| (n.name.clone(), n.status.name()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        helpers_510[0].iter().all(|(_, s)| *s == "yes"),
        "{helpers_510:?}"
    );
}

#[test]
fn usdt_cookie_calls_guarded_by_linux_has_bpf_cookie_are_tolerated() {
    // bpf_get_attach_cookie came in 5.15; usdt.bpf.h calls it only if LINUX_HAS_BPF_COOKIE,
    // and the 5.10 guest loads these programs.
    let rs = reports("usdt_args.bpf.o", &["5.10", "6.1"]);
    let s = need(&rs[0], Category::Helper, "bpf_get_attach_cookie");
    assert!(matches!(s, Status::Tolerated(_)), "{s:?}");
    assert_eq!(rs[0].verdict, Verdict::Loads);
    let s = need(&rs[1], Category::Helper, "bpf_get_attach_cookie");
    assert!(matches!(s, Status::Yes(_)), "{s:?}");
}

#[test]
fn btf_kinds_the_kernel_lacks_are_tolerated() {
    // ENUM64 (6.0): 5.10's parser lacks it, which its BTF tells by having no
    // btf_enum64_check_meta.
    let rs = reports("arena_list.bpf.o", &["5.10", "6.1"]);
    assert!(matches!(
        need(&rs[0], Category::BtfKind, "ENUM64"),
        Status::Tolerated(_)
    ));
    assert!(matches!(
        need(&rs[1], Category::BtfKind, "ENUM64"),
        Status::Yes(_)
    ));
    assert!(rs[0]
        .needs
        .iter()
        .all(|n| n.category != Category::BtfKind || n.effect == compat::Effect::None));
}

#[test]
fn core_relocations_match_relocate() {
    // core_tracing reads task_struct fields that exist everywhere.
    for r in reports("core_tracing.bpf.o", ALL) {
        let core: Vec<_> = r
            .needs
            .iter()
            .filter(|n| n.category == Category::Core)
            .collect();
        assert!(!core.is_empty());
        assert!(
            core.iter().all(|n| !matches!(n.status, Status::No(_))),
            "{}: {core:#?}",
            r.kernel
        );
    }
}

#[test]
fn attach_targets() {
    let rs = reports("attach_trace.bpf.o", &["5.10", "7.2"]);
    for r in &rs {
        let targets: Vec<_> = r
            .needs
            .iter()
            .filter(|n| n.category == Category::AttachTarget)
            .collect();
        assert!(!targets.is_empty(), "{}", r.kernel);
        for t in targets {
            assert!(
                !matches!(t.status, Status::No(_)),
                "{}: {} {:?}",
                r.kernel,
                t.name,
                t.status
            );
        }
    }
}

/// Every testdata object checked against every kernel: no panic, every program judged.
#[test]
fn every_object_against_every_kernel() {
    let kernels: Vec<Kernel> = ALL.iter().map(|v| kernel(v)).collect();
    let mut checked = 0;
    for (name, spec) in corpus() {
        for k in &kernels {
            let r = compat::check(&spec, k);
            assert_eq!(r.programs.len(), spec.programs.len(), "{name}");
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked}");
}

/// The testdata objects (clang 19), by file name.
fn corpus() -> Vec<(String, ObjectSpec)> {
    let dir = testdata().join("bpf/out/clang19");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bpf.o") && !n.contains(".target."))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| {
            let spec = corebpf::obj::Object::from_file(dir.join(&n)).ok()?;
            Some((n, spec))
        })
        .collect()
}

#[path = "compat/reality.rs"]
mod reality;
