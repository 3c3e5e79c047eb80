//! Whole-object `open + load` as a whole process, corebpf against libbpf, in the same run.
//!
//! Each measurement is one child process (this executable, told what to do by an
//! environment variable) that opens and loads one object once and exits: the time a tool's
//! user waits, including reading the kernel's BTF and the feature probes, which a process
//! does once. The parent alternates corebpf and libbpf children, ROUNDS times per object,
//! and prints medians of wall time (spawn to exit) and of peak RSS (`ru_maxrss` from
//! `wait4`), and corebpf/libbpf ratios. Both kinds of child are the same executable, so
//! they start from the same RSS.
//!
//! Objects: the testdata objects of the `load` bench, `many_progs_heavy.bpf.o` (16 programs
//! whose verification takes real time) and `mixed_progs.bpf.o` (12 light programs, then one
//! that takes ten times as long), loaded by corebpf with its default thread count (one per
//! core) and with `load_threads(1)` (libbpf loads one program at a time).
//!
//! Two ratios are printed for wall time: of the medians, and the median of each round's
//! own ratio (the children of one round run back to back, so the shared machine's slower
//! and faster spells, which last longer than a round, cancel out in it).
//!
//! libbpf (Debian's `libbpf-dev`) is linked into this bench only. Run as root:
//! `cargo bench -p corebpf --bench load_vs_libbpf [-- NAME...]` (objects whose name contains
//! one of the NAMEs; `COREBPF_BENCH_ROUNDS` overrides the round count).

use std::ffi::{c_int, c_void, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use corebpf::ObjectBuilder;

/// What a child process does: `<loader>:<threads>:<object path>`.
const CHILD_ENV: &str = "COREBPF_BENCH_LOAD_CHILD";

const OBJECTS: &[&str] = &[
    "core_tracing.bpf.o",
    "obj_subprogs.bpf.o",
    "run_map_in_map.bpf.o",
    "many_progs.bpf.o",
    "many_progs_heavy.bpf.o",
    "mixed_progs.bpf.o",
];

mod libbpf {
    use std::ffi::{c_char, c_int, c_void};

    #[repr(C)]
    pub struct BpfObject {
        _opaque: [u8; 0],
    }
    pub type PrintFn = Option<extern "C" fn(level: c_int, fmt: *const c_char, ...) -> c_int>;

    #[link(name = "bpf")]
    extern "C" {
        pub fn bpf_object__open_file(path: *const c_char, opts: *const c_void) -> *mut BpfObject;
        pub fn bpf_object__load(obj: *mut BpfObject) -> c_int;
        pub fn bpf_object__close(obj: *mut BpfObject);
        pub fn libbpf_set_print(f: PrintFn) -> PrintFn;
    }
}

/// The child: one open + load, then exit (status 0 on success).
fn child(spec: &str) -> ! {
    let mut parts = spec.splitn(3, ':');
    let (loader, threads, path) = match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(t), Some(p)) => (l, t.parse::<usize>().unwrap_or(0), p),
        _ => std::process::exit(2),
    };
    let ok = match loader {
        "corebpf" => load_corebpf(Path::new(path), threads),
        "libbpf" => load_libbpf(path),
        _ => false,
    };
    std::process::exit(if ok { 0 } else { 1 })
}

fn load_corebpf(path: &Path, threads: usize) -> bool {
    let mut builder = ObjectBuilder::new();
    if threads > 0 {
        builder = builder.load_threads(threads);
    }
    match builder.open_file(path).and_then(|o| o.load()) {
        Ok(obj) => {
            std::hint::black_box(&obj);
            true
        }
        Err(e) => {
            eprintln!("corebpf: {e}");
            false
        }
    }
}

fn load_libbpf(path: &str) -> bool {
    let path = CString::new(path).unwrap();
    // SAFETY: plain libbpf C API calls on a valid NUL-terminated path; the object pointer
    // is checked before use and closed once.
    unsafe {
        libbpf::libbpf_set_print(None);
        let obj = libbpf::bpf_object__open_file(path.as_ptr(), std::ptr::null::<c_void>());
        if obj.is_null() {
            return false;
        }
        let err = libbpf::bpf_object__load(obj);
        libbpf::bpf_object__close(obj);
        err == 0
    }
}

/// The pause before each child (see [`run_child`]).
const SETTLE: Duration = Duration::from_millis(200);

/// One child run: wall time and peak RSS in KiB.
// The child is reaped by `wait4` (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_child(loader: &str, threads: usize, path: &Path) -> (Duration, u64) {
    // The kernel frees the previous child's programs and maps after it exits, on
    // workqueues and after RCU grace periods, using a core for a while: every child starts
    // once that is over, so that no loader pays for the one before it.
    std::thread::sleep(SETTLE);
    let start = Instant::now();
    let child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, format!("{loader}:{threads}:{}", path.display()))
        .spawn()
        .expect("spawn bench child");
    let mut status: c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into the two locals above.
    let pid = unsafe { libc::wait4(child.id() as c_int, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(pid, child.id() as c_int, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{loader} failed to load {}",
        path.display()
    );
    (wall, usage.ru_maxrss as u64)
}

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

/// (label, loader, threads): threads 0 is corebpf's default.
const RUNS: &[(&str, &str, usize)] = &[
    ("corebpf", "corebpf", 0),
    ("corebpf 1 thread", "corebpf", 1),
    ("libbpf", "libbpf", 0),
];

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
    }
    // `cargo test --benches` runs benches once as tests: nothing to measure then.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let rounds: usize = std::env::var("COREBPF_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("whole-process open + load, median of {rounds} rounds, {cores} cores");
    println!(
        "{:<24} {:<18} {:>10} {:>9} {:>9} {:>10} {:>9}",
        "object", "loader", "wall", "ratio", "paired", "peak RSS", "ratio"
    );
    // Arguments that are not flags (`cargo bench ... -- mixed`) pick objects by name.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let picked = |name: &&&str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
    for name in OBJECTS.iter().filter(picked) {
        let path = testdata().join("bpf/out/clang19").join(name);
        let rounds: Vec<Round> = (0..rounds)
            .map(|_| {
                // Interleaved, so that noise from the shared machine hits every loader alike.
                RUNS.iter()
                    .map(|(_, loader, threads)| run_child(loader, *threads, &path))
                    .collect()
            })
            .collect();
        print_object(name, &rounds);
    }
}

/// One round: each loader's (wall time, peak RSS in KiB), in [`RUNS`] order.
type Round = Vec<(Duration, u64)>;

/// One line per loader: median wall time and its ratios to libbpf's (of the medians and
/// paired per round), median peak RSS and its ratio.
fn print_object(name: &str, rounds: &[Round]) {
    let per_round = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    let wall = |i: usize| per_round(&|r| r[i].0.as_secs_f64());
    let rss = |i: usize| per_round(&|r| r[i].1 as f64);
    let libbpf = RUNS.len() - 1;
    for (i, (label, _, _)) in RUNS.iter().enumerate() {
        let paired = per_round(&|r| r[i].0.as_secs_f64() / r[libbpf].0.as_secs_f64());
        println!(
            "{:<24} {:<18} {:>8.2}ms {:>8.2}x {:>8.2}x {:>8.0}KB {:>8.2}x",
            name,
            label,
            wall(i) * 1e3,
            wall(i) / wall(libbpf),
            paired,
            rss(i),
            rss(i) / rss(libbpf)
        );
    }
}
