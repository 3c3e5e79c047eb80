//! `open + load` of realistic objects, split into userspace and kernel time.
//!
//! For each object, every iteration opens (parses) the file and loads it with the running
//! kernel as CO-RE target, then drops it. Three figures per object:
//! - `total`: wall time of `open_file` + `load`;
//! - `userspace`: the same iterations, counting only `open_file` plus
//!   [`corebpf::LoadStats::userspace`] (externs, CO-RE, BTF sanitization, linking, fds);
//! - `kernel`: the same iterations, counting only [`corebpf::LoadStats::kernel`], the time
//!   inside the object's own bpf(2) commands (BTF load, map creation and initial data,
//!   program loads: mostly the verifier).
//!
//! `userspace + kernel` is `total` up to the drop, which is outside all three. The kernel
//! BTF is parsed and the feature probes run once per process, in the warm-up.
//!
//! Objects: `core_tracing.bpf.o` (kprobe, tp_btf, tracepoint and socket programs with
//! BPF_CORE_READ chains, a ring buffer: the CO-RE-heavy case), `obj_subprogs.bpf.o`
//! (subprograms, callbacks, global functions: the linking case) and
//! `run_map_in_map.bpf.o` (maps of maps with initial slots: the map case). The latter two
//! are SEC("syscall") programs (Linux 5.14).
//!
//! Run as root: `cargo bench -p corebpf --bench load`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use corebpf::ObjectBuilder;
use criterion::{criterion_group, criterion_main, Criterion};

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

/// One open + load: (total, userspace, kernel).
fn open_and_load(path: &std::path::Path) -> (Duration, Duration, Duration) {
    let start = Instant::now();
    let open = ObjectBuilder::new().open_file(path).unwrap();
    let opened = start.elapsed();
    let obj = open.load().unwrap();
    let total = start.elapsed();
    let stats = obj.load_stats();
    drop(black_box(obj));
    (total, opened + stats.userspace, stats.kernel)
}

fn bench_load(c: &mut Criterion) {
    let objects = [
        "core_tracing.bpf.o",
        "obj_subprogs.bpf.o",
        "run_map_in_map.bpf.o",
    ];
    for name in objects {
        let path = testdata().join("bpf/out/clang19").join(name);
        open_and_load(&path); // kernel BTF, feature probes
        let mut group = c.benchmark_group(format!("load/{name}"));
        group.sample_size(30);
        for (part, pick) in [("total", 0usize), ("userspace", 1), ("kernel", 2)] {
            group.bench_function(part, |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let (t, u, k) = open_and_load(&path);
                            [t, u, k][pick]
                        })
                        .sum()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
