//! Feature probes answer what the running kernel is known to support.
//!
//! Each expectation is the kernel version that added the feature (from the kernel's
//! history, not from the library), checked against `uname -r`: a probe must say "yes"
//! from that version on and "no" before it. Features that also depend on kernel config
//! (`Since::Config`) must say "no" before their version and may say either after it.
//! Every answer is printed, so a run in each `cargo xtask vm-test` guest documents what
//! that kernel has.

mod common;

use std::io::Write;

use common::{in_vm, kernel_at_least, kernel_version};
use corebpf_sys::*;

/// When a kernel gained something.
#[derive(Clone, Copy, Debug)]
enum Since {
    /// From this version on, on every build (the stock configs we test).
    Version(u32, u32),
    /// Not before this version; from it on only with some kernel config option.
    Config(u32, u32),
}

/// Compares probe answers with expectations, reports all mismatches at once.
fn check<T: std::fmt::Display>(what: &str, items: &[(T, Since)], probe: impl Fn(&T) -> bool) {
    let (major, minor) = kernel_version();
    let mut report = format!("{what} on kernel {major}.{minor}:\n");
    let mut wrong = Vec::new();
    for (item, since) in items {
        let got = probe(item);
        let (ok, want) = match *since {
            Since::Version(a, b) => {
                let want = kernel_at_least(a, b);
                (got == want, format!("{want} (since {a}.{b})"))
            }
            Since::Config(a, b) => {
                if kernel_at_least(a, b) {
                    (true, format!("either (since {a}.{b}, config-dependent)"))
                } else {
                    (!got, format!("false (since {a}.{b}, config-dependent)"))
                }
            }
        };
        report.push_str(&format!(
            "  {:<40} {got:<5} expected {want}{}\n",
            item.to_string(),
            if ok { "" } else { "   <-- WRONG" }
        ));
        if !ok {
            wrong.push(item.to_string());
        }
    }
    // Straight to stderr so that the table shows in the VM console without --nocapture.
    let _ = std::io::stderr().write_all(report.as_bytes());
    assert!(
        wrong.is_empty(),
        "wrong probe answers for {wrong:?}:\n{report}"
    );
}

struct F(Feature);

impl std::fmt::Display for F {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.description())
    }
}

#[test]
fn btf_kind_probes_match_kernel_version() {
    use Since::Version as V;
    check(
        "BTF kinds",
        &[
            (F(Feature::BtfFunc), V(5, 0)),
            (F(Feature::BtfFuncGlobal), V(5, 6)),
            (F(Feature::BtfDatasec), V(5, 2)),
            (F(Feature::BtfFloat), V(5, 13)),
            (F(Feature::BtfDeclTag), V(5, 16)),
            (F(Feature::BtfTypeTag), V(5, 17)),
            (F(Feature::BtfEnum64), V(6, 0)),
        ],
        |f| probe_feature(f.0),
    );
}

#[test]
fn feature_probes_match_kernel_version() {
    use Since::Version as V;
    check(
        "features",
        &[
            (F(Feature::ProgName), V(4, 15)),
            (F(Feature::GlobalData), V(5, 2)),
            (F(Feature::ArrayMmap), V(5, 5)),
            (F(Feature::ExpAttachType), V(4, 17)),
            (F(Feature::ProbeReadKernel), V(5, 5)),
            (F(Feature::ProgBindMap), V(5, 10)),
            (F(Feature::MemcgAccount), V(5, 11)),
            (F(Feature::BpfCookie), V(5, 15)),
            (F(Feature::RingBuf), V(5, 8)),
            (F(Feature::PerfLink), V(5, 15)),
            (F(Feature::TcxLink), V(6, 6)),
            (F(Feature::UprobeMultiLink), V(6, 6)),
            // KprobeMultiLink also needs CONFIG_FPROBE: see the next test.
        ],
        |f| probe_feature(f.0),
    );
    // Cached: same answers again.
    assert_eq!(probe_feature(Feature::RingBuf), kernel_at_least(5, 8));
    assert_eq!(probe_feature(Feature::PerfLink), kernel_at_least(5, 15));
}

#[test]
fn kprobe_multi_matches_version_and_fprobe_config() {
    // kprobe-multi links: 5.18, implemented on fprobe (CONFIG_FPROBE, whose
    // register_fprobe shows in /proc/kallsyms; the Debian 6.1 guest lacks it, 6.12 has it).
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("read /proc/kallsyms");
    let fprobe = kallsyms
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some("register_fprobe"));
    let has_kprobes = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    if in_vm() {
        assert!(has_kprobes, "the vm-test guest kernels have a kprobe PMU");
    }
    let want = kernel_at_least(5, 18) && fprobe;
    let multi = probe_feature(Feature::KprobeMultiLink);
    let _ = writeln!(
        std::io::stderr(),
        "kprobe PMU: {has_kprobes}, CONFIG_FPROBE: {fprobe}, kprobe-multi links: {multi} (expected {want})"
    );
    assert_eq!(multi, want, "kprobe-multi probe");
    let bytes = corebpf_sys::insn::Insn::encode_all(&common::ret0());
    let prog = prog_load(
        &ProgLoadAttr {
            prog_type: ProgType::Kprobe,
            insns: &bytes,
            license: c"GPL",
            name: "t_kmulti",
            expected_attach_type: Some(AttachType::TraceKprobeMulti),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let syms = [c"do_sys_openat2"];
    let mut attr = LinkCreateAttr::new(
        std::os::fd::AsFd::as_fd(&prog),
        AttachTarget::None,
        AttachType::TraceKprobeMulti,
    );
    attr.opts = LinkCreateOpts::KprobeMulti {
        flags: 0,
        syms: &syms,
        addrs: &[],
        cookies: &[],
    };
    let r = link_create(&attr);
    if multi {
        // The probe said yes: a real kprobe-multi link attaches and fires.
        let _stats = enable_stats(StatsType::RunTime).unwrap();
        let _link = r.expect("kprobe-multi link on do_sys_openat2");
        let _ = std::fs::File::open("/proc/self/status").unwrap();
        let runs = prog_info(std::os::fd::AsFd::as_fd(&prog)).unwrap().run_cnt;
        assert!(runs > 0, "kprobe-multi program did not fire");
        let _ = writeln!(
            std::io::stderr(),
            "kprobe-multi: attached to do_sys_openat2, fired {runs} time(s)"
        );
    } else {
        let e = r.unwrap_err();
        common::assert_link_unsupported(&e, "BPF multi-kprobe link support", "5.18");
    }
}

#[test]
fn map_type_probes_match_kernel_version() {
    use Since::{Config as C, Version as V};
    check(
        "map types",
        &[
            (MapType::Hash, V(3, 19)),
            (MapType::Array, V(3, 19)),
            (MapType::ProgArray, V(4, 2)),
            (MapType::PerfEventArray, V(4, 3)),
            (MapType::PercpuHash, V(4, 6)),
            (MapType::PercpuArray, V(4, 6)),
            (MapType::StackTrace, V(4, 6)),
            (MapType::CgroupArray, V(4, 8)),
            (MapType::LruHash, V(4, 10)),
            (MapType::LruPercpuHash, V(4, 10)),
            (MapType::LpmTrie, V(4, 11)),
            (MapType::ArrayOfMaps, V(4, 12)),
            (MapType::HashOfMaps, V(4, 12)),
            (MapType::Devmap, V(4, 14)),
            (MapType::Sockmap, C(4, 14)),
            (MapType::Cpumap, C(4, 15)),
            (MapType::Xskmap, C(4, 18)),
            (MapType::Sockhash, C(4, 18)),
            (MapType::CgroupStorage, V(4, 19)),
            (MapType::ReuseportSockarray, C(4, 19)),
            (MapType::PercpuCgroupStorage, V(4, 20)),
            (MapType::Queue, V(4, 20)),
            (MapType::Stack, V(4, 20)),
            (MapType::SkStorage, V(5, 2)),
            (MapType::DevmapHash, V(5, 4)),
            (MapType::StructOps, C(5, 6)),
            (MapType::RingBuf, V(5, 8)),
            (MapType::InodeStorage, C(5, 10)),
            (MapType::TaskStorage, V(5, 11)),
            (MapType::BloomFilter, V(5, 16)),
            (MapType::UserRingBuf, V(6, 1)),
            (MapType::CgrpStorage, V(6, 2)),
            (MapType::Arena, C(6, 9)),
        ],
        |t| probe_map_type(*t),
    );
    assert!(!probe_map_type(MapType::Unspec));
}

#[test]
fn prog_type_probes_match_kernel_version() {
    use Since::{Config as C, Version as V};
    // Loads of BTF-attached types (fentry/fexit, freplace) are refused with EPERM before
    // the verifier by lockdown on some hosts (this one); the vm-test guests have no
    // lockdown, so there they must be usable.
    let btf_attached = |a, b| if in_vm() { V(a, b) } else { C(a, b) };
    check(
        "program types",
        &[
            (ProgType::SocketFilter, V(3, 19)),
            (ProgType::Kprobe, V(4, 1)),
            (ProgType::SchedCls, V(4, 1)),
            (ProgType::SchedAct, V(4, 1)),
            (ProgType::Tracepoint, V(4, 7)),
            (ProgType::Xdp, V(4, 8)),
            (ProgType::PerfEvent, V(4, 9)),
            (ProgType::CgroupSkb, V(4, 10)),
            (ProgType::CgroupSock, V(4, 10)),
            (ProgType::LwtIn, V(4, 10)),
            (ProgType::LwtOut, V(4, 10)),
            (ProgType::LwtXmit, V(4, 10)),
            (ProgType::SockOps, V(4, 13)),
            (ProgType::SkSkb, C(4, 14)),
            (ProgType::CgroupDevice, V(4, 15)),
            (ProgType::SkMsg, C(4, 17)),
            (ProgType::RawTracepoint, V(4, 17)),
            (ProgType::CgroupSockAddr, V(4, 17)),
            (ProgType::LwtSeg6local, C(4, 18)),
            (ProgType::LircMode2, C(4, 18)),
            (ProgType::SkReuseport, V(4, 19)),
            (ProgType::FlowDissector, V(4, 20)),
            (ProgType::CgroupSysctl, V(5, 2)),
            (ProgType::RawTracepointWritable, V(5, 2)),
            (ProgType::CgroupSockopt, V(5, 3)),
            (ProgType::Tracing, btf_attached(5, 5)),
            (ProgType::StructOps, V(5, 6)),
            (ProgType::Ext, btf_attached(5, 6)),
            (ProgType::Lsm, C(5, 7)),
            (ProgType::SkLookup, V(5, 9)),
            (ProgType::Syscall, V(5, 14)),
            (ProgType::Netfilter, C(6, 4)),
        ],
        |t| probe_prog_type(*t),
    );
    assert!(!probe_prog_type(ProgType::Unspec));
}

#[test]
fn memlock_is_bumped_only_without_memcg_accounting() {
    let memcg = kernel_at_least(5, 11);
    assert_eq!(probe_feature(Feature::MemcgAccount), memcg);
    let before = std::fs::read_to_string("/proc/self/limits").unwrap();
    let bumped = bump_memlock_rlimit().unwrap();
    let after = std::fs::read_to_string("/proc/self/limits").unwrap();
    assert_eq!(bumped, !memcg, "RLIMIT_MEMLOCK bumped: {bumped}");
    let memlock = |limits: &str| {
        limits
            .lines()
            .find(|l| l.starts_with("Max locked memory"))
            .expect("Max locked memory in /proc/self/limits")
            .to_string()
    };
    if memcg {
        assert_eq!(after, before);
    } else {
        let line = memlock(&after);
        assert!(
            line.split_whitespace()
                .filter(|w| *w == "unlimited")
                .count()
                == 2,
            "RLIMIT_MEMLOCK not raised to infinity: {line}"
        );
    }
}
