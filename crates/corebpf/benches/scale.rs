//! How userspace loading scales with the object: synthetic objects of 10, 100 and 1,000
//! programs with 50 CO-RE relocations each (up to 50,000), parsed, relocated against the
//! running kernel's BTF and linked, with no kernel load (that is the verifier's time, which
//! `load_vs_libbpf` measures). Prints, per size, the median of several runs of each step
//! per program and per relocation, and the peak heap the three steps allocate: the cost per
//! program and per relocation should stay flat as the object grows.
//!
//! The objects are generated C compiled by clang (`clang-19`, else `clang`) into a temporary
//! directory. Run: `cargo bench -p corebpf --bench scale` (root is not needed, but
//! `/sys/kernel/btf/vmlinux` is).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use corebpf::btf::relo::{Relocator, TargetSet};
use corebpf::obj::Object;

#[path = "../../btf/benches/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{peak, reset_peak, Counting};

#[global_allocator]
static ALLOC: Counting = Counting;

const SIZES: [usize; 3] = [10, 100, 1000];
/// `task_struct` fields every kernel since 5.10 has (4 relocation kinds each + 1 read).
const FIELDS: [&str; 10] = [
    "pid",
    "tgid",
    "flags",
    "prio",
    "static_prio",
    "normal_prio",
    "rt_priority",
    "exit_code",
    "exit_signal",
    "pdeath_signal",
];
const RELOS_PER_PROGRAM: usize = FIELDS.len() * 5;

/// C for an object of `n` programs, each with 50 CO-RE relocations.
fn source(n: usize) -> String {
    let mut c = String::from(
        "#include <linux/bpf.h>\n#include \"corebpf_test.h\"\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n\
         struct task_struct {\n",
    );
    for f in FIELDS {
        let _ = writeln!(c, "\tint {f};");
    }
    c.push_str("} __pai;\n__u64 sink;\n");
    for p in 0..n {
        let _ = writeln!(
            c,
            "SEC(\"socket\") int prog_{p}(void *ctx)\n{{\n\
             \tstruct task_struct *t = (void *)bpf_get_current_task();\n\
             \t__u64 acc = {p};\n\tint v;"
        );
        for f in FIELDS {
            let _ = writeln!(
                c,
                "\tacc += bpf_core_field_offset(t->{f}) + bpf_core_field_exists(t->{f})\n\
                 \t\t+ bpf_core_field_size(t->{f}) + bpf_core_field_signed(t->{f});\n\
                 \tbpf_probe_read_kernel(&v, sizeof(v), &t->{f});\n\tacc += v;"
            );
        }
        c.push_str("\tsink = acc;\n\treturn 0;\n}\n");
    }
    c
}

fn clang() -> &'static str {
    let works = |c: &str| Command::new(c).arg("--version").output().is_ok();
    if works("clang-19") {
        "clang-19"
    } else {
        "clang"
    }
}

/// Compiles the `n`-program object into `dir` and returns its path.
fn build(dir: &Path, n: usize) -> PathBuf {
    let include = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/include");
    let src = dir.join(format!("scale_{n}.bpf.c"));
    let obj = dir.join(format!("scale_{n}.bpf.o"));
    std::fs::write(&src, source(n)).unwrap();
    let mut cmd = Command::new(clang());
    cmd.args([
        "-O2",
        "-g",
        "-target",
        "bpf",
        "-D__TARGET_ARCH_x86",
        "-I",
        include,
    ]);
    if Path::new("/usr/include/x86_64-linux-gnu").is_dir() {
        cmd.args(["-idirafter", "/usr/include/x86_64-linux-gnu"]);
    }
    let out = cmd
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    obj
}

/// One run: (parse, relocate, link) times, relocations applied, peak heap bytes.
fn run(bytes: &[u8], targets: &TargetSet) -> ([Duration; 3], usize, usize) {
    let base = reset_peak();
    let t0 = Instant::now();
    let mut spec = Object::parse_named(bytes, "scale").unwrap();
    let t1 = Instant::now();
    let mut relocator = Relocator::new(targets);
    let outcomes = spec.relocate_core(&mut relocator, |_| true).unwrap();
    let t2 = Instant::now();
    let linked: Vec<_> = (0..spec.programs.len())
        .map(|i| spec.link_program(i).unwrap())
        .collect();
    let t3 = Instant::now();
    let peak = peak() - base;
    std::hint::black_box(linked);
    ([t1 - t0, t2 - t1, t3 - t2], outcomes.len(), peak)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("corebpf-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let targets = TargetSet::kernel().expect("/sys/kernel/btf/vmlinux");
    println!(
        "{:>6} {:>7} {:>10} {:>10} {:>10} {:>12} {:>12} {:>10}",
        "progs",
        "relos",
        "parse/prog",
        "relo/relo",
        "link/prog",
        "total/prog",
        "total",
        "peak heap"
    );
    for n in SIZES {
        let bytes = std::fs::read(build(&dir, n)).unwrap();
        run(&bytes, &targets); // warm: candidate caches of the kernel BTF, page cache
        let rounds = if n >= 1000 { 7 } else { 21 };
        let mut steps: [Vec<Duration>; 3] = Default::default();
        let mut totals = Vec::new();
        let (mut relos, mut peak) = (0, 0);
        for _ in 0..rounds {
            let (t, r, p) = run(&bytes, &targets);
            for (s, d) in steps.iter_mut().zip(t) {
                s.push(d);
            }
            totals.push(t.iter().sum());
            (relos, peak) = (r, p);
        }
        assert_eq!(
            relos,
            n * RELOS_PER_PROGRAM,
            "relocations in the {n}-program object"
        );
        let [parse, relo, link] = steps.map(median);
        let total = median(totals);
        let us = |d: Duration, per: usize| d.as_secs_f64() * 1e6 / per as f64;
        println!(
            "{:>6} {:>7} {:>8.2}us {:>8.3}us {:>8.2}us {:>10.2}us {:>10.2}ms {:>8.1}MB",
            n,
            relos,
            us(parse, n),
            us(relo, relos),
            us(link, n),
            us(total, n),
            total.as_secs_f64() * 1e3,
            peak as f64 / 1e6
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
