//! Every system call of an operation failing, one at a time, with every errno a kernel
//! answers under pressure: loading testdata objects, attaching each kind this host has
//! (tracepoint, raw_tp, uprobe, uprobe.multi, iter, perf_event, XDP link and netlink, tcx
//! and netlink TC, socket filter, sockmap, cgroup, struct_ops by value and by link),
//! pinning and reopening maps, programs and links, loading with maps pinned by name
//! (created and reused), and creating ring and perf buffers.
//!
//! `corebpf_sys::fault` (cargo feature `fault-injection`, on for this crate's tests) counts
//! the `bpf(2)`, `perf_event_open`/perf ioctl, netlink, `mmap` and `setsockopt` calls of a
//! run; for each case the test runs the operation once to warm the process caches (kernel
//! BTF, feature probes), once to count its calls, and then once per (call N, errno), with
//! call N failing. Each run must end in a typed error whose `raw_errno()` is the injected
//! errno, or succeed where corebpf retries or goes on without the failed step, as libbpf
//! does (`EAGAIN` of `BPF_PROG_LOAD`, a load retried with a verifier log, the object's BTF,
//! a map's BTF, the default bpffs's token, a cgroup link falling back to
//! `BPF_PROG_ATTACH`, `EINTR` of a netlink recv; the run lists them). It must never panic;
//! once what it returned is dropped, `/proc/self/fd` is as before, no pin is left under the
//! case's pin directory, and no program, map, link or BTF object the run created is alive
//! (the hook records the id of each object a `bpf(2)` command creates; looked up with
//! `BPF_*_GET_FD_BY_ID`, so other processes' objects do not count). The kernel frees
//! objects after an RCU grace period, so the objects of all of a case's runs are checked
//! together, waiting up to 10 s; ids are not reused, so one still alive is the leak of the
//! run that created it.
//!
//! Loads verify one program at a time (`load_threads(1)`), so that call N is the same call
//! in every run. Walking every loadable testdata object takes minutes (one verifies for
//! seconds), so the loads walked are a representative set chosen at run time: every
//! loadable object's calls are counted, and objects are taken by fewest calls first while
//! they make a call, or a pair of consecutive calls, that none taken before makes; the test
//! fails if the set misses any. A last case fails `BPF_PROG_LOAD`s while 4 threads verify
//! `many_progs_heavy` (which program fails depends on timing; the checks do not).
//!
//! One `#[test]` runs every case in order: the injection counter is process-global.
//! `COREBPF_FAULT_ONLY=TEXT` walks only the cases whose name contains `TEXT`.

mod attach_util;

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use corebpf::attach::multi::UprobeMultiOpts;
use corebpf::attach::tc::{TcDirection, TcOpts};
use corebpf::attach::uprobe::UprobeOpts;
use corebpf::attach::xdp::{XdpMode, XdpOpts};
use corebpf::link::Link;
use corebpf::map::{Map, MapError};
use corebpf::perf_buffer::PerfBuffer;
use corebpf::pin::PinError;
use corebpf::ringbuf::RingBuf;
use corebpf::sys::{fault, probe_feature, probe_map_type, probe_prog_type, Feature};
use corebpf::sys::{MapCreateAttr, MapType, ObjKind, ProgType};
use corebpf::{Error, Object, ObjectBuilder};

use attach_util::net::cgroup2_root;

/// The errnos each call is made to fail with.
const ERRNOS: [(i32, &str); 7] = [
    (libc::EPERM, "EPERM"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EINVAL, "EINVAL"),
    (libc::E2BIG, "E2BIG"),
    (libc::EINTR, "EINTR"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOSPC, "ENOSPC"),
];

/// What an operation keeps alive (dropped after the checks).
type Held = Vec<Box<dyn Any>>;

/// A failed operation: its message and the errno it carries.
#[derive(Debug)]
struct Failure {
    text: String,
    errno: Option<i32>,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            errno: e.raw_errno(),
            text: e.to_string(),
        }
    }
}

impl From<MapError> for Failure {
    fn from(e: MapError) -> Failure {
        Failure {
            errno: e.raw_errno(),
            text: e.to_string(),
        }
    }
}

impl From<PinError> for Failure {
    fn from(e: PinError) -> Failure {
        Failure {
            errno: e.raw_errno(),
            text: e.to_string(),
        }
    }
}

type Op<'a> = Box<dyn Fn() -> Result<Held, Failure> + 'a>;

/// One operation to walk.
struct Case<'a> {
    name: String,
    op: Op<'a>,
    /// A directory the operation may pin into: empty before each run, and after a failed
    /// one; emptied after a successful one.
    pins: Option<PathBuf>,
}

/// The uprobe target.
#[no_mangle]
#[inline(never)]
pub extern "C" fn corebpf_fault_uprobe_target(x: u64) -> u64 {
    std::hint::black_box(x + 1)
}

fn testdata() -> PathBuf {
    corebpf_testutil::testdata().join("bpf/out/clang19")
}

/// Opens and loads testdata object `name` (only `programs`, if given), with maps pinned by
/// name under `pin_root`, verifying one program at a time so that every run makes its
/// calls in the same order; a CO-RE test object relocates against its `.target.bpf.o`.
fn load(name: &str, programs: Option<&[&str]>, pin_root: &Path) -> Result<Object, Failure> {
    load_with_threads(name, programs, pin_root, 1)
}

/// [`load`] with `threads` verifier threads.
fn load_with_threads(
    name: &str,
    programs: Option<&[&str]>,
    pin_root: &Path,
    threads: usize,
) -> Result<Object, Failure> {
    let mut builder = ObjectBuilder::new()
        .pin_root(pin_root)
        .load_threads(threads);
    let target = testdata().join(name.replace(".bpf.o", ".target.bpf.o"));
    if target.exists() {
        builder = builder.btf_file(target);
    }
    let mut open = builder.open_file(testdata().join(name))?;
    if let Some(p) = programs {
        open.load_only(p)?;
    }
    Ok(open.load()?)
}

/// `/proc/self/fd` entries and what they point to.
fn fds() -> BTreeMap<String, String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                target.display().to_string(),
            ))
        })
        .collect()
}

/// The objects of `created` still alive, waiting up to 10 s for the kernel's deferred frees
/// (RCU, work queues; a struct_ops map waits for an RCU-tasks grace period before it lets
/// its BTF go, which can take seconds on a busy machine). Only objects this process created count: other tests may create and
/// hold theirs at the same time. An emptied prog array is not counted (`retained`): see
/// [`kernel_retained`].
fn leaked_objects(created: &[(ObjKind, u32)], retained: &mut usize) -> Vec<(ObjKind, u32, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<(ObjKind, u32, std::os::fd::OwnedFd)> = created
            .iter()
            .filter_map(|(kind, id)| {
                Some((*kind, *id, corebpf::sys::get_fd_by_id(*kind, *id, 0).ok()?))
            })
            .collect();
        if alive.is_empty() || Instant::now() > deadline {
            let (kept, leaked): (Vec<_>, Vec<_>) = alive
                .into_iter()
                .partition(|(kind, _, fd)| kernel_retained(*kind, fd));
            *retained += kept.len();
            return leaked
                .into_iter()
                .map(|(kind, id, fd)| {
                    (kind, id, format!("{kind:?} id {id} {}", describe(kind, fd)))
                })
                .collect();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A prog array the kernel emptied (it clears one when the last user fd and pin are gone)
/// but keeps: Linux 6.18 keeps `run_tailcall`'s `jmp_table` when its program with a
/// constant-key tail call into it is freed while the array's release is still pending,
/// which is what closing a loaded object does (maps, then programs; libbpf's
/// `bpf_object__close` too). With no fault injected and without corebpf in the picture
/// (closing the array, waiting 300 ms, then the programs frees it), so not corebpf's leak.
fn kernel_retained(kind: ObjKind, fd: &std::os::fd::OwnedFd) -> bool {
    if kind != ObjKind::Map {
        return false;
    }
    let Ok(map) = corebpf::sys::MapFd::new(fd.try_clone().unwrap()) else {
        return false;
    };
    map.map_type() == Some(MapType::ProgArray)
        && corebpf::sys::map_keys(&map).is_ok_and(|keys| {
            let mut value = vec![0u8; map.value_buf_size()];
            keys.iter().all(|k| {
                !matches!(
                    corebpf::sys::map_lookup_elem(&map, k, &mut value, 0),
                    Ok(true)
                )
            })
        })
}

/// A kernel object's type and name, for messages.
fn describe(kind: ObjKind, fd: std::os::fd::OwnedFd) -> String {
    match kind {
        ObjKind::Map => corebpf::sys::map_info(fd.as_fd())
            .map(|i| format!("({:?} '{}')", i.map_type(), i.name()))
            .unwrap_or_default(),
        ObjKind::Prog => corebpf::sys::prog_info(fd.as_fd())
            .map(|i| format!("({:?} '{}')", i.prog_type(), i.name()))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn pins_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push(e.path().display().to_string());
            if e.path().is_dir() {
                out.extend(pins_in(&e.path()));
            }
        }
    }
    out
}

fn clear_pins(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
}

/// Totals over every case.
#[derive(Default)]
struct Tally {
    runs: usize,
    failed: usize,
    tolerated: usize,
    problems: Vec<String>,
    /// Emptied prog arrays the kernel kept (see [`kernel_retained`]).
    retained: usize,
    samples: BTreeMap<String, String>,
    /// Runs that succeeded, by failed call and errno.
    tolerated_by: BTreeMap<String, usize>,
    /// Each run's description and the kernel objects it created, not checked yet.
    pending: Vec<(String, Vec<(ObjKind, u32)>)>,
}

/// Runs `case` unarmed twice (warm, count), then once per (call, errno); returns the calls
/// it walked.
fn walk(case: &Case<'_>, tally: &mut Tally) -> Result<Vec<&'static str>, String> {
    if let Some(dir) = &case.pins {
        clear_pins(dir);
    }
    let warm = (case.op)().map_err(|f| format!("fails without injection: {}", f.text))?;
    drop(warm);
    if let Some(dir) = &case.pins {
        clear_pins(dir);
    }
    fault::arm(0, 0);
    let counted = (case.op)();
    let trace = fault::disarm();
    drop(counted.map_err(|f| format!("fails without injection: {}", f.text))?);
    for n in 1..=trace.calls.len() as u64 {
        for (errno, name) in ERRNOS {
            run_once(case, Arm::Once(n), errno, name, tally);
        }
    }
    check_pending(tally);
    Ok(trace.calls)
}

/// The kernel objects each run of a case created that are still alive (see
/// [`leaked_objects`]), checked once for all of the case's runs: the kernel frees a dropped
/// program or map after an RCU grace period (up to a few hundred ms), which would dominate
/// the run time if each run waited for its own. Ids are not reused, so an object still alive
/// is the leak of the run that created it.
fn check_pending(tally: &mut Tally) {
    let pending = std::mem::take(&mut tally.pending);
    let all: Vec<(ObjKind, u32)> = pending.iter().flat_map(|(_, c)| c.clone()).collect();
    let leaked = leaked_objects(&all, &mut tally.retained);
    for (what, created) in &pending {
        let mine: Vec<&String> = leaked
            .iter()
            .filter(|(kind, id, _)| created.contains(&(*kind, *id)))
            .map(|(_, _, text)| text)
            .collect();
        if !mine.is_empty() {
            tally
                .problems
                .push(format!("{what}: kernel objects left: {mine:?}"));
        }
    }
}

/// Which calls of a run fail.
#[derive(Clone, Copy)]
enum Arm {
    /// Call N only.
    Once(u64),
    /// Call N and every call after it.
    From(u64),
}

fn run_once(case: &Case<'_>, arm: Arm, errno: i32, name: &str, tally: &mut Tally) {
    if let Some(dir) = &case.pins {
        clear_pins(dir);
    }
    let fds_before = fds();
    let n = match arm {
        Arm::Once(n) => {
            fault::arm(n, errno);
            n
        }
        Arm::From(n) => {
            fault::arm_from(n, errno);
            n
        }
    };
    let r = catch_unwind(AssertUnwindSafe(|| (case.op)()));
    let inj = fault::disarm();
    let call = inj.failed.unwrap_or("(none)");
    let from = if matches!(arm, Arm::From(_)) {
        " and on"
    } else {
        ""
    };
    let what = format!("{}: call #{n}{from} {call} failing with {name}", case.name);
    tally.runs += 1;
    let failed = match r {
        Err(_) => {
            tally.problems.push(format!("{what}: panicked"));
            true
        }
        Ok(Ok(held)) => {
            tally.tolerated += 1;
            *tally
                .tolerated_by
                .entry(format!("{call} {name}"))
                .or_default() += 1;
            drop(held);
            if let Some(dir) = &case.pins {
                clear_pins(dir);
            }
            false
        }
        Ok(Err(f)) => {
            tally.failed += 1;
            check_failure(&what, &f, errno, tally);
            tally
                .samples
                .entry(format!("{} / {call}", case.name))
                .or_insert(f.text);
            true
        }
    };
    let fds_after = fds();
    if fds_after != fds_before {
        let gone: Vec<_> = fds_before
            .iter()
            .filter(|(k, _)| !fds_after.contains_key(*k))
            .collect();
        let new: Vec<_> = fds_after
            .iter()
            .filter(|(k, _)| !fds_before.contains_key(*k))
            .collect();
        tally
            .problems
            .push(format!("{what}: fds changed: new {new:?}, closed {gone:?}"));
    }
    tally.pending.push((what.clone(), inj.created));
    if let (Some(dir), true) = (&case.pins, failed) {
        let left = pins_in(dir);
        if !left.is_empty() {
            tally.problems.push(format!("{what}: pins left: {left:?}"));
        }
    }
}

/// A failed run's error must carry the injected errno (`raw_errno`, for callers that
/// classify errors) and say what failed.
fn check_failure(what: &str, f: &Failure, errno: i32, tally: &mut Tally) {
    if f.errno != Some(errno) || f.text.trim().is_empty() {
        tally.problems.push(format!(
            "{what}: error without the injected errno ({:?}): {}",
            f.errno, f.text
        ));
    }
}

/// Every feature, program type and map type probe run once, so that no probe runs for the
/// first time while a call is being made to fail (a probe's answer is cached).
fn warm_probes() {
    for f in Feature::ALL {
        probe_feature(*f);
    }
    for t in ProgType::ALL {
        probe_prog_type(*t);
    }
    for t in MapType::ALL {
        probe_map_type(*t);
    }
}

/// A testdata object that loads whole on this host, and the calls its load makes.
struct Loadable {
    name: String,
    calls: Vec<&'static str>,
}

/// The testdata objects that load whole on this host without injection, each with the calls
/// of a load (after one to warm the caches); the others are listed with why (their own
/// tests cover them).
fn loadable_objects(pin_root: &Path) -> (Vec<Loadable>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(testdata())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".bpf.o") && !n.ends_with(".target.bpf.o"))
        .collect();
    names.sort();
    let mut ok = Vec::new();
    let mut skipped = Vec::new();
    for n in names {
        clear_pins(pin_root);
        if let Err(f) = load(&n, None, pin_root) {
            skipped.push(format!("{n}: {}", f.text.lines().next().unwrap_or("")));
            continue;
        }
        clear_pins(pin_root);
        fault::arm(0, 0);
        let loaded = load(&n, None, pin_root);
        let calls = fault::disarm().calls;
        drop(loaded);
        ok.push(Loadable { name: n, calls });
    }
    clear_pins(pin_root);
    (ok, skipped)
}

/// What makes a load's calls distinct: each call, and each pair of consecutive calls
/// (a call after another is most often another step of the loader).
fn call_keys(calls: &[&'static str]) -> BTreeSet<(&'static str, &'static str)> {
    let firsts = std::iter::once("(start)").chain(calls.iter().copied());
    firsts.zip(calls.iter().copied()).collect()
}

/// The objects whose loads are walked: taken by fewest calls first, each kept only if it
/// makes a call, or a pair of consecutive calls, that none kept before it makes. Together
/// they make every call and pair of calls of any loadable object's load, in far fewer
/// runs: the CO-RE families' loads, for one, are all BTF, map, program.
fn representative(objects: &[Loadable]) -> Vec<&Loadable> {
    let mut by_calls: Vec<&Loadable> = objects.iter().collect();
    by_calls.sort_by_key(|o| (o.calls.len(), o.name.clone()));
    let mut seen = BTreeSet::new();
    let mut kept = Vec::new();
    for o in by_calls {
        let keys = call_keys(&o.calls);
        if !keys.is_subset(&seen) {
            seen.extend(keys);
            kept.push(o);
        }
    }
    kept
}

fn held<T: Any>(v: T) -> Box<dyn Any> {
    Box::new(v)
}

/// The attach cases: each loads the one program (so that a program left attached is a new
/// program id still alive) and attaches it.
fn attach_cases<'a>(pin_root: &'a Path, cgroup: &'a Path) -> Vec<Case<'a>> {
    let exe = std::env::current_exe().unwrap();
    let mut cases: Vec<Case<'a>> = Vec::new();
    let mut add = |name: &str, op: Op<'a>| {
        cases.push(Case {
            name: format!("attach {name}"),
            op,
            pins: None,
        })
    };
    add(
        "tracepoint",
        Box::new(move || {
            let obj = load("attach_trace.bpf.o", Some(&["tp_getpid"]), pin_root)?;
            let link = obj
                .try_program("tp_getpid")?
                .attach_tracepoint("syscalls", "sys_enter_getpid")?;
            Ok(vec![held(link), held(obj)])
        }),
    );
    add(
        "raw_tp",
        Box::new(move || {
            let obj = load("attach_trace.bpf.o", Some(&["raw_tp_sys_enter"]), pin_root)?;
            let link = obj
                .try_program("raw_tp_sys_enter")?
                .attach_raw_tracepoint("sys_enter")?;
            Ok(vec![held(link), held(obj)])
        }),
    );
    add(
        "uprobe",
        Box::new(move || {
            let obj = load("attach_trace.bpf.o", Some(&["uprobe_target"]), pin_root)?;
            let link = obj.try_program("uprobe_target")?.attach_uprobe(
                &exe,
                "corebpf_fault_uprobe_target",
                &UprobeOpts::default(),
            )?;
            corebpf_fault_uprobe_target(1);
            Ok(vec![held(link), held(obj)])
        }),
    );
    for netlink in [false, true] {
        add(
            if netlink {
                "xdp (netlink)"
            } else {
                "xdp (link)"
            },
            Box::new(move || {
                let obj = load("attach_net.bpf.o", Some(&["xdp_udp"]), pin_root)?;
                let opts = XdpOpts {
                    mode: XdpMode::Skb,
                    netlink,
                    no_replace: false,
                };
                let link = obj.try_program("xdp_udp")?.attach_xdp(1, &opts)?;
                Ok(vec![held(link), held(obj)])
            }),
        );
        add(
            if netlink { "tc (netlink)" } else { "tc (tcx)" },
            Box::new(move || {
                let obj = load("attach_net.bpf.o", Some(&["tc_udp"]), pin_root)?;
                let opts = TcOpts {
                    netlink,
                    ..Default::default()
                };
                let link =
                    obj.try_program("tc_udp")?
                        .attach_tc_with(1, TcDirection::Ingress, &opts)?;
                Ok(vec![held(link), held(obj)])
            }),
        );
    }
    add(
        "socket filter",
        Box::new(move || {
            let obj = load("attach_net.bpf.o", Some(&["sock_bytes"]), pin_root)?;
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let link = obj.try_program("sock_bytes")?.attach_socket(&sock)?;
            Ok(vec![held(link), held(sock), held(obj)])
        }),
    );
    add(
        "uprobe.multi",
        Box::new(move || {
            let obj = load("multi_probe.bpf.o", Some(&["u_entry"]), pin_root)?;
            let link = obj.try_program("u_entry")?.attach_uprobe_multi(
                std::env::current_exe().unwrap(),
                &UprobeMultiOpts::pattern("corebpf_fault_uprobe_*"),
            )?;
            Ok(vec![held(link), held(obj)])
        }),
    );
    add(
        "iter",
        Box::new(move || {
            let obj = load("attach_trace.bpf.o", Some(&["dump_task"]), pin_root)?;
            let link = obj.try_program("dump_task")?.attach_iter(None)?;
            Ok(vec![held(link), held(obj)])
        }),
    );
    add(
        "perf_event (cpu-clock on every CPU)",
        Box::new(move || {
            let obj = load("attach_trace.bpf.o", Some(&["perf_sample"]), pin_root)?;
            let link = obj.try_program("perf_sample")?.attach_cpu_clock(1000)?;
            Ok(vec![held(link), held(obj)])
        }),
    );
    add(
        "sockmap (sk_msg)",
        Box::new(move || {
            let obj = load("attach_net.bpf.o", Some(&["msg_count"]), pin_root)?;
            let link = obj
                .try_program("msg_count")?
                .attach_sockmap(obj.try_map("socks")?)?;
            Ok(vec![held(link), held(obj)])
        }),
    );
    for (object, map) in [
        ("struct_ops_cc", "corebpf_cc"),
        ("struct_ops_cc_link", "ccl_one"),
    ] {
        add(
            &format!("struct_ops ({object})"),
            Box::new(move || {
                let obj = load(&format!("{object}.bpf.o"), None, pin_root)?;
                let link = obj.attach_struct_ops(map)?;
                Ok(vec![held(link), held(obj)])
            }),
        );
    }
    add(
        "cgroup",
        Box::new(move || {
            let obj = load("attach_net.bpf.o", Some(&["cg_egress"]), pin_root)?;
            let link = obj.try_program("cg_egress")?.attach_cgroup_path(cgroup)?;
            Ok(vec![held(link), held(obj)])
        }),
    );
    cases
}

/// Pinning and reopening maps, programs and links, and loading with pinned maps: each case
/// in its own directory under `pin_root`.
fn pin_cases<'a>(pin_root: &'a Path, shared: &'a Object, link: &'a Link) -> Vec<Case<'a>> {
    let dir = |name: &str| pin_root.join(name);
    let mut cases = Vec::new();
    let d = dir("map");
    cases.push(Case {
        name: "pin map (into a new directory)".into(),
        op: Box::new(move || {
            shared.try_map("counts")?.pin(d.join("sub/counts"))?;
            Ok(Vec::new())
        }),
        pins: Some(dir("map")),
    });
    let d = dir("prog");
    cases.push(Case {
        name: "pin program".into(),
        op: Box::new(move || {
            let prog = shared.try_program("raw_tp_sys_enter")?;
            corebpf::pin::pin(prog.as_fd(), d.join("sub/prog"))?;
            Ok(Vec::new())
        }),
        pins: Some(dir("prog")),
    });
    let d = dir("link");
    cases.push(Case {
        name: "pin link".into(),
        op: Box::new(move || {
            link.pin(d.join("sub/link"))?;
            Ok(Vec::new())
        }),
        pins: Some(dir("link")),
    });
    // Pinned once here, unarmed: the case is about reopening.
    let d = dir("reopen");
    shared
        .try_map("counts")
        .unwrap()
        .pin(d.join("counts"))
        .unwrap();
    link.pin(d.join("link")).unwrap();
    cases.push(Case {
        name: "reopen pinned map and link".into(),
        op: Box::new(move || {
            let map = Map::from_pinned(d.join("counts"))?;
            let link = Link::from_pinned(d.join("link"))?;
            Ok(vec![held(map), held(link)])
        }),
        pins: None,
    });
    // obj_externs_linux pins `linux_pinned` by name: created (and removed again if the load
    // fails), then reused (the warm-up run creates it).
    let d = dir("by_name");
    cases.push(Case {
        name: "load obj_externs_linux, its map pinned by name created".into(),
        op: Box::new(move || {
            let obj = load("obj_externs_linux.bpf.o", Some(&["linux_read"]), &d)?;
            Ok(vec![held(obj)])
        }),
        pins: Some(dir("by_name")),
    });
    let d = dir("reuse");
    cases.push(Case {
        name: "load obj_externs_linux, its map pinned by name reused".into(),
        op: Box::new(move || {
            let obj = load("obj_externs_linux.bpf.o", Some(&["linux_read"]), &d)?;
            Ok(vec![held(obj)])
        }),
        pins: None,
    });
    cases
}

/// Ring buffer and perf buffer creation (each with its map).
fn buffer_cases<'a>() -> Vec<Case<'a>> {
    vec![
        Case {
            name: "ring buffer".into(),
            op: Box::new(|| {
                let map = Map::create(&MapCreateAttr {
                    map_type: MapType::RingBuf,
                    max_entries: 64 * 1024,
                    name: "fault_rb",
                    ..Default::default()
                })?;
                let rb = RingBuf::new(&map)?;
                Ok(vec![held(rb), held(map)])
            }),
            pins: None,
        },
        Case {
            name: "perf buffer".into(),
            op: Box::new(|| {
                let cpus = corebpf::sys::possible_cpus().unwrap() as u32;
                let map = Map::create(&MapCreateAttr {
                    map_type: MapType::PerfEventArray,
                    key_size: 4,
                    value_size: 4,
                    max_entries: cpus,
                    name: "fault_pb",
                    ..Default::default()
                })?;
                let pb = PerfBuffer::new(
                    &map,
                    2,
                    |_cpu: u32, _data: &[u8]| {},
                    |_cpu: u32, _n: u64| {},
                )?;
                Ok(vec![held(pb), held(map)])
            }),
            pins: None,
        },
    ]
}

/// A failure while programs verify on several threads: `many_progs_heavy` (programs whose
/// verification takes long enough for helper threads to start) on 4 threads, with its
/// `k`th `BPF_PROG_LOAD` and every call after it failing (a single failed call would be
/// retried with a log). Which program's load that is depends on the threads' timing; what
/// is checked does not.
fn parallel_runs(load_root: &Path, tally: &mut Tally) -> Result<usize, String> {
    let name = "many_progs_heavy.bpf.o";
    let case = Case {
        name: format!("load {name} on 4 threads"),
        op: Box::new(move || Ok(vec![held(load_with_threads(name, None, load_root, 4)?)])),
        pins: Some(load_root.to_path_buf()),
    };
    clear_pins(load_root);
    fault::arm(0, 0);
    let counted = load(name, None, load_root);
    let calls = fault::disarm().calls;
    drop(counted.map_err(|f| format!("{name} fails without injection: {}", f.text))?);
    let first = 1 + calls
        .iter()
        .position(|c| *c == "BPF_PROG_LOAD")
        .ok_or("no BPF_PROG_LOAD")? as u64;
    let runs = [
        (0, libc::ENOMEM),
        (1, libc::EINVAL),
        (3, libc::EPERM),
        (7, libc::E2BIG),
    ];
    for (k, errno) in runs {
        let name = ERRNOS
            .iter()
            .find(|(e, _)| *e == errno)
            .map_or("?", |(_, n)| n);
        run_once(&case, Arm::From(first + k), errno, name, tally);
    }
    check_pending(tally);
    Ok(runs.len())
}

#[test]
fn every_syscall_failing_leaks_nothing() {
    let _ = env_logger::builder().is_test(true).try_init();
    // XDP and TC go on this thread's own loopback, in a network namespace of its own.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
    let pin_root = PathBuf::from(format!("/sys/fs/bpf/corebpf_fault_{}", std::process::id()));
    corebpf::pin::ensure_bpffs().unwrap();
    clear_pins(&pin_root);
    let cgroup = cgroup2_root().join(format!("corebpf_fault_{}", std::process::id()));
    std::fs::create_dir_all(&cgroup).unwrap();
    warm_probes();
    let (load_root, attach_root, pin_dir) = (
        pin_root.join("load"),
        pin_root.join("attach"),
        pin_root.join("pins"),
    );
    let (objects, skipped) = loadable_objects(&load_root);
    let shared = load(
        "attach_trace.bpf.o",
        Some(&["raw_tp_sys_enter"]),
        &attach_root,
    )
    .unwrap();
    let raw_tp = shared
        .try_program("raw_tp_sys_enter")
        .unwrap()
        .attach_raw_tracepoint("sys_enter")
        .unwrap();

    let walked = representative(&objects);
    let mut cases: Vec<Case<'_>> = walked
        .iter()
        .map(|o| {
            let (n, root) = (&o.name, load_root.clone());
            Case {
                name: format!("load {n}"),
                op: Box::new(move || Ok(vec![held(load(n, None, &root)?)])),
                pins: Some(load_root.clone()),
            }
        })
        .collect();
    cases.extend(attach_cases(&attach_root, &cgroup));
    cases.extend(pin_cases(&pin_dir, &shared, &raw_tp));
    cases.extend(buffer_cases());
    // COREBPF_FAULT_ONLY=TEXT walks only the cases whose name contains TEXT (while debugging).
    let only = std::env::var("COREBPF_FAULT_ONLY").ok();
    if let Some(only) = &only {
        cases.retain(|c| c.name.contains(only));
    }

    let mut tally = Tally::default();
    let mut pairs = 0;
    let mut errors = Vec::new();
    let mut sites: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut load_keys = BTreeSet::new();
    for case in &cases {
        let started = Instant::now();
        match walk(case, &mut tally) {
            Ok(calls) => {
                pairs += calls.len() * ERRNOS.len();
                println!(
                    "{}: {} calls, {:?}",
                    case.name,
                    calls.len(),
                    started.elapsed()
                );
                if case.name.starts_with("load ") {
                    load_keys.extend(call_keys(&calls));
                }
                for c in calls {
                    *sites.entry(c).or_default() += 1;
                }
            }
            Err(e) => errors.push(format!("{}: {e}", case.name)),
        }
    }
    let all_keys: BTreeSet<_> = objects.iter().flat_map(|o| call_keys(&o.calls)).collect();
    let unwalked: Vec<_> = all_keys.difference(&load_keys).collect();
    let started = Instant::now();
    let parallel = parallel_runs(&load_root, &mut tally);
    println!("parallel loads: {parallel:?} runs, {:?}", started.elapsed());
    let parallel = parallel.unwrap_or_else(|e| {
        errors.push(format!("parallel loads: {e}"));
        0
    });
    let n_cases = cases.len();
    drop(cases);
    drop(raw_tp);
    drop(shared);
    let _ = std::fs::remove_dir_all(&pin_root);
    let _ = std::fs::remove_dir(&cgroup);
    println!(
        "{n_cases} cases, {pairs} (call, errno) pairs and {parallel} parallel-load runs: {} \
         runs failed cleanly, {} succeeded (retried or tolerated)",
        tally.failed, tally.tolerated
    );
    println!(
        "loads walked: {} of {} loadable objects ({:?})",
        walked.len(),
        objects.len(),
        walked.iter().map(|o| o.name.as_str()).collect::<Vec<_>>()
    );
    println!(
        "succeeded despite the failed call: {:#?}",
        tally.tolerated_by
    );
    println!(
        "{} kinds of call walked (times walked): {sites:?}",
        sites.len()
    );
    println!(
        "{} emptied prog arrays kept by the kernel after their object was closed (not corebpf's)",
        tally.retained
    );
    println!("objects not loadable here, not walked: {skipped:#?}");
    for (k, v) in &tally.samples {
        println!("  {k}: {v}");
    }
    assert!(
        tally.problems.is_empty(),
        "{} problems:\n{}",
        tally.problems.len(),
        tally.problems.join("\n")
    );
    assert!(errors.is_empty(), "cases that cannot run: {errors:#?}");
    assert!(
        unwalked.is_empty() || only.is_some(),
        "calls of a load not walked: {unwalked:?}"
    );
    assert_eq!(tally.runs, pairs + parallel);
}
