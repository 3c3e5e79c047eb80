//! Consumption rate of 64-byte events, corebpf against libbpf on the same events.
//!
//! Each iteration fills a ring with `BPF_PROG_TEST_RUN` (`repeat` = as many events as
//! fit) of an XDP program that emits a counter-bearing 64-byte record, then times only
//! draining it: `RingBuf::consume` and a `RingBuf::batch` iteration vs libbpf's
//! `ring_buffer__consume`, and
//! `PerfBuffer::consume` vs `perf_buffer__consume`. Both callbacks do the same work (sum
//! the counters). Criterion reports events/s (`Throughput::Elements`).
//!
//! Criterion times each reader in its own stretch of the run, so on a shared machine a
//! burst of other work can favour either. The `paired` group therefore also drains both
//! readers alternately, round after round, and prints the ratio of their median drain
//! times (`ratio libbpf/corebpf`, above 1 when corebpf is faster): the figure to quote.
//! It does so on several fresh rings per reader in turn, since where the kernel puts a
//! ring's pages moves its drain time too ([`PAIRED_ALLOCATIONS`]).
//!
//! libbpf (Debian's `libbpf-dev`, installed by `cargo xtask setup`) is linked into this
//! bench only, through the hand-written declarations below; the library never uses it.
//!
//! Run as root: `cargo bench -p corebpf --bench ringbuf`.

use std::ffi::{c_int, c_void};
use std::hint::black_box;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use corebpf::map::Map;
use corebpf::perf_buffer::PerfBuffer;
use corebpf::ringbuf::RingBuf;
use corebpf::sys::consts::BPF_PSEUDO_MAP_FD;
use corebpf::sys::insn::{alu, class, size, src};
use corebpf::sys::{
    prog_load, prog_test_run, Insn, MapCreateAttr, MapType, ProgLoadAttr, ProgType, TestRunOpts,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Ring data size: 1 MiB holds 14563 records of 72 bytes (8 header + 64 data).
const RING_SIZE: u32 = 1 << 20;
const RB_EVENTS: u32 = RING_SIZE / 72;
/// Perf ring: 256 data pages (1 MiB) hold 13107 records of 80 bytes.
const PERF_PAGES: usize = 256;
const PERF_EVENTS: u32 = (PERF_PAGES as u32 * 4096) / 80;

mod libbpf {
    use std::ffi::{c_int, c_void};

    #[repr(C)]
    pub struct RingBuffer {
        _opaque: [u8; 0],
    }
    #[repr(C)]
    pub struct PerfBuffer {
        _opaque: [u8; 0],
    }
    pub type RingBufferSampleFn =
        extern "C" fn(ctx: *mut c_void, data: *mut c_void, size: usize) -> c_int;
    pub type PerfBufferSampleFn =
        extern "C" fn(ctx: *mut c_void, cpu: c_int, data: *mut c_void, size: u32);
    pub type PerfBufferLostFn = extern "C" fn(ctx: *mut c_void, cpu: c_int, cnt: u64);

    #[link(name = "bpf")]
    extern "C" {
        pub fn ring_buffer__new(
            map_fd: c_int,
            sample_cb: RingBufferSampleFn,
            ctx: *mut c_void,
            opts: *const c_void,
        ) -> *mut RingBuffer;
        pub fn ring_buffer__consume(rb: *mut RingBuffer) -> c_int;
        pub fn ring_buffer__free(rb: *mut RingBuffer);
        pub fn perf_buffer__new(
            map_fd: c_int,
            page_cnt: usize,
            sample_cb: PerfBufferSampleFn,
            lost_cb: PerfBufferLostFn,
            ctx: *mut c_void,
            opts: *const c_void,
        ) -> *mut PerfBuffer;
        pub fn perf_buffer__consume(pb: *mut PerfBuffer) -> c_int;
        pub fn perf_buffer__free(pb: *mut PerfBuffer);
    }
}

fn map(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32, name: &str) -> Map {
    Map::create(&MapCreateAttr {
        map_type,
        key_size,
        value_size,
        max_entries,
        name,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("creating {name} (the bench needs root): {e}"))
}

fn ld_map(dst: u8, m: &Map) -> [Insn; 2] {
    Insn::ld_imm64(dst, BPF_PSEUDO_MAP_FD, m.as_fd().as_raw_fd(), 0)
}

/// XDP program: `counters[0] += 1`, then emit a 64-byte record starting with it, to a
/// ring buffer (`ringbuf = true`, with `BPF_RB_NO_WAKEUP`) or a perf event array.
fn emitter(counters: &Map, out: &Map, ringbuf: bool) -> OwnedFd {
    let mut i = vec![Insn::mov64_reg(6, 1), Insn::st_mem(size::W, 10, -4, 0)];
    i.extend(ld_map(1, counters));
    i.extend([
        Insn::mov64_reg(2, 10),
        Insn::add64_imm(2, -4),
        Insn::call(1),
        Insn::jeq_imm(0, 0, 0), // patched below to jump to the exit
        Insn::ldx_mem(size::DW, 1, 0, 0),
        Insn::add64_imm(1, 1),
        Insn::stx_mem(size::DW, 0, 1, 0),
        Insn::stx_mem(size::DW, 10, 1, -72),
    ]);
    let jeq = i.len() - 5;
    for off in (-64..-8).step_by(8) {
        i.push(Insn::st_mem(size::DW, 10, off as i16, 0));
    }
    if ringbuf {
        i.extend(ld_map(1, out));
        i.extend([
            Insn::mov64_reg(2, 10),
            Insn::add64_imm(2, -72),
            Insn::mov64_imm(3, 64),
            Insn::mov64_imm(4, 1), // BPF_RB_NO_WAKEUP: the bench drains without waiting
            Insn::call(130),
        ]);
    } else {
        i.push(Insn::mov64_reg(1, 6));
        i.extend(ld_map(2, out));
        i.extend([
            Insn::new(class::ALU | alu::MOV | src::K, 3, 0, 0, -1), // BPF_F_CURRENT_CPU
            Insn::mov64_reg(4, 10),
            Insn::add64_imm(4, -72),
            Insn::mov64_imm(5, 64),
            Insn::call(25),
        ]);
    }
    let exit = i.len();
    i[jeq].off = (exit - jeq - 1) as i16;
    i.extend([Insn::mov64_imm(0, 2), Insn::exit()]);
    let bytes = Insn::encode_all(&i);
    prog_load(
        &ProgLoadAttr {
            prog_type: ProgType::Xdp,
            insns: &bytes,
            license: c"GPL",
            name: "bench_emit",
            ..Default::default()
        },
        None,
    )
    .unwrap_or_else(|e| panic!("loading the emitter: {e}"))
}

fn fill(prog: BorrowedFd<'_>, n: u32) {
    prog_test_run(
        prog,
        TestRunOpts {
            data_in: &[0u8; 64],
            repeat: n,
            ..Default::default()
        },
    )
    .expect("BPF_PROG_TEST_RUN");
}

/// Pins this thread to CPU 0 so every perf sample lands in one ring (and the data is
/// drained by the CPU that wrote it).
fn pin_to_cpu0() {
    let mut set = nix::sched::CpuSet::new();
    set.set(0).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).unwrap();
}

#[inline(always)]
fn counter(data: &[u8]) -> u64 {
    u64::from_ne_bytes(data[..8].try_into().unwrap())
}

extern "C" fn libbpf_rb_cb(ctx: *mut c_void, data: *mut c_void, size: usize) -> c_int {
    // SAFETY: libbpf passes a record of `size` bytes and our `ctx` (a `u64` sum).
    unsafe {
        let d = std::slice::from_raw_parts(data as *const u8, size);
        *(ctx as *mut u64) += counter(d);
    }
    0
}

extern "C" fn libbpf_pb_cb(ctx: *mut c_void, _cpu: c_int, data: *mut c_void, size: u32) {
    // SAFETY: as above.
    unsafe {
        let d = std::slice::from_raw_parts(data as *const u8, size as usize);
        *(ctx as *mut u64) += counter(d);
    }
}

extern "C" fn libbpf_lost_cb(_ctx: *mut c_void, _cpu: c_int, cnt: u64) {
    panic!("perf buffer lost {cnt} events: the bench ring is too small");
}

/// libbpf's reader of ring buffer `map`, adding each record's counter to `*sum`.
///
/// # Safety
/// `sum` must outlive the returned ring buffer (`ring_buffer__free`).
unsafe fn libbpf_ring_buffer(map: &Map, sum: &mut u64) -> *mut libbpf::RingBuffer {
    // SAFETY: a valid ring buffer map fd; the caller keeps `sum` alive.
    let rb = unsafe {
        libbpf::ring_buffer__new(
            map.as_fd().as_raw_fd(),
            libbpf_rb_cb,
            sum as *mut u64 as *mut c_void,
            std::ptr::null(),
        )
    };
    assert!(!rb.is_null(), "ring_buffer__new failed");
    rb
}

/// libbpf's reader of perf event array `map` ([`PERF_PAGES`] per CPU), adding each
/// sample's counter to `*sum`.
///
/// # Safety
/// `sum` must outlive the returned perf buffer (`perf_buffer__free`).
unsafe fn libbpf_perf_buffer(map: &Map, sum: &mut u64) -> *mut libbpf::PerfBuffer {
    // SAFETY: a valid perf event array fd; the caller keeps `sum` alive.
    let pb = unsafe {
        libbpf::perf_buffer__new(
            map.as_fd().as_raw_fd(),
            PERF_PAGES,
            libbpf_pb_cb,
            libbpf_lost_cb,
            sum as *mut u64 as *mut c_void,
            std::ptr::null(),
        )
    };
    assert!(!pb.is_null(), "perf_buffer__new failed");
    pb
}

/// Times `drain` after each `fill`, `iters` times.
fn timed(
    iters: u64,
    mut refill: impl FnMut(),
    mut drain: impl FnMut() -> usize,
    want: usize,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        refill();
        let t = Instant::now();
        let n = drain();
        total += t.elapsed();
        assert_eq!(n, want, "drained a full ring");
    }
    total
}

fn ringbuf(c: &mut Criterion) {
    // Fill and drain on one CPU, for both readers: a migration between them would time
    // cross-core transfers instead of the readers.
    pin_to_cpu0();
    let mut g = c.benchmark_group("ringbuf_consume_64B");
    g.throughput(Throughput::Elements(RB_EVENTS as u64));
    g.sample_size(30);

    let counters = map(MapType::Array, 4, 8, 1, "bench_cnt");
    let rb_map = map(MapType::RingBuf, 0, 0, RING_SIZE, "bench_rb");
    let prog = emitter(&counters, &rb_map, true);
    let mut rb = RingBuf::new(&rb_map).unwrap();
    let mut sum = 0u64;
    g.bench_function("corebpf", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || fill(prog.as_fd(), RB_EVENTS),
                || rb.consume(|d: &[u8]| sum += counter(d)).unwrap(),
                RB_EVENTS as usize,
            )
        })
    });

    g.bench_function("corebpf_batch", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || fill(prog.as_fd(), RB_EVENTS),
                || {
                    let mut batch = rb.batch();
                    let mut n = 0;
                    for rec in &mut batch {
                        sum += counter(rec);
                        n += 1;
                    }
                    n
                },
                RB_EVENTS as usize,
            )
        })
    });

    let lb_map = map(MapType::RingBuf, 0, 0, RING_SIZE, "bench_rb_lb");
    let lb_prog = emitter(&counters, &lb_map, true);
    let mut lb_sum = 0u64;
    // SAFETY: `lb_sum` outlives the ring buffer (freed below).
    let lrb = unsafe { libbpf_ring_buffer(&lb_map, &mut lb_sum) };
    g.bench_function("libbpf", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || fill(lb_prog.as_fd(), RB_EVENTS),
                // SAFETY: `lrb` is a live ring buffer.
                || unsafe { libbpf::ring_buffer__consume(lrb) } as usize,
                RB_EVENTS as usize,
            )
        })
    });
    // SAFETY: created above, freed once.
    unsafe { libbpf::ring_buffer__free(lrb) };
    black_box((sum, lb_sum));
    g.finish();
}

fn perf_buffer(c: &mut Criterion) {
    pin_to_cpu0();
    let mut g = c.benchmark_group("perf_buffer_consume_64B");
    g.throughput(Throughput::Elements(PERF_EVENTS as u64));
    g.sample_size(30);
    let cpus = corebpf::sys::possible_cpus().unwrap() as u32;

    let counters = map(MapType::Array, 4, 8, 1, "bench_pcnt");
    let pmap = map(MapType::PerfEventArray, 4, 4, cpus, "bench_perf");
    let prog = emitter(&counters, &pmap, false);
    let mut sum = 0u64;
    let mut pb = PerfBuffer::new(
        &pmap,
        PERF_PAGES,
        |_cpu, d: &[u8]| sum += counter(d),
        |_cpu, n| panic!("perf buffer lost {n} events: the bench ring is too small"),
    )
    .unwrap();
    g.bench_function("corebpf", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || fill(prog.as_fd(), PERF_EVENTS),
                || pb.consume().unwrap(),
                PERF_EVENTS as usize,
            )
        })
    });
    drop(pb);

    let lmap = map(MapType::PerfEventArray, 4, 4, cpus, "bench_perf_lb");
    let lprog = emitter(&counters, &lmap, false);
    let mut lb_sum = 0u64;
    // SAFETY: `lb_sum` outlives the buffer (freed below).
    let lpb = unsafe { libbpf_perf_buffer(&lmap, &mut lb_sum) };
    g.bench_function("libbpf", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fill(lprog.as_fd(), PERF_EVENTS);
                let before = lb_sum;
                let t = Instant::now();
                // SAFETY: `lpb` is a live perf buffer.
                let r = unsafe { libbpf::perf_buffer__consume(lpb) };
                total += t.elapsed();
                assert!(r >= 0, "perf_buffer__consume: {r}");
                assert!(lb_sum > before, "libbpf consumed the samples");
            }
            total
        })
    });
    // SAFETY: created above, freed once.
    unsafe { libbpf::perf_buffer__free(lpb) };
    black_box((sum, lb_sum));
    g.finish();
}

/// Fresh rings per reader in the paired comparison: each allocation of a 1 MiB ring lands
/// on other physical pages, and how those pages share the L2 cache's sets moves a drain's
/// time by up to a fifth for either reader, so one allocation per reader would measure
/// its luck along with the reader.
const PAIRED_ALLOCATIONS: usize = 12;
/// Rounds per allocation (each drains both readers once).
const PAIRED_ROUNDS: usize = 25;

/// One side of a paired comparison: refill its ring, then drain it (timed).
struct Side<'a> {
    refill: Box<dyn FnMut() + 'a>,
    drain: Box<dyn FnMut() -> usize + 'a>,
    want: usize,
}

/// Drain times of both readers, over every allocation.
#[derive(Default)]
struct Paired {
    ours: Vec<Duration>,
    theirs: Vec<Duration>,
}

impl Paired {
    /// Drains `ours` and `theirs` (one fresh allocation each) alternately for
    /// [`PAIRED_ROUNDS`] rounds, after one untimed round each.
    fn rounds(&mut self, name: &str, mut ours: Side<'_>, mut theirs: Side<'_>) {
        let time = |side: &mut Side<'_>| {
            (side.refill)();
            let t = Instant::now();
            let n = (side.drain)();
            let d = t.elapsed();
            assert!(
                n >= side.want,
                "{name}: drained {n} of {} records",
                side.want
            );
            d
        };
        time(&mut ours);
        time(&mut theirs);
        for round in 0..PAIRED_ROUNDS {
            // Alternate which side goes first, so neither always follows the other's refill.
            if round % 2 == 0 {
                self.ours.push(time(&mut ours));
                self.theirs.push(time(&mut theirs));
            } else {
                self.theirs.push(time(&mut theirs));
                self.ours.push(time(&mut ours));
            }
        }
    }

    /// Prints the median drain times and their ratio.
    fn report(mut self, name: &str) {
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (ma, mb) = (median(&mut self.ours), median(&mut self.theirs));
        println!(
            "{name}: median drain corebpf {:.1} us, libbpf {:.1} us: ratio libbpf/corebpf \
             {:.2}x ({} alternating rounds over {PAIRED_ALLOCATIONS} ring allocations)",
            ma.as_secs_f64() * 1e6,
            mb.as_secs_f64() * 1e6,
            mb.as_secs_f64() / ma.as_secs_f64(),
            self.ours.len()
        );
    }
}

/// Both readers of each kind drained alternately (see the module doc), each on
/// [`PAIRED_ALLOCATIONS`] rings in turn.
fn paired_ratios(_: &mut Criterion) {
    pin_to_cpu0();
    let counters = map(MapType::Array, 4, 8, 1, "bench_pair_cnt");
    let mut rb_times = Paired::default();
    for _ in 0..PAIRED_ALLOCATIONS {
        paired_ringbuf(&counters, &mut rb_times);
    }
    rb_times.report("ringbuf_consume_64B");
    let mut pb_times = Paired::default();
    for _ in 0..PAIRED_ALLOCATIONS {
        paired_perf_buffer(&counters, &mut pb_times);
    }
    pb_times.report("perf_buffer_consume_64B");
}

/// One allocation of the ring buffer comparison: a fresh ring (map) per reader.
fn paired_ringbuf(counters: &Map, times: &mut Paired) {
    let rb_map = map(MapType::RingBuf, 0, 0, RING_SIZE, "bench_pair_rb");
    let rb_prog = emitter(counters, &rb_map, true);
    let mut rb = RingBuf::new(&rb_map).unwrap();
    let lb_map = map(MapType::RingBuf, 0, 0, RING_SIZE, "bench_pair_lrb");
    let lb_prog = emitter(counters, &lb_map, true);
    let (mut sum, mut lb_sum) = (0u64, 0u64);
    // SAFETY: `lb_sum` outlives the ring buffer (freed below).
    let lrb = unsafe { libbpf_ring_buffer(&lb_map, &mut lb_sum) };
    times.rounds(
        "ringbuf_consume_64B",
        Side {
            refill: Box::new(|| fill(rb_prog.as_fd(), RB_EVENTS)),
            drain: Box::new(|| rb.consume(|d: &[u8]| sum += counter(d)).unwrap()),
            want: RB_EVENTS as usize,
        },
        Side {
            refill: Box::new(|| fill(lb_prog.as_fd(), RB_EVENTS)),
            // SAFETY: `lrb` is a live ring buffer.
            drain: Box::new(|| unsafe { libbpf::ring_buffer__consume(lrb) } as usize),
            want: RB_EVENTS as usize,
        },
    );
    // SAFETY: created above, freed once.
    unsafe { libbpf::ring_buffer__free(lrb) };
    black_box((sum, lb_sum));
}

/// One allocation of the perf buffer comparison: fresh per-CPU rings per reader.
fn paired_perf_buffer(counters: &Map, times: &mut Paired) {
    let cpus = corebpf::sys::possible_cpus().unwrap() as u32;
    let (mut sum, mut lb_sum) = (0u64, 0u64);
    let pmap = map(MapType::PerfEventArray, 4, 4, cpus, "bench_pair_perf");
    let pprog = emitter(counters, &pmap, false);
    let mut pb = PerfBuffer::new(
        &pmap,
        PERF_PAGES,
        |_cpu, d: &[u8]| sum += counter(d),
        |_cpu, n| panic!("perf buffer lost {n} events: the bench ring is too small"),
    )
    .unwrap();
    let lpmap = map(MapType::PerfEventArray, 4, 4, cpus, "bench_pair_lperf");
    let lpprog = emitter(counters, &lpmap, false);
    // SAFETY: `lb_sum` outlives the buffer (freed below).
    let lpb = unsafe { libbpf_perf_buffer(&lpmap, &mut lb_sum) };
    times.rounds(
        "perf_buffer_consume_64B",
        Side {
            refill: Box::new(|| fill(pprog.as_fd(), PERF_EVENTS)),
            drain: Box::new(|| pb.consume().unwrap()),
            want: PERF_EVENTS as usize,
        },
        Side {
            refill: Box::new(|| fill(lpprog.as_fd(), PERF_EVENTS)),
            drain: Box::new(|| {
                // SAFETY: `lpb` is a live perf buffer.
                let r = unsafe { libbpf::perf_buffer__consume(lpb) };
                assert!(r >= 0, "perf_buffer__consume: {r}");
                PERF_EVENTS as usize
            }),
            want: PERF_EVENTS as usize,
        },
    );
    // SAFETY: created above, freed once.
    unsafe { libbpf::perf_buffer__free(lpb) };
    drop(pb);
    black_box((sum, lb_sum));
}

criterion_group!(benches, ringbuf, perf_buffer, paired_ratios);
criterion_main!(benches);
