//! perf_event_open, probe PMUs, tracepoints and perf links against the real kernel.

mod common;

use std::ffi::CString;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use corebpf_sys::info::LinkDetails;
use corebpf_sys::mmap::{page_size, MmapRegion};
use corebpf_sys::perf::*;
use corebpf_sys::*;

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
    match perf_event_open_probe(&attr) {
        Err(e) if !pmu_exists => {
            assert!(matches!(e, SysError::Unsupported { .. }), "{e}");
            assert!(e.is_unsupported());
            assert!(
                e.to_string().contains("this kernel has no kprobe support"),
                "{e}"
            );
            assert!(probe_pmu_type(ProbeKind::Kprobe).is_err());
        }
        Err(e) => panic!("kprobe PMU exists but opening a kprobe failed: {e}"),
        Ok(pfd) => {
            assert!(pmu_exists);
            let prog = common::load(ProgType::Kprobe, &common::ret0(), "t_kprobe");
            let _stats = enable_stats(StatsType::RunTime).unwrap();
            let mut l = LinkCreateAttr::new(
                prog.as_fd(),
                AttachTarget::Fd(pfd.as_fd()),
                AttachType::PerfEvent,
            );
            l.opts = LinkCreateOpts::PerfEvent { bpf_cookie: 1 };
            let _link = link_create(&l).unwrap();
            let _ = std::fs::File::open("/proc/self/status").unwrap();
            assert!(
                prog_info(prog.as_fd()).unwrap().run_cnt > 0,
                "kprobe did not fire"
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
    let mut l = LinkCreateAttr::new(
        prog.as_fd(),
        AttachTarget::Fd(pfd.as_fd()),
        AttachType::PerfEvent,
    );
    l.opts = LinkCreateOpts::PerfEvent { bpf_cookie: 0x1234 };
    let link = link_create(&l).unwrap();
    let (info, details) = link_details(link.as_fd()).unwrap();
    assert_eq!(info.link_type(), Some(LinkType::PerfEvent));
    // BPF_PERF_EVENT_URETPROBE = 2
    assert_eq!(details, LinkDetails::PerfEvent { perf_event_type: 2 });
}

#[test]
fn tracepoint_via_perf_link_and_via_ioctl() {
    let id =
        tracepoint_id("syscalls", "sys_enter_getppid").expect("syscalls:sys_enter_getppid exists");
    let prog = common::load(ProgType::Tracepoint, &common::ret0(), "t_tp");
    let _stats = enable_stats(StatsType::RunTime).unwrap();

    let pfd = perf_event_open_tracepoint(id).unwrap();
    let link = link_create(&LinkCreateAttr::new(
        prog.as_fd(),
        AttachTarget::Fd(pfd.as_fd()),
        AttachType::PerfEvent,
    ))
    .unwrap();
    for _ in 0..5 {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    let runs = prog_info(prog.as_fd()).unwrap().run_cnt;
    assert!(runs >= 5, "tracepoint program ran {runs} times");
    let (_, details) = link_details(link.as_fd()).unwrap();
    assert_eq!(details, LinkDetails::PerfEvent { perf_event_type: 5 });
    drop(link);
    drop(pfd);

    // Legacy attachment: ioctl(SET_BPF) + ioctl(ENABLE).
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
