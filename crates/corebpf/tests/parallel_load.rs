//! Parallel verification gives what loading one program after another gives: the same
//! programs, the same results when they run, the same log lines in the same order, and on
//! failure the same error (the first failing program in program order) with no fd left
//! open. Every test here takes `SERIAL`: they share the process's logger and fd table.

use std::sync::{Mutex, MutexGuard, OnceLock};

use corebpf::{Error, Object, ObjectBuilder, TestRun};

/// Thread counts compared with 1 (more threads than cores and than programs included).
const THREADS: [usize; 3] = [2, 4, 64];

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records every log line of this process at debug level and above.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Debug
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}: {}", r.level(), r.args()));
        }
    }
    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(c).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Debug);
        c
    })
}

/// The log lines of `f`, with load durations (which differ from run to run) removed.
fn logged<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let c = capture();
    c.0.lock().unwrap().clear();
    let out = f();
    let lines =
        c.0.lock()
            .unwrap()
            .drain(..)
            .map(|l| without_addresses(&without_duration(l)))
            .collect();
    (out, lines)
}

/// `prog 'x': loaded (N insns, 1.2ms)` → `prog 'x': loaded (N insns`.
fn without_duration(line: String) -> String {
    match (line.contains("': loaded ("), line.rfind(", ")) {
        (true, Some(at)) => line[..at].to_string(),
        _ => line,
    }
}

/// A kernel address printed in a verifier log (`r1 = 0xffff888515efbc00`, a map's) as
/// `0xADDR`: each load creates its maps anew.
fn without_addresses(text: &str) -> String {
    // A kernel pointer: "0x" and 16 hex digits starting "ff" (0xffff... with 4-level
    // paging, 0xff1... and others with 5-level paging or another KASLR layout).
    let is_pointer = |s: &str| {
        s.len() >= 18 && s[2..].starts_with("ff") && s[2..18].bytes().all(|b| b.is_ascii_hexdigit())
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        if is_pointer(&rest[at..]) {
            out.push_str("0xADDR");
            rest = &rest[at + 18..];
        } else {
            out.push_str("0x");
            rest = &rest[at + 2..];
        }
    }
    out.push_str(rest);
    out
}

fn object(name: &str) -> std::path::PathBuf {
    corebpf_testutil::testdata()
        .join("bpf/out/clang19")
        .join(name)
}

/// collatz(acc, iters) of many_progs.bpf.c, in u32 arithmetic.
fn collatz(mut acc: u32, iters: u32) -> u32 {
    for i in 0..iters {
        acc = if acc & 1 == 1 {
            acc.wrapping_mul(3).wrapping_add(1)
        } else {
            acc >> 1
        };
        acc ^= i;
    }
    acc
}

/// What many_progs.bpf.c's `many_N` returns for a packet of `len` bytes.
fn expected_many(len: u32, n: u32) -> u32 {
    (collatz(len + n, 300) & 0xffff) | 0x10000
}

fn load(name: &str, threads: usize) -> Object {
    ObjectBuilder::new()
        .load_threads(threads)
        .open_file(object(name))
        .unwrap()
        .load()
        .unwrap()
}

fn load_many(threads: usize) -> Object {
    load("many_progs.bpf.o", threads)
}

/// Each program's name, instruction count and return value on a 64- and a 91-byte packet.
fn run_all(obj: &Object) -> Vec<(String, usize, u32, u32)> {
    obj.programs()
        .iter()
        .map(|p| {
            let run = |len: usize| {
                p.test_run(&TestRun {
                    data: &vec![0u8; len],
                    ..Default::default()
                })
                .unwrap()
                .retval
            };
            (p.name().to_string(), p.insn_count(), run(64), run(91))
        })
        .collect()
}

#[test]
fn parallel_load_equals_serial_load() {
    let _serial = serial();
    // Feature probes run and are logged on the first load of the process only.
    drop(load_many(1));
    let (obj, serial_log) = logged(|| load_many(1));
    let serial_runs = run_all(&obj);
    assert_eq!(serial_runs.len(), 16);
    for (n, (name, _, on_64, on_91)) in serial_runs.iter().enumerate() {
        assert_eq!(name, &format!("many_{n}"));
        assert_eq!(*on_64, expected_many(64, n as u32), "{name} on 64 bytes");
        assert_eq!(*on_91, expected_many(91, n as u32), "{name} on 91 bytes");
    }
    assert!(
        serial_log
            .iter()
            .any(|l| l.contains("CO-RE relocating") || l.contains("relo #")),
        "the CO-RE log is part of what is compared: {serial_log:#?}"
    );
    drop(obj);
    for threads in THREADS {
        let (obj, log) = logged(|| load_many(threads));
        assert_eq!(log, serial_log, "log lines with {threads} load threads");
        assert_eq!(
            run_all(&obj),
            serial_runs,
            "programs with {threads} threads"
        );
        // Every program ran twice and counted it in its own slot of `runs`.
        let runs = obj.map("runs").unwrap();
        for n in 0u32..16 {
            let v = runs.lookup(&n.to_ne_bytes(), 0).unwrap().unwrap();
            assert_eq!(u64::from_ne_bytes(v[..8].try_into().unwrap()), 2);
        }
    }
}

/// What mixed_progs.bpf.c's program `name` returns for a packet of `len` bytes.
fn expected_mixed(name: &str, len: u32) -> u32 {
    match name {
        "heavy_12" => (collatz(len, 1500) ^ collatz(len ^ 0x5a5a, 1500)) & 0xffff,
        _ => collatz(len, 300) & 0xffff,
    }
}

/// Threads take the longest program first (`heavy_12`, last in program order), and the
/// object still comes out as the serial load makes it: programs in program order, the
/// same log lines, the same results.
#[test]
fn the_longest_program_taken_first_changes_nothing_seen() {
    let _serial = serial();
    drop(load_many(1)); // feature probes, logged once per process
    let (obj, serial_log) = logged(|| load("mixed_progs.bpf.o", 1));
    let serial_runs = run_all(&obj);
    let names: Vec<&str> = serial_runs.iter().map(|r| r.0.as_str()).collect();
    let mut expected_names: Vec<String> = (0..12).map(|n| format!("light_{n}")).collect();
    expected_names.push("heavy_12".into());
    assert_eq!(names, expected_names);
    for (name, _, on_64, on_91) in &serial_runs {
        assert_eq!(*on_64, expected_mixed(name, 64), "{name} on 64 bytes");
        assert_eq!(*on_91, expected_mixed(name, 91), "{name} on 91 bytes");
    }
    drop(obj);
    for threads in THREADS {
        let (obj, log) = logged(|| load("mixed_progs.bpf.o", threads));
        assert_eq!(log, serial_log, "log lines with {threads} load threads");
        assert_eq!(
            run_all(&obj),
            serial_runs,
            "programs with {threads} threads"
        );
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Loads bad_many_progs.bpf.o with only `programs` (all if empty) and `threads` threads.
fn load_bad(threads: usize, programs: &[&str]) -> Error {
    let mut open = ObjectBuilder::new()
        .load_threads(threads)
        .open_file(object("bad_many_progs.bpf.o"))
        .unwrap();
    if !programs.is_empty() {
        open.load_only(programs).unwrap();
    }
    match open.load() {
        Ok(_) => panic!("bad_many_progs loaded with {threads} threads ({programs:?})"),
        Err(e) => e,
    }
}

#[test]
fn the_first_failure_in_program_order_is_reported() {
    let _serial = serial();
    let oks = ["ok_0", "ok_1", "ok_2", "ok_4", "ok_5"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        oks.iter().chain(extra).copied().collect()
    };
    drop(load_many(1)); // feature probes, logged once per process
    let cases: [(Vec<&str>, &str); 3] = [
        (Vec::new(), "bad_3"),
        (with(&["bad_6", "unprepared_7"]), "bad_6"),
        (with(&["unprepared_7"]), "unprepared_7"),
    ];
    for (programs, failing) in cases {
        let before = open_fds();
        let (serial_err, serial_log) = logged(|| load_bad(1, &programs));
        let serial_text = without_addresses(&serial_err.to_string());
        assert!(
            serial_text.contains(&format!("'{failing}'")),
            "{failing} is the first failure: {serial_text}"
        );
        match failing {
            "unprepared_7" => assert!(
                serial_text.contains("corebpf_no_such_tracepoint"),
                "{serial_text}"
            ),
            _ => assert!(
                serial_err
                    .verifier()
                    .is_some_and(|v| v.message.contains("invalid access to map value")),
                "{serial_text}"
            ),
        }
        assert_eq!(open_fds(), before, "fds left open after the failed load");
        for threads in THREADS {
            let (err, log) = logged(|| load_bad(threads, &programs));
            assert_eq!(
                without_addresses(&err.to_string()),
                serial_text,
                "{threads} threads"
            );
            assert_eq!(log, serial_log, "log lines with {threads} threads");
            assert_eq!(open_fds(), before, "fds left open with {threads} threads");
        }
    }
}
