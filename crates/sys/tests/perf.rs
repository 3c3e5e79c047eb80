//! perf_event_open, probe PMUs, tracepoints and perf links against the real kernel.

mod common;

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use corebpf_sys::info::LinkDetails;
use corebpf_sys::mmap::{page_size, MmapRegion};
use corebpf_sys::perf::*;
use corebpf_sys::*;

/// Links `prog` to the perf event `pfd`: with a perf link where the kernel has them
/// (5.15+), else checks that `link_create` says clearly that it has none and attaches
/// with `PERF_EVENT_IOC_SET_BPF` + enable, as the loader does. Returns the link (if
/// any) and how the program was attached.
fn attach_perf(
    prog: BorrowedFd<'_>,
    pfd: BorrowedFd<'_>,
    cookie: u64,
) -> (Option<OwnedFd>, &'static str) {
    let mut l = LinkCreateAttr::new(prog, AttachTarget::Fd(pfd), AttachType::PerfEvent);
    l.opts = LinkCreateOpts::PerfEvent { bpf_cookie: cookie };
    let r = link_create(&l);
    assert_eq!(
        probe_feature(Feature::PerfLink),
        common::kernel_at_least(5, 15)
    );
    if common::kernel_at_least(5, 15) {
        (Some(r.unwrap()), "perf link")
    } else {
        let e = r.unwrap_err();
        common::assert_link_unsupported(&e, "BPF perf link support", "5.15");
        assert!(e.to_string().contains("PERF_EVENT_IOC_SET_BPF"), "{e}");
        perf_event_set_bpf(pfd, prog).unwrap();
        perf_event_enable(pfd).unwrap();
        (None, "PERF_EVENT_IOC_SET_BPF")
    }
}

/// The perf link's details: `perf_event_type` is reported from 6.6 on, 0 before.
fn assert_perf_link_type(link: &Option<OwnedFd>, perf_event_type: u32) {
    let Some(link) = link else { return };
    let (info, details) = link_details(link.as_fd()).unwrap();
    assert_eq!(info.link_type(), Some(LinkType::PerfEvent));
    let want = if common::kernel_at_least(6, 6) {
        perf_event_type
    } else {
        0
    };
    assert_eq!(
        details,
        LinkDetails::PerfEvent {
            perf_event_type: want
        }
    );
}

#[test]
fn kprobe_pmu_attaches_or_says_no_kprobe_support() {
    let attr = ProbeAttr {
        kind: ProbeKind::Kprobe,
        retprobe: false,
        name: Some(c"do_sys_openat2"),
        offset: 0,
        ref_ctr_offset: 0,
        pid: -1,
    };
    let pmu_exists = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    if common::in_vm() {
        assert!(pmu_exists, "the vm-test guest kernels have a kprobe PMU");
    }
    match perf_event_open_probe(&attr) {
        Err(e) if !pmu_exists => {
            assert!(matches!(e, SysError::Unsupported { .. }), "{e}");
            assert!(e.is_unsupported());
            assert!(
                e.to_string().contains("this kernel has no kprobe support"),
                "{e}"
            );
            assert!(probe_pmu_type(ProbeKind::Kprobe).is_err());
            let _ = writeln!(std::io::stderr(), "kprobe: no kprobe PMU, reported: {e}");
        }
        Err(e) => panic!("kprobe PMU exists but opening a kprobe failed: {e}"),
        Ok(pfd) => {
            assert!(pmu_exists);
            let prog = common::load(ProgType::Kprobe, &common::ret0(), "t_kprobe");
            let _stats = enable_stats(StatsType::RunTime).unwrap();
            let (link, how) = attach_perf(prog.as_fd(), pfd.as_fd(), 1);
            assert_perf_link_type(&link, 3); // BPF_PERF_EVENT_KPROBE
            let _ = std::fs::File::open("/proc/self/status").unwrap();
            let runs = prog_info(prog.as_fd()).unwrap().run_cnt;
            assert!(runs > 0, "kprobe did not fire");
            let _ = writeln!(
                std::io::stderr(),
                "kprobe: attached to do_sys_openat2 with {how}, fired {runs} time(s)"
            );
        }
    }
}

#[test]
fn uprobe_perf_link_with_cookie() {
    let pmu = probe_pmu_type(ProbeKind::Uprobe).expect("this kernel has a uprobe PMU");
    assert!(pmu > 5, "dynamic PMU type {pmu}");
    assert_eq!(retprobe_bit(ProbeKind::Uprobe).unwrap(), 0);
    let exe = std::fs::canonicalize("/proc/self/exe").unwrap();
    let path = CString::new(exe.as_os_str().as_bytes()).unwrap();
    let pfd = perf_event_open_probe(&ProbeAttr {
        kind: ProbeKind::Uprobe,
        retprobe: true,
        name: Some(&path),
        offset: 0,
        ref_ctr_offset: 0,
        pid: std::process::id() as i32,
    })
    .unwrap();
    let prog = common::load(ProgType::Kprobe, &common::ret0(), "t_uprobe");
    let (link, _) = attach_perf(prog.as_fd(), pfd.as_fd(), 0x1234);
    assert_perf_link_type(&link, 2); // BPF_PERF_EVENT_URETPROBE
}

#[test]
fn tracepoint_via_perf_link_and_via_ioctl() {
    let id =
        tracepoint_id("syscalls", "sys_enter_getppid").expect("syscalls:sys_enter_getppid exists");
    let prog = common::load(ProgType::Tracepoint, &common::ret0(), "t_tp");
    let _stats = enable_stats(StatsType::RunTime).unwrap();

    // A perf link where the kernel has them (else the ioctl, after the clear error).
    let pfd = perf_event_open_tracepoint(id).unwrap();
    let (link, _) = attach_perf(prog.as_fd(), pfd.as_fd(), 0);
    for _ in 0..5 {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    let runs = prog_info(prog.as_fd()).unwrap().run_cnt;
    assert!(runs >= 5, "tracepoint program ran {runs} times");
    assert_perf_link_type(&link, 5); // BPF_PERF_EVENT_TRACEPOINT
    drop(link);
    drop(pfd);

    // Legacy attachment on every kernel: ioctl(SET_BPF) + ioctl(ENABLE).
    let pfd = perf_event_open_tracepoint(id).unwrap();
    perf_event_set_bpf(pfd.as_fd(), prog.as_fd()).unwrap();
    perf_event_enable(pfd.as_fd()).unwrap();
    let before = prog_info(prog.as_fd()).unwrap().run_cnt;
    for _ in 0..5 {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    assert!(prog_info(prog.as_fd()).unwrap().run_cnt >= before + 5);
    perf_event_disable(pfd.as_fd()).unwrap();

    let e = tracepoint_id("syscalls", "no_such_tracepoint").unwrap_err();
    assert!(e.to_string().contains("no_such_tracepoint"), "{e}");
}

#[test]
fn software_event_ring_is_written() {
    let fd = perf_event_open_software(PERF_COUNT_SW_TASK_CLOCK, 100_000, 0, -1).unwrap();
    let page = page_size();
    let ring = MmapRegion::map(fd.as_fd(), page * 2, true, 0).unwrap();
    // struct perf_event_mmap_page: data_offset at 1040, data_size at 1048.
    assert_eq!(
        ring.atomic_u64(1048)
            .unwrap()
            .load(std::sync::atomic::Ordering::Relaxed),
        page as u64
    );
    assert_eq!(
        ring.atomic_u64(1040)
            .unwrap()
            .load(std::sync::atomic::Ordering::Relaxed),
        page as u64
    );
    perf_event_enable(fd.as_fd()).unwrap();
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < std::time::Duration::from_millis(50) {
        x = x.wrapping_mul(31).wrapping_add(1);
    }
    std::hint::black_box(x);
    let head = ring
        .atomic_u64(1024)
        .unwrap()
        .load(std::sync::atomic::Ordering::Acquire);
    assert!(head > 0, "no samples written to the perf ring");
    assert!(
        ring.atomic_u64(page * 2).is_none(),
        "out of bounds access must be refused"
    );
}

#[test]
fn bpf_output_event_opens_per_cpu() {
    let cpus = possible_cpus().unwrap();
    for cpu in 0..cpus {
        perf_event_open_bpf_output(cpu as i32).unwrap();
    }
}
