//! Loading the `testdata` objects into this kernel and running their programs with
//! `BPF_PROG_TEST_RUN`: every expectation of `testdata/bpf/expected/runs.json`, for objects
//! built by clang 14 and clang 19.
//!
//! Most fixtures are `SEC("syscall")` programs (Linux 5.14). On a kernel without that
//! program type (5.10 in `cargo xtask vm-test`) each test first checks that loading as
//! written fails with an error naming the missing program type, then loads the same program
//! as a socket filter (`OpenObject::set_program_type`) and runs it on a packet: the same
//! instructions, maps, globals and CO-RE, on a type the kernel has.

mod maps_util;

use std::path::PathBuf;

use corebpf::sys::{probe_prog_type, ProgType};
use corebpf::{Error, Object, ObjectBuilder, OpenObject, TestRun};
use maps_util::kernel_at_least;

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn json() -> serde_json::Value {
    let text = std::fs::read_to_string(testdata().join("bpf/expected/runs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn le_u64(b: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
    u64::from_ne_bytes(buf)
}

/// The release that added each program type these tests use.
fn since(t: ProgType) -> (u32, u32) {
    match t {
        ProgType::Syscall => (5, 14),
        ProgType::Tracing => (5, 5),
        ProgType::Xdp => (4, 8),
        ProgType::Tracepoint => (4, 7),
        ProgType::Kprobe | ProgType::SchedCls => (4, 1),
        ProgType::SocketFilter => (3, 19),
        other => panic!("no release recorded for {other}"),
    }
}

/// Whether this kernel has program type `t`: the probe, cross-checked with the release.
fn have_prog_type(t: ProgType) -> bool {
    let have = probe_prog_type(t);
    let (major, minor) = since(t);
    assert_eq!(
        have,
        kernel_at_least(major, minor),
        "probe for {t} disagrees with the kernel release (added in {major}.{minor})"
    );
    have
}

/// `err` is the clear error for program `prog` of a type this kernel lacks.
fn assert_missing_prog_type(err: &Error, prog: &str, t: ProgType) {
    let text = err.to_string();
    let (major, minor) = since(t);
    assert!(!err.is_permission(), "{text}");
    assert!(
        text.contains(&format!("program '{prog}'"))
            && text.contains(&format!(
                "this kernel does not support program type {} (Linux {major}.{minor})",
                t.name()
            )),
        "{text}"
    );
}

/// The program type `prog`'s section gives it.
fn prog_type_of(open: &OpenObject, prog: &str) -> ProgType {
    open.spec()
        .programs
        .iter()
        .find(|p| p.name == prog)
        .unwrap_or_else(|| panic!("no program {prog}"))
        .prog_type
}

/// An Ethernet + IPv4 + UDP frame of 54 bytes (a socket filter sees `skb->len` 40).
const FRAME: &str = "00000000000000010203040508004500002800000000401100000a0000010a0000020000000000000000000000000000000000000000";

/// Loads `prog` as `make()` opens it, where this kernel has its program type. Where it does
/// not, checks that the load fails naming the missing type, and loads `prog` alone as a
/// socket filter instead. Returns the object and the input data to run it on (a frame for a
/// socket filter that was a `SEC("syscall")` program).
fn load_runnable(
    make: impl Fn() -> OpenObject,
    prog: &str,
) -> (corebpf::Result<Object>, Option<Vec<u8>>) {
    let open = make();
    let t = prog_type_of(&open, prog);
    if have_prog_type(t) {
        return (open.load(), None);
    }
    let mut open = make();
    open.load_only(&[prog]).unwrap();
    let err = open
        .load()
        .expect_err("load of a program type this kernel lacks");
    assert_missing_prog_type(&err, prog, t);
    let mut open = make();
    open.load_only(&[prog]).unwrap();
    open.set_program_type(prog, ProgType::SocketFilter).unwrap();
    (open.load(), Some(hex(FRAME)))
}

/// Helpers some runnable programs call, with the release that added them.
const HELPERS_NEEDED: &[(&str, &str, u32, (u32, u32))] = &[
    ("subprog_loop", "bpf_loop", 181, (5, 17)),
    ("subprog_for_each", "bpf_for_each_map_elem", 164, (5, 13)),
];

#[test]
fn every_runnable_program_returns_what_runs_json_says() {
    let runs = json();
    let mut checked = 0;
    for clang in ["clang14", "clang19"] {
        for p in runs["programs"].as_array().unwrap() {
            let object = p["object"].as_str().unwrap();
            let program = p["program"].as_str().unwrap();
            if object == "obj_externs_kconfig.bpf.o" {
                continue; // machine-specific values: see kconfig_externs_match_this_kernel
            }
            let path = testdata().join("bpf/out").join(clang).join(object);
            // Each run with .rodata overrides needs a fresh object; the others share one.
            let mut obj = None;
            let mut data_for_run = None;
            let needs = HELPERS_NEEDED.iter().find(|h| h.0 == program);
            for run in p["runs"].as_array().unwrap() {
                let fresh = run.get("rodata").is_some();
                if fresh || obj.is_none() {
                    // Load the whole object (tail-call targets included) as bpftool's loadall
                    // does; objects with a program meant to fail load just this one.
                    let open_with = |only: bool| {
                        let mut open = ObjectBuilder::new().open_file(&path).unwrap();
                        if only {
                            open.load_only(&[program]).unwrap();
                        }
                        if let Some(ro) = run.get("rodata").and_then(|r| r.as_object()) {
                            for (k, v) in ro {
                                let v = v.as_u64().unwrap() as u32;
                                open.set_global(k, &v.to_ne_bytes()).unwrap();
                            }
                        }
                        open
                    };
                    let (loaded, data) = load_runnable(|| open_with(false), program);
                    let loaded = loaded.or_else(|e| {
                        eprintln!("{clang}/{object}: whole object did not load ({e}); loading '{program}' alone");
                        load_runnable(|| open_with(true), program).0
                    });
                    if let Some((_, helper, id, (major, minor))) = needs {
                        // A callback needs 5.13; the helper may need a later release.
                        let text = if !kernel_at_least(5, 13) {
                            "passes a callback function (BPF_PSEUDO_FUNC, as bpf_loop, bpf_for_each_map_elem and timers need), which kernels before 5.13 do not support".to_string()
                        } else if !kernel_at_least(*major, *minor) {
                            format!("invalid func unknown#{id}: the program calls helper {helper} (#{id}), which this kernel")
                        } else {
                            String::new()
                        };
                        if !text.is_empty() {
                            let err = loaded.expect_err("a feature newer than the kernel");
                            assert!(
                                err.to_string().contains(&text),
                                "{clang}/{object}/{program}: wanted {text:?} in: {err}"
                            );
                            checked += 1;
                            break;
                        }
                    }
                    obj = Some(loaded.unwrap_or_else(|e| panic!("{clang}/{object}: {e}")));
                    data_for_run = data;
                }
                let o = obj.as_ref().unwrap();
                let prog = o.program(program).unwrap();
                let data = run
                    .get("data_in")
                    .and_then(|d| d.as_str())
                    .map(hex)
                    .or_else(|| data_for_run.clone())
                    .unwrap_or_default();
                let out = prog
                    .test_run(&TestRun {
                        data: &data,
                        ..Default::default()
                    })
                    .unwrap();
                assert_eq!(
                    out.retval as u64,
                    run["retval"].as_u64().unwrap(),
                    "{clang}/{object}/{program}: {}",
                    run.get("what").and_then(|w| w.as_str()).unwrap_or("")
                );
                if let Some(globals) = run.get("globals").and_then(|g| g.as_object()) {
                    for (name, want) in globals {
                        let got = le_u64(&o.read_global(name).unwrap());
                        assert_eq!(
                            got,
                            want.as_u64().unwrap(),
                            "{clang}/{object}: global {name}"
                        );
                    }
                }
                checked += 1;
                if fresh {
                    obj = None;
                }
            }
            if let (Some(maps), Some(o)) = (p.get("maps").and_then(|m| m.as_object()), obj.as_ref())
            {
                for (map, entries) in maps {
                    let m = o.map(map).unwrap_or_else(|| panic!("{object}: map {map}"));
                    for (k, want) in entries.as_object().unwrap() {
                        let key: u32 = k.parse().unwrap();
                        let v = m.lookup(&key.to_ne_bytes(), 0).unwrap().unwrap();
                        assert_eq!(
                            le_u64(&v),
                            want.as_u64().unwrap(),
                            "{clang}/{object}: {map}[{k}]"
                        );
                    }
                }
            }
        }
    }
    assert!(checked >= 30, "{checked} runs checked");
}

#[test]
fn kconfig_externs_match_this_kernel() {
    let version = libbpf_kernel_version() as u64;
    for clang in ["clang14", "clang19"] {
        let path = testdata()
            .join("bpf/out")
            .join(clang)
            .join("obj_externs_kconfig.bpf.o");
        let config = "CONFIG_BPF_SYSCALL=y\nCONFIG_HZ=300\nCONFIG_BPF_LSM=y\nCONFIG_NET_SCH_SFQ=m\nCONFIG_DEFAULT_HOSTNAME=\"corebpf\"\n";
        let (obj, data) = load_runnable(
            || {
                ObjectBuilder::new()
                    .kconfig(config)
                    .open_file(&path)
                    .unwrap()
            },
            "kconfig_read",
        );
        let obj = obj.unwrap();
        let prog = obj.program("kconfig_read").unwrap();
        let input = TestRun {
            data: data.as_deref().unwrap_or_default(),
            ..Default::default()
        };
        assert_eq!(prog.test_run(&input).unwrap().retval, 0);
        let out = obj.read_global("out").unwrap();
        let word = |i: usize| le_u64(&out[i * 8..i * 8 + 8]);
        assert_eq!(word(0), version, "LINUX_KERNEL_VERSION");
        assert_eq!(word(1), 1, "CONFIG_BPF_SYSCALL=y");
        assert_eq!(word(2), 300, "CONFIG_HZ");
        assert_eq!(word(3), 1, "bool y");
        assert_eq!(word(4), 2, "tristate m");
        assert_eq!(word(5), 0, "weak missing");
        assert_eq!(&out[48..56], b"corebpf\0");
    }
}

#[test]
fn verifier_rejection_names_the_message_and_source_line() {
    let path = testdata().join("bpf/out/clang19/bad_verifier.bpf.o");
    let open = || {
        let mut open = ObjectBuilder::new().open_file(&path).unwrap();
        open.load_only(&["bad_oob"]).unwrap();
        open
    };
    let err = load_runnable(open, "bad_oob").0.unwrap_err();
    let v = err
        .verifier()
        .unwrap_or_else(|| panic!("not a verifier error: {err}"));
    assert!(
        v.message
            .contains("invalid access to map value, value_size=8 off=8 size=8"),
        "{}",
        v.message
    );
    let line = v.source_line.as_deref().unwrap_or("");
    assert!(
        line.contains("BAD_VERIFIER_OOB") && line.contains("bad_verifier.bpf.c:"),
        "{line}"
    );
    let text = err.to_string();
    assert!(
        text.contains("bad_oob") && text.contains("BAD_VERIFIER_OOB"),
        "{text}"
    );
}

#[test]
fn reachable_poisoned_core_relocation_is_explained() {
    let path = testdata().join("bpf/out/clang19/bad_core_poison.bpf.o");
    let open = || {
        let mut open = ObjectBuilder::new().open_file(&path).unwrap();
        open.load_only(&["poisoned_reachable"]).unwrap();
        open
    };
    let err = load_runnable(open, "poisoned_reachable").0.unwrap_err();
    let v = err.verifier().unwrap_or_else(|| panic!("{err}"));
    assert!(v.log.contains("invalid func unknown#195896080"));
    let core = v
        .core
        .as_deref()
        .unwrap_or_else(|| panic!("no CO-RE explanation: {err}"));
    assert!(
        core.contains("<byte_off>") && core.contains("struct corebpf_nonexist.non_exist"),
        "{core}"
    );
    assert!(
        v.source_line
            .as_deref()
            .unwrap_or("")
            .contains("BAD_CORE_REACHABLE"),
        "{:?}",
        v.source_line
    );
}

/// An expected output: a number, or a type id named by `{"local_type"|"target_type": "struct x"}`
/// looked up in the object's or the target's BTF.
fn expected_value(v: &serde_json::Value, obj: &std::path::Path, target: &std::path::Path) -> u64 {
    use corebpf::btf::{Btf, Kind};
    if let Some(n) = v.as_i64() {
        return n as u64;
    }
    if let Some(n) = v.as_u64() {
        return n;
    }
    let (file, name) = match (v.get("local_type"), v.get("target_type")) {
        (Some(n), _) => (obj, n.as_str().unwrap()),
        (_, Some(n)) => (target, n.as_str().unwrap()),
        _ => panic!("unexpected expectation {v}"),
    };
    let btf = Btf::from_elf(&std::fs::read(file).unwrap()).unwrap();
    let (kind, name) = match name.split_once(' ') {
        Some(("struct", n)) => (Kind::Struct, n),
        Some(("union", n)) => (Kind::Union, n),
        Some(("typedef", n)) => (Kind::Typedef, n),
        Some(("enum", n)) => (Kind::Enum, n),
        _ => (Kind::Int, name),
    };
    btf.find_by_name_kind(name, kind)
        .unwrap_or_else(|| panic!("{name} in {}", file.display())) as u64
}

#[test]
fn core_families_run_with_target_btf_and_the_kernel_confirms_the_offsets() {
    let mut families = 0;
    for entry in std::fs::read_dir(testdata().join("bpf/expected")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with("core_") || !name.ends_with(".json") {
            continue;
        }
        let exp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(run) = exp.get("run") else { continue };
        for clang in ["clang14", "clang19"] {
            let min = exp["min_clang"].as_u64().unwrap_or(14);
            if clang == "clang14" && min > 14 {
                continue;
            }
            let out_dir = testdata().join("bpf/out").join(clang);
            let obj_path = out_dir.join(exp["object"].as_str().unwrap());
            let target = out_dir.join(exp["target"].as_str().unwrap());
            let program = exp["program"].as_str().unwrap();
            let open = || {
                ObjectBuilder::new()
                    .btf_file(&target)
                    .open_file(&obj_path)
                    .unwrap()
            };
            // The relocation itself does not depend on the kernel: everywhere, the loader's
            // CO-RE pass logs exactly what libbpf logged for this object and target.
            let mut spec = open().spec().clone();
            let targets = corebpf::obj::core_relo::target_from_file(&target).unwrap();
            let mut relocator = corebpf::btf::relo::Relocator::new(&targets).record_log();
            let outcomes = spec.relocate_core(&mut relocator, |_| true).unwrap();
            assert_eq!(
                outcomes.len() as u64,
                exp["count"][clang].as_u64().unwrap(),
                "{name} {clang}: relocation count"
            );
            let log_name = name.replace(
                ".json",
                if clang == "clang14" {
                    ".clang14.libbpf.log"
                } else {
                    ".libbpf.log"
                },
            );
            let golden: Vec<String> =
                std::fs::read_to_string(testdata().join("bpf/expected").join(&log_name))
                    .unwrap()
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| l.strip_prefix("libbpf: ").unwrap_or(l).to_string())
                    .collect();
            assert_eq!(relocator.take_log(), golden, "{name} {clang}: CO-RE log");
            // Running it needs SEC("syscall") (its input is a context struct).
            let t = prog_type_of(&open(), program);
            if !have_prog_type(t) {
                let err = open()
                    .load()
                    .expect_err("SEC(\"syscall\") on a kernel without it");
                assert_missing_prog_type(&err, program, t);
                continue;
            }
            let obj = open()
                .load()
                .unwrap_or_else(|e| panic!("{name} {clang}: {e}"));
            let prog = obj.program(program).unwrap();
            let mut ctx = hex(run["ctx_in"].as_str().unwrap());
            let size = run["ctx_size"].as_u64().unwrap_or(0) as usize;
            if ctx.len() < size {
                ctx.resize(size, 0);
            }
            let r = prog
                .test_run(&TestRun {
                    ctx: &ctx,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(
                r.retval as u64,
                run["retval"].as_u64().unwrap(),
                "{name} {clang}"
            );
            let out = obj.read_global("out").unwrap();
            for (i, o) in run["out"].as_array().unwrap().iter().enumerate() {
                let o = o.as_array().unwrap();
                if clang == "clang14" && o.get(2).and_then(|m| m.as_u64()).unwrap_or(14) > 14 {
                    continue;
                }
                let want = expected_value(&o[1], &obj_path, &target);
                let got = le_u64(&out[i * 8..i * 8 + 8]);
                assert_eq!(got, want, "{name} {clang}: out[{i}] ({})", o[0]);
            }
        }
        families += 1;
    }
    assert!(families >= 10, "{families} families ran");
}

/// `struct event` of `core_tracing.bpf.c`, as the ring buffer carries it.
#[derive(Debug)]
struct TraceEvent {
    pid: u32,
    tgid: u32,
    ppid: u32,
    uid: u32,
    state: u64,
    skb_len: u32,
    skb_ifindex: u32,
    skb_protocol: u16,
    comm: String,
}

impl TraceEvent {
    fn parse(b: &[u8]) -> TraceEvent {
        assert!(b.len() >= 50, "event of {} bytes", b.len());
        let u32_at = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap());
        let comm = &b[34..50];
        let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
        TraceEvent {
            pid: u32_at(0),
            tgid: u32_at(4),
            ppid: u32_at(8),
            uid: u32_at(12),
            state: u64::from_ne_bytes(b[16..24].try_into().unwrap()),
            skb_len: u32_at(24),
            skb_ifindex: u32_at(28),
            skb_protocol: u16::from_ne_bytes(b[32..34].try_into().unwrap()),
            comm: String::from_utf8_lossy(&comm[..end]).into_owned(),
        }
    }
}

/// The events in `obj`'s ring buffer.
fn drain_events(ring: &mut corebpf::ringbuf::RingBuf) -> Vec<TraceEvent> {
    let mut out = Vec::new();
    ring.consume(|b: &[u8]| out.push(TraceEvent::parse(b)))
        .unwrap();
    out
}

/// Loads program `prog` of `core_tracing.bpf.o`, relocated against this kernel's own BTF.
fn load_tracing(prog: &str) -> corebpf::Result<Object> {
    let path = testdata().join("bpf/out/clang19/core_tracing.bpf.o");
    let mut open = ObjectBuilder::new().open_file(&path).unwrap();
    open.load_only(&[prog]).unwrap();
    open.load()
}

/// Sends one UDP datagram of `payload` bytes to ourselves over the loopback device from
/// CPU 0 (the probes below fire there); the frame dev_queue_xmit sees is
/// 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + payload bytes.
fn send_udp_on_lo(payload: usize) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(&vec![0x5au8; payload], sock.local_addr().unwrap())
        .unwrap();
    let mut buf = vec![0u8; payload + 16];
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    assert_eq!(sock.recv(&mut buf).unwrap(), payload);
}

fn gettid() -> u32 {
    // SAFETY: no arguments, no memory.
    unsafe { libc::gettid() as u32 }
}

/// Checks an event the kprobe or tp_btf program recorded for our UDP datagram.
fn check_xmit_event(events: &[TraceEvent], payload: usize, what: &str) {
    let len = (14 + 20 + 8 + payload) as u32;
    let e = events
        .iter()
        .find(|e| e.tgid == std::process::id() && e.skb_len == len)
        .unwrap_or_else(|| panic!("{what}: no event for our {len}-byte frame in {events:?}"));
    assert_eq!(e.pid, gettid(), "{what}: pid is the sending thread");
    assert_eq!(
        e.ppid,
        nix::unistd::getppid().as_raw() as u32,
        "{what}: parent"
    );
    assert_eq!(e.uid, nix::unistd::getuid().as_raw(), "{what}: uid");
    assert_eq!(e.state, 0, "{what}: a running task's state");
    assert_eq!(e.skb_ifindex, 1, "{what}: lo's ifindex");
    assert_eq!(u16::from_be(e.skb_protocol), 0x0800, "{what}: ETH_P_IP");
}

/// Issue 9: the realistic tracing object, relocated against each kernel's own BTF (5.10 has
/// `task_struct::state`, later kernels `__state`), loads there and reads correct values:
/// the socket filter through BPF_PROG_TEST_RUN, the tracepoint, kprobe and tp_btf programs
/// attached (with corebpf-sys calls: attaching is not what is tested here) and fed by an
/// exec and a UDP datagram on lo.
#[test]
fn core_tracing_object_is_relocated_loaded_and_reads_correct_values() {
    // Socket filter: no CO-RE; returns skb->len for an IPv4 frame.
    assert!(have_prog_type(ProgType::SocketFilter));
    let obj = load_tracing("trace_socket").unwrap();
    // vmlinux.h marks every struct preserve_access_index, so even the UAPI __sk_buff reads
    // carry CO-RE relocations: against any kernel they keep their offsets (a stable ABI).
    let socket_relos: Vec<_> = obj
        .core_relocations()
        .iter()
        .filter(|o| o.function == "trace_socket")
        .collect();
    assert!(!socket_relos.is_empty());
    for o in socket_relos {
        assert!(
            !o.poisoned && o.new_val == o.orig_val,
            "__sk_buff is UAPI: {o:?}"
        );
    }
    let prog = obj.program("trace_socket").unwrap();
    let frame = hex(FRAME);
    for extra in [0usize, 46] {
        let mut data = frame.clone();
        data.resize(frame.len() + extra, 0);
        let out = prog
            .test_run(&TestRun {
                data: &data,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            out.retval as usize,
            data.len() - 14,
            "skb->len of a {}-byte frame",
            data.len()
        );
    }

    maps_util::pin_thread_to(0);

    // Tracepoint sched_process_exec: fed by exec'ing this test binary with --list.
    assert!(have_prog_type(ProgType::Tracepoint));
    let obj = load_tracing("trace_exec").unwrap();
    assert!(
        obj.core_log().iter().any(|l| l.contains("task_struct")),
        "CO-RE against this kernel's task_struct: {:?}",
        obj.core_log()
    );
    let mut ring = corebpf::ringbuf::RingBuf::new(obj.map("events").unwrap()).unwrap();
    let prog = obj.program("trace_exec").unwrap();
    let id = corebpf::sys::perf::tracepoint_id("sched", "sched_process_exec").unwrap();
    let pe = corebpf::sys::perf::perf_event_open_tracepoint(id).unwrap();
    corebpf::sys::perf::perf_event_set_bpf(
        std::os::fd::AsFd::as_fd(&pe),
        std::os::fd::AsFd::as_fd(prog),
    )
    .unwrap();
    corebpf::sys::perf::perf_event_enable(std::os::fd::AsFd::as_fd(&pe)).unwrap();
    let exe = std::env::current_exe().unwrap();
    let child = std::process::Command::new(&exe)
        .arg("--list")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let child_pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    drop(pe);
    let events = drain_events(&mut ring);
    let e = events
        .iter()
        .find(|e| e.pid == child_pid)
        .unwrap_or_else(|| panic!("no exec event for pid {child_pid} in {events:?}"));
    let name = exe.file_name().unwrap().to_str().unwrap();
    assert_eq!(e.tgid, child_pid);
    assert_eq!(e.ppid, std::process::id(), "real_parent->tgid");
    assert_eq!(e.uid, nix::unistd::getuid().as_raw(), "cred->uid");
    assert_eq!(e.comm, &name[..name.len().min(15)], "comm after exec");
    assert_eq!(e.skb_len, child_pid, "the tracepoint record's pid field");
    assert_eq!(e.state, 0, "a running task's state");

    // kprobe on the transmit path: dev_queue_xmit is the function before 5.19, an inline
    // wrapper of __dev_queue_xmit since; both take the skb first.
    assert!(have_prog_type(ProgType::Kprobe));
    let obj = load_tracing("trace_xmit_kprobe").unwrap();
    let mut ring = corebpf::ringbuf::RingBuf::new(obj.map("events").unwrap()).unwrap();
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    // The global function (6.1 also has a local out-of-line copy of the inline wrapper).
    let global = |f: &str| {
        kallsyms.lines().any(|l| {
            let mut it = l.split_whitespace().skip(1);
            it.next() == Some("T") && it.next() == Some(f) && it.next().is_none()
        })
    };
    let func = [c"__dev_queue_xmit", c"dev_queue_xmit"]
        .into_iter()
        .find(|f| global(f.to_str().unwrap()))
        .expect("dev_queue_xmit or __dev_queue_xmit in /proc/kallsyms");
    let pe = corebpf::sys::perf::perf_event_open_probe(&corebpf::sys::perf::ProbeAttr {
        kind: corebpf::sys::perf::ProbeKind::Kprobe,
        retprobe: false,
        name: Some(func),
        offset: 0,
        ref_ctr_offset: 0,
        pid: -1,
    });
    // The guests have kprobes (the harness's smoke checks); a host kernel may not.
    let pmu = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    assert!(
        pmu || std::env::var_os("COREBPF_VM").is_none(),
        "guest without kprobe PMU"
    );
    let pe = match pe {
        Ok(pe) => pe,
        Err(e) => {
            assert!(!pmu, "{e}");
            assert!(
                e.is_unsupported() && e.to_string().contains("this kernel has no kprobe support"),
                "{e}"
            );
            eprintln!(
                "no kprobe PMU on this kernel: the kprobe program loaded but cannot run ({e})"
            );
            return check_tp_btf();
        }
    };
    let prog = obj.program("trace_xmit_kprobe").unwrap();
    corebpf::sys::perf::perf_event_set_bpf(
        std::os::fd::AsFd::as_fd(&pe),
        std::os::fd::AsFd::as_fd(prog),
    )
    .unwrap();
    corebpf::sys::perf::perf_event_enable(std::os::fd::AsFd::as_fd(&pe)).unwrap();
    send_udp_on_lo(100);
    drop(pe);
    check_xmit_event(&drain_events(&mut ring), 100, "kprobe");

    check_tp_btf();
}

/// tp_btf/net_dev_queue: the program calls bpf_get_current_task_btf (Linux 5.11).
fn check_tp_btf() {
    let loaded = load_tracing("trace_xmit_btf");
    if !kernel_at_least(5, 11) {
        let err = loaded.expect_err("bpf_get_current_task_btf before 5.11");
        let text = err.to_string();
        assert!(
            text.contains("invalid func unknown#158")
                && text.contains("calls helper bpf_get_current_task_btf (#158), which this kernel"),
            "{text}"
        );
        return;
    }
    let obj = loaded.unwrap();
    let mut ring = corebpf::ringbuf::RingBuf::new(obj.map("events").unwrap()).unwrap();
    let prog = obj.program("trace_xmit_btf").unwrap();
    let link = corebpf::sys::raw_tracepoint_open(None, std::os::fd::AsFd::as_fd(prog), 0).unwrap();
    send_udp_on_lo(200);
    drop(link);
    check_xmit_event(&drain_events(&mut ring), 200, "tp_btf");
}

/// `LINUX_KERNEL_VERSION` as libbpf computes it, written out independently of corebpf:
/// Debian kernels (the QEMU guests) report `x.y.z` of `Debian x.y.z` in `uname -v`, others
/// the release (`uname -r`).
fn libbpf_kernel_version() -> u32 {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let version = read("/proc/sys/kernel/version");
    let text = match version.split_once("Debian ") {
        Some((_, rest)) => rest.to_string(),
        None => read("/proc/sys/kernel/osrelease"),
    };
    let n: Vec<u32> = text
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    (n[0] << 16) + (n[1] << 8) + n[2].min(255)
}

/// Globals as Rust types: `.rodata` set before load, `.data`/`.bss` read and written after,
/// a frozen `.rodata` refused before any syscall, a wrong-sized type refused by name.
#[test]
fn typed_globals_round_trip() {
    let path = testdata().join("bpf/out/clang19/obj_globals.bpf.o");
    let mut open = ObjectBuilder::new().open_file(&path).unwrap();
    open.set_global_as("cfg_mul", &4u32).unwrap();
    let e = open
        .set_global_as("cfg_mul", &4u64)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'cfg_mul' is 4 bytes"), "{e}");
    if !probe_prog_type(ProgType::Syscall) {
        // 5.10: SEC("syscall") programs arrived in 5.14; the load says so.
        let e = open.load().unwrap_err();
        assert!(
            e.is_unsupported() && e.to_string().contains("syscall"),
            "{e}"
        );
        return;
    }
    let obj = open.load().unwrap();
    obj.write_global_as("counter", &10u64).unwrap();
    let prog = obj.program("globals_compute").unwrap();
    // result = counter * cfg_mul + extra + cfg_add = 10 * 4 + 7 + 100.
    assert_eq!(prog.test_run(&TestRun::default()).unwrap().retval, 147);
    assert_eq!(obj.read_global_as::<u64>("result").unwrap(), 147);
    assert_eq!(obj.read_global_as::<u64>("counter").unwrap(), 11);
    let e = obj.read_global_as::<u32>("result").unwrap_err().to_string();
    assert!(e.contains("'result' is 8 bytes, u32 is 4"), "{e}");
    let e = obj
        .write_global_as("cfg_mul", &5u32)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("frozen after load") && e.contains(".rodata"),
        "{e}"
    );
}
