//! Soak: many cycles of each way of creating and releasing kernel objects — load/drop,
//! attach/detach (tracepoint, uprobe, XDP, TC, socket filter, cgroup), pin/reopen/unpin,
//! ring buffer reader create/drop — with the process's fds, the kernel's BPF objects
//! (programs, maps, BTF objects and links, counted with `BPF_*_GET_NEXT_ID`: system-wide,
//! so nothing else may create BPF objects meanwhile), what is left attached and the RSS
//! measured before and after. `soak_short` runs in every `cargo test` (a few hundred
//! cycles in all); `soak` (ignored by default: `cargo test -p corebpf --test soak --
//! --ignored soak --nocapture`) runs 10,000 cycles of each and prints the figures
//! (`COREBPF_SOAK_CYCLES` overrides the count, `COREBPF_SOAK_ONLY=TEXT` runs the kinds
//! whose name contains `TEXT`). One binary: fd counts are process-wide.

mod attach_util;

use std::net::UdpSocket;
use std::path::Path;
use std::sync::Mutex;

use attach_util::net::{cgroup2_root, Pair};
use attach_util::*;
use corebpf::attach::tc::TcDirection;
use corebpf::attach::uprobe::UprobeOpts;
use corebpf::attach::xdp::XdpOpts;
use corebpf::map::Map;
use corebpf::ringbuf::RingBuf;
use corebpf::sys::{MapCreateAttr, MapType};
use corebpf::{Object, ObjectBuilder};

/// The uprobe target: a function of this very binary.
#[no_mangle]
#[inline(never)]
pub extern "C" fn corebpf_soak_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_add(1)
}

static SERIAL: Mutex<()> = Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The kernel's BPF objects of every kind (`BPF_*_GET_NEXT_ID`), system-wide.
fn kernel_objects() -> usize {
    use corebpf::sys::{all_ids, ObjKind};
    [ObjKind::Prog, ObjKind::Map, ObjKind::Btf, ObjKind::Link]
        .into_iter()
        .map(|kind| all_ids(kind).unwrap().len())
        .sum()
}

/// [`kernel_objects`] once it has not changed for 200 ms (the warm-up's objects freed), or
/// after 10 s.
fn kernel_objects_quiet() -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut last = kernel_objects();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = kernel_objects();
        if now == last || std::time::Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// [`kernel_objects`] once it is back to `before`, or after 10 s: the kernel frees
/// programs, maps and links after an RCU grace period, not when their last fd closes.
fn kernel_objects_settled(before: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = kernel_objects();
        if now <= before || std::time::Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Resident set size in KiB (`/proc/self/statm`, field 2, in pages).
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64 / 1024
}

/// One kind of cycle: a name and the closure that runs one cycle.
struct Cycle<'a> {
    name: &'static str,
    run: Box<dyn FnMut() + 'a>,
    /// Checks that nothing of a cycle is left attached where the cycle attached.
    nothing_left: Box<dyn Fn() -> Result<(), String> + 'a>,
}

fn load_net(programs: &[&str]) -> Object {
    let mut open = ObjectBuilder::new()
        .open_file(object_path("attach_net.bpf.o"))
        .unwrap();
    open.load_only(programs).unwrap();
    open.load().unwrap()
}

/// Runs `cycles` cycles of every kind; per kind: fds before = after, nothing left
/// attached, and RSS growth after a warm-up within `rss_slack_kib`. Prints the figures.
fn soak(cycles: usize, rss_slack_kib: u64) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let trace = load_trace(&["tp_getpid", "uprobe_target"]).unwrap();
    let net = load_net(&["xdp_udp", "tc_udp", "sock_bytes", "cg_egress"]);
    let pair = Pair::new();
    let ifindex = pair.b_ifindex();
    let cg = cgroup2_root().join(format!("corebpf_soak_{}", std::process::id()));
    let _ = std::fs::remove_dir(&cg);
    std::fs::create_dir(&cg).unwrap();
    let pin_dir = Path::new("/sys/fs/bpf").join(format!("corebpf_soak_{}", std::process::id()));
    std::fs::create_dir_all(&pin_dir).unwrap();
    let ring = Map::create(&MapCreateAttr {
        map_type: MapType::RingBuf,
        max_entries: 1 << 16,
        name: "soak_ring",
        ..Default::default()
    })
    .unwrap();
    let exe = std::env::current_exe().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let xdp_prog = net.program("xdp_udp").unwrap();
    let tc_prog = net.program("tc_udp").unwrap();
    let xdp_id = xdp_prog.id().unwrap();

    let mut kinds: Vec<Cycle<'_>> = vec![
        Cycle {
            name: "load/drop",
            run: Box::new(|| {
                drop(
                    ObjectBuilder::new()
                        .open_file(object_path("run_tailcall.bpf.o"))
                        .unwrap()
                        .load()
                        .unwrap(),
                )
            }),
            nothing_left: Box::new(|| Ok(())),
        },
        Cycle {
            name: "tracepoint attach/detach",
            run: Box::new(|| {
                let p = trace.program("tp_getpid").unwrap();
                drop(p.attach_tracepoint("syscalls", "sys_enter_getpid").unwrap());
            }),
            nothing_left: Box::new(|| Ok(())),
        },
        Cycle {
            name: "uprobe attach/detach",
            run: Box::new(|| {
                let p = trace.program("uprobe_target").unwrap();
                let opts = UprobeOpts::default();
                let link = p.attach_uprobe(&exe, "corebpf_soak_target", &opts).unwrap();
                corebpf_soak_target(1); // also keeps the symbol in the binary
                drop(link);
            }),
            nothing_left: Box::new(|| Ok(())),
        },
        Cycle {
            name: "XDP attach/detach",
            run: Box::new(|| {
                let link = pair
                    .b
                    .run(|| xdp_prog.attach_xdp(ifindex, &XdpOpts::default()))
                    .unwrap();
                drop(link);
            }),
            nothing_left: Box::new(|| {
                let attached = pair
                    .b
                    .run(|| corebpf::sys::netlink::xdp_query(ifindex as i32))
                    .map_err(|e| e.to_string())?;
                match attached.prog_id {
                    0 => Ok(()),
                    id => Err(format!("XDP program {id} still attached (ours: {xdp_id})")),
                }
            }),
        },
        Cycle {
            name: "TC attach/detach",
            run: Box::new(|| {
                let link = pair
                    .b
                    .run(|| tc_prog.attach_tc(ifindex, TcDirection::Ingress))
                    .unwrap();
                drop(link);
            }),
            nothing_left: Box::new(|| Ok(())),
        },
        Cycle {
            name: "socket filter attach/detach",
            run: Box::new(|| {
                let p = net.program("sock_bytes").unwrap();
                drop(p.attach_socket(&udp).unwrap());
            }),
            nothing_left: Box::new(|| Ok(())),
        },
        Cycle {
            name: "cgroup attach/detach",
            run: Box::new(|| {
                let p = net.program("cg_egress").unwrap();
                drop(p.attach_cgroup_path(&cg).unwrap());
            }),
            nothing_left: Box::new(|| cgroup_empty(&cg)),
        },
        Cycle {
            name: "pin/reopen/unpin",
            run: Box::new(|| {
                let path = pin_dir.join("ring");
                ring.pin(&path).unwrap();
                let reopened = Map::from_pinned(&path).unwrap();
                assert_eq!(reopened.id(), ring.id());
                drop(reopened);
                corebpf::pin::unpin(&path).unwrap();
            }),
            nothing_left: Box::new(|| {
                let left = std::fs::read_dir(&pin_dir)
                    .map_err(|e| e.to_string())?
                    .count();
                (left == 0).then_some(()).ok_or(format!("{left} pins left"))
            }),
        },
        Cycle {
            name: "ring buffer reader create/drop",
            run: Box::new(|| drop(RingBuf::new(&ring).unwrap())),
            nothing_left: Box::new(|| Ok(())),
        },
    ];
    println!("{cycles} cycles of each kind");
    println!(
        "{:<32} {:>5} {:>5} {:>7} {:>7} {:>8} {:>9} {:>9}",
        "kind", "fds", "after", "kobjs", "after", "RSS KiB", "RSS after", "time"
    );
    // COREBPF_SOAK_ONLY=TEXT runs only the kinds whose name contains TEXT.
    let only = std::env::var("COREBPF_SOAK_ONLY").unwrap_or_default();
    kinds.retain(|k| k.name.contains(only.as_str()));
    assert!(
        !kinds.is_empty(),
        "no soak kind matches COREBPF_SOAK_ONLY={only}"
    );
    for kind in &mut kinds {
        // Warm-up: caches (kernel BTF, probes, symbol tables) filled before measuring.
        for _ in 0..10 {
            (kind.run)();
        }
        let objs = kernel_objects_quiet();
        let (fds, rss, started) = (open_fds(), rss_kib(), std::time::Instant::now());
        for _ in 0..cycles {
            (kind.run)();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (fds_after, rss_after) = (open_fds(), rss_kib());
        let objs_after = kernel_objects_settled(objs);
        println!(
            "{:<32} {fds:>5} {fds_after:>5} {objs:>7} {objs_after:>7} {rss:>8} {rss_after:>9} \
             {elapsed:>8.1}s",
            kind.name,
        );
        assert_eq!(fds_after, fds, "{}: fds", kind.name);
        // Fewer only if another process freed some of its own meanwhile.
        assert!(objs_after <= objs, "{}: kernel BPF objects", kind.name);
        (kind.nothing_left)().unwrap_or_else(|e| panic!("{}: {e}", kind.name));
        assert!(
            rss_after <= rss + rss_slack_kib,
            "{}: RSS grew from {rss} to {rss_after} KiB over {cycles} cycles",
            kind.name
        );
    }
    drop(kinds);
    let _ = std::fs::remove_dir(&pin_dir);
    let _ = std::fs::remove_dir(&cg);
}

/// Whether no program is attached to cgroup `cg` (BPF_PROG_QUERY, egress).
fn cgroup_empty(cg: &Path) -> Result<(), String> {
    use std::os::fd::AsFd;
    let dir = std::fs::File::open(cg).map_err(|e| e.to_string())?;
    let attached = corebpf::sys::prog_query(
        corebpf::sys::AttachTarget::Fd(dir.as_fd()),
        corebpf::sys::AttachType::CgroupInetEgress,
        0,
    )
    .map_err(|e| e.to_string())?;
    let ids = attached.prog_ids;
    ids.is_empty().then_some(()).ok_or(format!(
        "programs {ids:?} still attached to {}",
        cg.display()
    ))
}

#[test]
fn soak_short() {
    soak(25, 2048);
}

#[test]
#[ignore = "10,000 cycles of each kind: cargo test -p corebpf --test soak -- --ignored soak"]
fn soak_long() {
    let cycles = std::env::var("COREBPF_SOAK_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10_000);
    soak(cycles, 4096);
}
