//! Attaching tracing programs on the real kernel (attach_trace.bpf.c): tracepoint, raw_tp,
//! tp_btf, uprobe/uretprobe on a function of this test binary, kprobe/kretprobe/ksyscall,
//! fentry/fexit/fmod_ret/lsm, iter/task, perf_event on cpu-clock; links that detach on
//! drop, pinned links that outlive their process, `attach_all`. Where the kernel lacks
//! something (no kprobes, lockdown refusing fentry-type loads, no BPF LSM), the test
//! checks that the error says so clearly instead.

mod attach_util;

use std::path::Path;
use std::time::{Duration, Instant};

use attach_util::*;
use corebpf::attach::kprobe::{kprobe_support, KprobeOpts, KprobeSupport};
use corebpf::attach::uprobe::UprobeOpts;
use corebpf::link::Link;
use corebpf::pin::PinError;
use corebpf::sys::LinkType;

const N: usize = 25;

/// The uprobe target: a function of this very binary.
#[no_mangle]
#[inline(never)]
pub extern "C" fn corebpf_uprobe_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(3)
}

#[test]
fn tracepoint_counts_getpid_and_stops_when_dropped() {
    let obj = load_trace(&["tp_getpid"]).unwrap();
    let link = obj
        .program("tp_getpid")
        .unwrap()
        .attach_tracepoint("syscalls", "sys_enter_getpid")
        .unwrap();
    assert_eq!(link.target(), "tracepoint syscalls/sys_enter_getpid");
    getpid_n(N);
    let n = count(&obj, slot::TP);
    assert!(n >= N as u64, "{n} events for {N} getpid calls");
    if link.is_bpf_link() {
        let info = link.info().unwrap();
        assert_eq!(info.link_type, Some(LinkType::PerfEvent));
        assert_eq!(
            info.prog_id,
            obj.program("tp_getpid").unwrap().id().unwrap()
        );
    }
    drop(link);
    getpid_n(N);
    assert_eq!(
        count(&obj, slot::TP),
        n,
        "events after the link was dropped"
    );
}

#[test]
fn tracepoint_by_sec_name_and_missing_tracepoint_error() {
    let obj = load_trace(&["tp_getpid"]).unwrap();
    let prog = obj.program("tp_getpid").unwrap();
    let link = prog.attach().unwrap();
    getpid_n(N);
    assert!(count(&obj, slot::TP) >= N as u64);
    drop(link);
    let e = prog.attach_tracepoint("sched", "no_such_tp").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("program 'tp_getpid'"), "{msg}");
    assert!(
        msg.contains("tracepoint not found: sched/no_such_tp (no /sys/kernel/")
            && msg.contains("/events/sched/no_such_tp)"),
        "{msg}"
    );
    // The wrong program type for the method is refused before any syscall.
    let e = prog.attach_raw_tracepoint("sys_enter").unwrap_err();
    assert!(e.to_string().contains("needs a program of type"), "{e}");
}

#[test]
fn raw_tracepoint_counts_getpid() {
    let obj = load_trace(&["raw_tp_sys_enter"]).unwrap();
    let link = obj
        .program("raw_tp_sys_enter")
        .unwrap()
        .attach_raw_tracepoint("sys_enter")
        .unwrap();
    getpid_n(N);
    let n = count(&obj, slot::RAW_TP);
    assert!(n >= N as u64, "{n}");
    let info = link.info().unwrap();
    assert_eq!(info.link_type, Some(LinkType::RawTracepoint));
    match &info.details {
        corebpf::sys::info::LinkDetails::RawTracepoint { tp_name, .. } => {
            assert_eq!(tp_name, "sys_enter")
        }
        d => panic!("unexpected details {d:?}"),
    }
    drop(link);
    getpid_n(N);
    assert_eq!(count(&obj, slot::RAW_TP), n);
    let e = obj
        .program("raw_tp_sys_enter")
        .unwrap()
        .attach_raw_tracepoint("no_such_raw_tp")
        .unwrap_err();
    assert!(e.to_string().contains("no_such_raw_tp"), "{e}");
}

#[test]
fn tp_btf_counts_getpid() {
    let obj = load_trace(&["tp_btf_sys_enter"]).unwrap();
    let link = obj
        .program("tp_btf_sys_enter")
        .unwrap()
        .attach_tracing()
        .unwrap();
    getpid_n(N);
    let n = count(&obj, slot::TP_BTF);
    assert!(n >= N as u64, "{n}");
    drop(link);
    getpid_n(N);
    assert_eq!(count(&obj, slot::TP_BTF), n);
}

#[test]
fn uprobe_and_uretprobe_on_a_function_of_this_binary() {
    let obj = load_trace(&["uprobe_target", "uretprobe_target"]).unwrap();
    let exe = std::env::current_exe().unwrap();
    let entry = obj
        .program("uprobe_target")
        .unwrap()
        .attach_uprobe(&exe, "corebpf_uprobe_target", &UprobeOpts::default())
        .unwrap();
    let ret = obj
        .program("uretprobe_target")
        .unwrap()
        .attach_uprobe(
            &exe,
            "corebpf_uprobe_target",
            &UprobeOpts {
                retprobe: true,
                pid: Some(std::process::id() as i32),
                ..Default::default()
            },
        )
        .unwrap();
    let mut sum = 0;
    for i in 0..N as u64 {
        corebpf_uprobe_target(i);
        sum += i;
    }
    assert_eq!(count(&obj, slot::UPROBE), N as u64);
    assert_eq!(count(&obj, slot::UPROBE_ARG), sum, "argument seen at entry");
    assert_eq!(count(&obj, slot::URETPROBE), N as u64);
    drop(entry);
    drop(ret);
    corebpf_uprobe_target(1);
    assert_eq!(count(&obj, slot::UPROBE), N as u64);
    assert_eq!(count(&obj, slot::URETPROBE), N as u64);
    let e = obj
        .program("uprobe_target")
        .unwrap()
        .attach_uprobe(&exe, "no_such_symbol_xyz", &UprobeOpts::default())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("no function symbol 'no_such_symbol_xyz'"),
        "{e}"
    );
}

#[test]
fn uprobe_on_a_shared_library_function() {
    let obj = load_trace(&["uprobe_target"]).unwrap();
    // libc.so.6 is found in the library directories; getpid comes from its .dynsym.
    let link = obj
        .program("uprobe_target")
        .unwrap()
        .attach_uprobe("libc.so.6", "getpid", &UprobeOpts::default())
        .unwrap();
    for _ in 0..N {
        std::hint::black_box(nix::unistd::getpid());
    }
    let n = count(&obj, slot::UPROBE);
    assert!(n >= N as u64, "{n}");
    drop(link);
}

#[test]
fn uprobe_through_tracefs_uprobe_events() {
    if !corebpf::attach::tracefs::has_probe_events(corebpf::attach::tracefs::ProbeFile::Uprobe) {
        corebpf_testutil::skip("no uprobe_events in tracefs (CONFIG_UPROBE_EVENTS)");
        return;
    }
    let obj = load_trace(&["uprobe_target"]).unwrap();
    let exe = std::env::current_exe().unwrap();
    let link = obj
        .program("uprobe_target")
        .unwrap()
        .attach_uprobe(
            &exe,
            "corebpf_uprobe_target",
            &UprobeOpts {
                legacy: true,
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..N as u64 {
        corebpf_uprobe_target(i);
    }
    assert_eq!(count(&obj, slot::UPROBE), N as u64);
    drop(link);
    let root = corebpf::attach::tracefs::tracefs_root().unwrap();
    let events = std::fs::read_to_string(root.join("uprobe_events")).unwrap();
    let mine = format!("corebpf_{}_", std::process::id());
    // Other tests of this process may hold probes of their own: none may be ours now
    // unless another legacy test runs at the same time (there is none).
    assert!(!events.contains(&mine), "probe left behind: {events}");
}

#[test]
fn kprobe_and_kretprobe_or_a_clear_error() {
    let obj = load_trace(&["kprobe_any", "kretprobe_any"]).unwrap();
    let kp = obj.program("kprobe_any").unwrap();
    let krp = obj.program("kretprobe_any").unwrap();
    if kprobe_support() == KprobeSupport::None {
        let e = kp.attach_kprobe("do_sys_openat2", 0).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("program 'kprobe_any'"), "{msg}");
        assert!(msg.contains("kprobe do_sys_openat2"), "{msg}");
        assert!(msg.contains("this kernel has no kprobe support"), "{msg}");
        eprintln!("no kprobes here; error: {msg}");
        return;
    }
    let e = kp.attach_kprobe("corebpf_no_such_function", 0).unwrap_err();
    assert!(
        e.to_string()
            .contains("no such function in kallsyms: corebpf_no_such_function"),
        "{e}"
    );
    for legacy in [false, true] {
        if legacy
            && !corebpf::attach::tracefs::has_probe_events(
                corebpf::attach::tracefs::ProbeFile::Kprobe,
            )
        {
            continue;
        }
        let before = (count(&obj, slot::KPROBE), count(&obj, slot::KRETPROBE));
        let l1 = kp
            .attach_kprobe_with(
                "do_sys_openat2",
                &KprobeOpts {
                    legacy,
                    ..Default::default()
                },
            )
            .unwrap();
        let l2 = krp
            .attach_kprobe_with(
                "do_sys_openat2",
                &KprobeOpts {
                    retprobe: true,
                    legacy,
                    ..Default::default()
                },
            )
            .unwrap();
        open_n(N);
        // Dropping a legacy probe opens kprobe_events: drop both before counting.
        drop(l1);
        drop(l2);
        let after = (count(&obj, slot::KPROBE), count(&obj, slot::KRETPROBE));
        assert!(
            after.0 - before.0 >= N as u64,
            "legacy={legacy}: {before:?} -> {after:?}"
        );
        assert!(
            after.1 - before.1 >= N as u64,
            "legacy={legacy}: {before:?} -> {after:?}"
        );
        open_n(N);
        assert_eq!(
            (count(&obj, slot::KPROBE), count(&obj, slot::KRETPROBE)),
            after
        );
        if legacy {
            let root = corebpf::attach::tracefs::tracefs_root().unwrap();
            let events = std::fs::read_to_string(root.join("kprobe_events")).unwrap();
            assert!(
                !events.contains(&format!("corebpf_{}_", std::process::id())),
                "{events}"
            );
        }
    }
}

#[test]
fn ksyscall_by_sec_name_or_a_clear_error() {
    let obj = load_trace(&["ksyscall_getpid"]).unwrap();
    let prog = obj.program("ksyscall_getpid").unwrap();
    let func = corebpf::attach::kprobe::syscall_function("getpid");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(func, "__x64_sys_getpid");
    }
    match prog.attach() {
        Ok(link) => {
            getpid_n(N);
            assert!(count(&obj, slot::KSYSCALL) >= N as u64);
            drop(link);
        }
        Err(e) => {
            assert_eq!(kprobe_support(), KprobeSupport::None, "{e}");
            assert!(
                e.to_string().contains("this kernel has no kprobe support"),
                "{e}"
            );
        }
    }
}

/// Loads a BTF-tracing program, or checks the kernel's refusal is clear and returns None.
fn load_tracing(prog: &str) -> Option<corebpf::Object> {
    match load_trace(&[prog]) {
        Ok(obj) => Some(obj),
        Err(e) => {
            assert!(refused_load(&e), "{prog}: unexpected error {e}");
            let msg = e.to_string();
            assert!(msg.contains(&format!("program '{prog}'")), "{msg}");
            assert!(msg.contains("EPERM"), "{msg}");
            eprintln!("{prog}: this kernel refuses the load: {msg}");
            None
        }
    }
}

#[test]
fn fentry_and_fexit_or_a_clear_error() {
    for (prog, s) in [
        ("fentry_openat2", slot::FENTRY),
        ("fexit_openat2", slot::FEXIT),
    ] {
        let Some(obj) = load_tracing(prog) else {
            continue;
        };
        let link = obj.program(prog).unwrap().attach_tracing().unwrap();
        open_n(N);
        let n = count(&obj, s);
        assert!(n >= N as u64, "{prog}: {n}");
        drop(link);
        open_n(N);
        assert_eq!(count(&obj, s), n, "{prog} after drop");
    }
}

#[test]
fn fmod_ret_or_a_clear_error() {
    let Some(obj) = load_tracing("fmod_ret_file_open") else {
        return;
    };
    let link = obj.program("fmod_ret_file_open").unwrap().attach().unwrap();
    open_n(N);
    let n = count(&obj, slot::FMOD_RET);
    assert!(n >= N as u64, "{n}");
    drop(link);
    open_n(N);
    assert_eq!(count(&obj, slot::FMOD_RET), n);
}

#[test]
fn lsm_or_a_clear_error() {
    let Some(obj) = load_tracing("lsm_file_open") else {
        return;
    };
    let prog = obj.program("lsm_file_open").unwrap();
    match prog.attach_tracing() {
        Ok(link) => {
            // Before counting: reading securityfs opens a file.
            assert!(bpf_lsm_active(), "attached without the BPF LSM?");
            open_n(N);
            let n = count(&obj, slot::LSM);
            assert!(n >= N as u64, "{n}");
            drop(link);
            open_n(N);
            assert_eq!(count(&obj, slot::LSM), n);
        }
        Err(e) => {
            assert!(!bpf_lsm_active(), "BPF LSM active but: {e}");
            let msg = e.to_string();
            assert!(msg.contains("program 'lsm_file_open'"), "{msg}");
            assert!(msg.contains("the BPF LSM is not active"), "{msg}");
        }
    }
}

#[test]
fn iter_task_lists_this_process() {
    let obj = load_trace(&["dump_task"]).unwrap();
    let link = obj.program("dump_task").unwrap().attach_iter(None).unwrap();
    let text = String::from_utf8(link.read_iter().unwrap()).unwrap();
    let me = format!("{} {} ", std::process::id(), gettid());
    assert!(
        text.lines().any(|l| l.starts_with(&me)),
        "no line for this thread in {} lines",
        text.lines().count()
    );
    assert!(text.lines().count() > 2, "{text}");
    // Each read starts a new iteration.
    assert!(!link.read_iter().unwrap().is_empty());
    let info = link.info().unwrap();
    assert_eq!(info.link_type, Some(LinkType::Iter));
}

#[test]
fn perf_event_program_on_cpu_clock() {
    let obj = load_trace(&["perf_sample"]).unwrap();
    let link = obj
        .program("perf_sample")
        .unwrap()
        .attach_cpu_clock(1000)
        .unwrap();
    let start = Instant::now();
    let mut x = 0u64;
    while count(&obj, slot::PERF_EVENT) < 5 && start.elapsed() < Duration::from_secs(10) {
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
    }
    assert!(count(&obj, slot::PERF_EVENT) >= 5);
    drop(link);
    let n = count(&obj, slot::PERF_EVENT);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(count(&obj, slot::PERF_EVENT), n, "samples after drop");
}

#[test]
fn attach_all_attaches_programs_whose_sec_name_says_where() {
    let obj = load_trace(&["tp_getpid", "raw_tp_sys_enter", "dump_task", "kprobe_any"]).unwrap();
    let links = obj.attach_all().unwrap();
    // kprobe_any (bare SEC("kprobe")) has no target: skipped.
    let mut targets: Vec<&str> = links.iter().map(|l| l.target()).collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "iter task",
            "raw tracepoint sys_enter",
            "tracepoint syscalls/sys_enter_getpid"
        ]
    );
    getpid_n(N);
    assert!(count(&obj, slot::TP) >= N as u64);
    assert!(count(&obj, slot::RAW_TP) >= N as u64);
    let e = obj.program("kprobe_any").unwrap().attach().unwrap_err();
    assert!(
        e.to_string().contains("does not say where to attach"),
        "{e}"
    );
}

/// Child side of `pinned_link_outlives_its_process`: attaches raw_tp for the parent's
/// thread, pins the link and the counters, exits.
#[test]
fn child_helper_pin() {
    if std::env::var(CHILD_ENV).as_deref() != Ok("pin") {
        return;
    }
    let tid: u32 = std::env::var("COREBPF_TID").unwrap().parse().unwrap();
    let dir = std::path::PathBuf::from(std::env::var("COREBPF_PIN_DIR").unwrap());
    let obj = load_trace_for(&["raw_tp_sys_enter"], tid).unwrap();
    let link = obj
        .program("raw_tp_sys_enter")
        .unwrap()
        .attach_raw_tracepoint("sys_enter")
        .unwrap();
    link.pin(dir.join("link")).unwrap();
    obj.map("counts").unwrap().pin(dir.join("counts")).unwrap();
}

#[test]
fn pinned_link_outlives_its_process() {
    let root = corebpf::pin::ensure_bpffs().unwrap();
    let dir = root.join(format!("corebpf_attach_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = spawn_child(
        "child_helper_pin",
        "pin",
        &[
            ("COREBPF_TID", gettid().to_string()),
            ("COREBPF_PIN_DIR", dir.display().to_string()),
        ],
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let link = Link::from_pinned(dir.join("link")).unwrap();
    let info = link.info().unwrap();
    assert_eq!(info.link_type, Some(LinkType::RawTracepoint));
    assert!(info.prog_id != 0);
    let counts = corebpf::map::Map::from_pinned(dir.join("counts")).unwrap();
    let read = || {
        counts
            .as_array::<u64>()
            .unwrap()
            .get(slot::RAW_TP, 0)
            .unwrap()
    };
    getpid_n(N);
    let n = read();
    assert!(n >= N as u64, "the pinned link's program ran {n} times");
    // Dropping the reopened link leaves it attached: the pin holds it.
    drop(link);
    getpid_n(N);
    let m = read();
    assert!(m >= n + N as u64);
    // Without the pin it goes (the kernel puts an unpinned link from a work queue: wait
    // for that).
    corebpf::pin::unpin(dir.join("link")).unwrap();
    let start = Instant::now();
    loop {
        let before = read();
        getpid_n(N);
        if read() == before {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "events after unpinning"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A link pinned outside a bpffs is refused with an [`corebpf::Error::Pin`] that names the
/// program, the target and the path, and keeps the [`PinError`] as its source.
#[test]
fn pinning_a_link_outside_bpffs_keeps_the_pin_error() {
    let obj = load_trace(&["raw_tp_sys_enter"]).unwrap();
    let link = obj
        .program("raw_tp_sys_enter")
        .unwrap()
        .attach_raw_tracepoint("sys_enter")
        .unwrap();
    let dir = std::env::temp_dir().join(format!("corebpf_link_nobpffs_{}", std::process::id()));
    let e = link.pin(dir.join("link")).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    let text = e.to_string();
    assert!(
        text.contains("program 'raw_tp_sys_enter'")
            && text.contains("raw tracepoint sys_enter")
            && text.contains("not on a BPF file system"),
        "{text}"
    );
    match &e {
        corebpf::Error::Pin {
            error: PinError::NotBpffs { path },
            ..
        } => assert_eq!(Path::new(path), dir),
        other => panic!("not a pin error: {other:?}"),
    }
    // The pin error's message is part of this one, so it is not also `source()`.
    assert!(std::error::Error::source(&e).is_none());
}

#[test]
fn forget_and_into_fd_keep_the_program_attached() {
    let obj = load_trace(&["raw_tp_sys_enter"]).unwrap();
    let prog = obj.program("raw_tp_sys_enter").unwrap();
    let fd = prog
        .attach_raw_tracepoint("sys_enter")
        .unwrap()
        .into_fd()
        .unwrap();
    getpid_n(N);
    let n = count(&obj, slot::RAW_TP);
    assert!(n >= N as u64);
    drop(fd);
    getpid_n(N);
    assert_eq!(count(&obj, slot::RAW_TP), n);
    let link = prog.attach_raw_tracepoint("sys_enter").unwrap();
    let id = link.info().unwrap().id;
    link.forget();
    getpid_n(N);
    assert!(count(&obj, slot::RAW_TP) >= n + N as u64);
    // The leaked link is still there (until this process exits).
    assert!(corebpf::sys::link_get_fd_by_id(id).is_ok());
}
