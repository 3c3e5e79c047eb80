//! One program for every SEC convention (testdata obj_sec_names): each loads on its own, or
//! fails with an error that says why (lockdown, a program type or attach target this kernel
//! lacks, struct_ops not supported yet); the everyday types load everywhere. The SEC forms
//! libbpf 1.4-1.7 added (obj_sec_names_17) load where the kernel has their attach type, with
//! a kernel check that the attach type and flags arrived, and elsewhere fail naming the
//! release that added it; names aya and cilium/ebpf accept by prefix (obj_sec_prefix) load
//! and run.

use std::os::fd::AsFd;
use std::path::PathBuf;

use corebpf::sys::{AttachType, ProgType};
use corebpf::ObjectBuilder;

fn object() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
        .join("bpf/out/clang19/obj_sec_names.bpf.o")
}

#[test]
fn every_program_loads_alone_or_says_why() {
    let names: Vec<String> = ObjectBuilder::new()
        .open_file(object())
        .unwrap()
        .spec()
        .programs
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let mut loaded = Vec::new();
    for name in &names {
        let mut open = ObjectBuilder::new().open_file(object()).unwrap();
        open.load_only(&[name]).unwrap();
        match open.load() {
            Ok(obj) => {
                assert!(obj.program(name).is_some());
                loaded.push(name.clone());
            }
            Err(e) => {
                let text = e.to_string();
                // The verifier's own verdict counts when it is there (e.g. 5.10's "Only
                // fentry/fexit/fmod_ret and lsm programs can be sleepable").
                let clear = e.is_permission()
                    || e.is_unsupported()
                    || e.verifier().is_some_and(|v| !v.message.is_empty())
                    || text.contains("not supported yet")
                    || text.contains("not found in the kernel's BTF")
                    || text.contains("does not support");
                assert!(clear, "program '{name}': unclear failure: {text}");
            }
        }
    }
    eprintln!(
        "{} of {} programs loaded: {loaded:?}",
        loaded.len(),
        names.len()
    );
    for everyday in [
        "p_socket",
        "p_xdp",
        "p_tc",
        "p_tp",
        "p_tracepoint",
        "p_raw_tp",
        "p_perf_event",
        "p_kprobe",
        "p_cgroup_skb_ingress",
    ] {
        if names.iter().any(|n| n == everyday) {
            assert!(
                loaded.iter().any(|n| n == everyday),
                "{everyday} must load on every kernel"
            );
        }
    }
}

fn object_17() -> PathBuf {
    object().with_file_name("obj_sec_names_17.bpf.o")
}

/// Loads program `name` of obj_sec_names_17 alone.
fn load_17(name: &str) -> corebpf::Result<corebpf::Object> {
    let mut open = ObjectBuilder::new().open_file(object_17()).unwrap();
    open.load_only(&[name]).unwrap();
    open.load()
}

/// The running kernel's release as (major, minor).
fn kernel_release() -> (u32, u32) {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut it = r.trim().split(|c: char| !c.is_ascii_digit());
    let mut next = || it.next().unwrap().parse::<u32>().unwrap();
    (next(), next())
}

/// Whether this kernel is `since` ("6.13") or newer.
fn kernel_has(since: &str) -> bool {
    let (a, b) = since.split_once('.').unwrap();
    kernel_release() >= (a.parse().unwrap(), b.parse().unwrap())
}

/// obj_sec_names_17: program, type, expected attach type, the Linux release that added the
/// attach type, and the kernel check that shows the SEC form reached the kernel.
const FORMS_17: &[(&str, ProgType, AttachType, &str, Check)] = &[
    (
        "p_kprobe_session",
        ProgType::Kprobe,
        AttachType::TraceKprobeSession,
        "6.10",
        Check::SessionKfunc,
    ),
    (
        "p_kprobe_multi",
        ProgType::Kprobe,
        AttachType::TraceKprobeMulti,
        "5.18",
        Check::Loads,
    ),
    (
        "p_kretprobe_multi",
        ProgType::Kprobe,
        AttachType::TraceKprobeMulti,
        "5.18",
        Check::Loads,
    ),
    (
        "p_uprobe_session",
        ProgType::Kprobe,
        AttachType::TraceUprobeSession,
        "6.13",
        Check::SessionKfunc,
    ),
    // Its bpf_copy_from_user() comes before the kfunc call, so that is what a plain kprobe
    // trips on first.
    (
        "p_uprobe_session_s",
        ProgType::Kprobe,
        AttachType::TraceUprobeSession,
        "6.13",
        Check::Sleepable,
    ),
    (
        "p_uprobe_multi",
        ProgType::Kprobe,
        AttachType::TraceUprobeMulti,
        "6.6",
        Check::Loads,
    ),
    (
        "p_uretprobe_multi",
        ProgType::Kprobe,
        AttachType::TraceUprobeMulti,
        "6.6",
        Check::Loads,
    ),
    (
        "p_uprobe_multi_s",
        ProgType::Kprobe,
        AttachType::TraceUprobeMulti,
        "6.6",
        Check::Sleepable,
    ),
    (
        "p_uretprobe_multi_s",
        ProgType::Kprobe,
        AttachType::TraceUprobeMulti,
        "6.6",
        Check::Sleepable,
    ),
    (
        "p_fsession",
        ProgType::Tracing,
        AttachType::TraceFsession,
        "7.0",
        Check::Loads,
    ),
    (
        "p_fsession_s",
        ProgType::Tracing,
        AttachType::TraceFsession,
        "7.0",
        Check::Loads,
    ),
    (
        "p_netkit_primary",
        ProgType::SchedCls,
        AttachType::NetkitPrimary,
        "6.7",
        Check::Run(1),
    ),
    (
        "p_netkit_peer",
        ProgType::SchedCls,
        AttachType::NetkitPeer,
        "6.7",
        Check::Run(2),
    ),
    (
        "p_lsm_cgroup",
        ProgType::Lsm,
        AttachType::LsmCgroup,
        "6.0",
        Check::Loads,
    ),
];

/// What shows, beyond loading, that a program got its SEC form's attach type and flags.
#[derive(Clone, Copy)]
enum Check {
    /// Only that it loads with the right type.
    Loads,
    /// It calls bpf_session_is_return(), which only session programs may: loaded as a
    /// plain kprobe (no expected attach type) it must be refused.
    SessionKfunc,
    /// It calls bpf_copy_from_user(), which needs BPF_F_SLEEPABLE: loaded as a plain
    /// kprobe it must be refused.
    Sleepable,
    /// BPF_PROG_TEST_RUN on a 64-byte packet returns 64 + this.
    Run(u32),
}

/// Asserts the checks of a program that loaded.
fn check_loaded(obj: &corebpf::Object, name: &str, pt: ProgType, check: Check) {
    let prog = obj.program(name).unwrap();
    let info = corebpf::sys::prog_info(prog.as_fd()).unwrap();
    assert_eq!(
        info.prog_type(),
        Some(pt),
        "{name}: the kernel's program type"
    );
    match check {
        Check::Loads => {}
        // 7.0 reworked the session kfuncs (they take the context): a plain kprobe calling
        // this object's 6.10-6.19 prototype is no longer refused, so no negative control.
        Check::SessionKfunc if kernel_has("7.0") => {}
        Check::SessionKfunc | Check::Sleepable => {
            let mut open = ObjectBuilder::new().open_file(object_17()).unwrap();
            open.load_only(&[name]).unwrap();
            open.set_program_type(name, ProgType::Kprobe).unwrap();
            let e = open
                .load()
                .expect_err("without its attach type and flags the kernel must refuse it");
            let v = e.verifier().unwrap_or_else(|| panic!("{name}: {e}"));
            let call = match check {
                Check::SessionKfunc => "bpf_session_is_return",
                _ => "copy_from_user",
            };
            assert!(v.log.contains(call), "{name}: {}", v.log);
            eprintln!("{name} as a plain kprobe: {}", v.message);
        }
        Check::Run(k) => {
            let out = prog
                .test_run(&corebpf::TestRun {
                    data: &[0u8; 64],
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(out.retval, 64 + k, "{name}");
        }
    }
}

#[test]
fn forms_of_libbpf_1_7_load_or_name_the_kernel_that_added_them() {
    for &(name, pt, at, since, check) in FORMS_17 {
        match load_17(name) {
            Ok(obj) => {
                // Before `since` only types whose load ignores the attach type get here
                // (kprobe, sched_cls): the attach is what fails there.
                assert!(
                    kernel_has(since) || pt != ProgType::Tracing,
                    "{name} loaded on a kernel older than {since}"
                );
                if kernel_has(since) {
                    check_loaded(&obj, name, pt, check);
                }
                let p = obj.program(name).unwrap();
                assert_eq!(p.expected_attach_type(), Some(at), "{name}");
            }
            Err(e) => {
                let text = e.to_string();
                eprintln!("{name}: {text}");
                // Lockdown (this host) refuses trampoline-based types with EPERM, after
                // the attach target was found in the kernel's BTF.
                if kernel_has(since) && pt != ProgType::Kprobe && e.is_permission() {
                    continue;
                }
                assert!(
                    !kernel_has(since),
                    "{name} must load on this kernel: {text}"
                );
                assert!(
                    e.is_unsupported()
                        && text.contains(&format!("attach type {} (Linux {since})", at.name())),
                    "{name}: the error must name the attach type and Linux {since}: {text}"
                );
            }
        }
    }
}

fn object_prefix() -> PathBuf {
    object().with_file_name("obj_sec_prefix.bpf.o")
}

#[test]
fn names_aya_and_cilium_accept_by_prefix_load_and_run() {
    let obj = ObjectBuilder::new()
        .open_file(object_prefix())
        .unwrap()
        .load()
        .unwrap();
    let packet = [0u8; 64];
    let cases = [
        // A socket filter sees the packet after the Ethernet header: 50 bytes.
        ("pfx_socket", ProgType::SocketFilter, 51),
        ("pfx_xdp", ProgType::Xdp, corebpf::sys::consts::XDP_DROP),
        ("pfx_classifier", ProgType::SchedCls, 67),
        ("pfx_action", ProgType::SchedAct, 68),
        ("pfx_cgroup_skb", ProgType::CgroupSkb, 1),
    ];
    for (name, pt, retval) in cases {
        let prog = obj.program(name).unwrap();
        let info = corebpf::sys::prog_info(prog.as_fd()).unwrap();
        assert_eq!(info.prog_type(), Some(pt), "{name}");
        let out = prog
            .test_run(&corebpf::TestRun {
                data: &packet,
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.retval, retval, "{name}");
        // Not auto-attachable: the name gives no target.
        let e = prog.attach().expect_err(name).to_string();
        assert!(e.contains("attach it with the method for its kind"), "{e}");
    }
}

/// Whether the auto-attach of multi/session form `name` must succeed on this kernel: the
/// uprobe multi forms everywhere (single uprobes before 6.6), uprobe.session from 6.13, the
/// kprobe multi forms where there are kprobes (single kprobes without CONFIG_FPROBE),
/// kprobe.session only with the kprobe_multi link, from 6.10.
fn multi_form_attaches(name: &str) -> bool {
    use corebpf::attach::kprobe::{kprobe_support, KprobeSupport};
    use corebpf::sys::{probe_feature, Feature};
    match name {
        "p_kprobe_session" => probe_feature(Feature::KprobeMultiLink) && kernel_has("6.10"),
        "p_kprobe_multi" | "p_kretprobe_multi" => {
            kprobe_support() != KprobeSupport::None || probe_feature(Feature::KprobeMultiLink)
        }
        "p_uprobe_session" | "p_uprobe_session_s" => kernel_has("6.13"),
        _ => true,
    }
}

#[test]
fn session_and_multi_forms_auto_attach_or_name_the_missing_kernel_feature() {
    for name in [
        "p_kprobe_session",
        "p_kprobe_multi",
        "p_kretprobe_multi",
        "p_uprobe_session",
        "p_uprobe_session_s",
        "p_uprobe_multi",
        "p_uretprobe_multi",
        "p_uprobe_multi_s",
        "p_uretprobe_multi_s",
    ] {
        let obj = match load_17(name) {
            Ok(obj) => obj,
            // Older kernels: the load test above checks that error.
            Err(_) => continue,
        };
        match obj.attach_all() {
            Ok(links) => {
                assert!(multi_form_attaches(name), "{name} attached: {links:?}");
                assert_eq!(links.len(), 1, "{name}");
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                assert!(!multi_form_attaches(name), "{name} must attach here: {e}");
                assert!(e.is_unsupported(), "{name}: {e}");
            }
        }
    }
}

#[test]
fn netkit_attach_needs_a_netkit_device() {
    let obj = load_17("p_netkit_primary").unwrap();
    let prog = obj.program("p_netkit_primary").unwrap();
    // Like tcx, netkit names no device: attach_all leaves it out.
    assert!(obj.attach_all().unwrap().is_empty());
    // lo (ifindex 1) is no netkit device.
    let e = prog
        .attach_netkit(1)
        .expect_err("lo is not a netkit device");
    let text = e.to_string();
    eprintln!("{text}");
    assert!(
        text.contains("netkit primary on ifindex 1") && text.contains("BPF_LINK_CREATE (netkit)"),
        "{text}"
    );
    // A program of another SEC form is refused before any syscall.
    let other = load_17("p_kprobe_multi").unwrap();
    let e = other
        .program("p_kprobe_multi")
        .unwrap()
        .attach_netkit(1)
        .expect_err("not a netkit program")
        .to_string();
    assert!(
        e.contains("attach_netkit needs a program of type sched_cls"),
        "{e}"
    );
}
