//! Readers against a producer on another CPU: a thread pinned to CPU 1 runs an XDP
//! program with `BPF_PROG_TEST_RUN` (`repeat` = one round's runs) while the test thread,
//! pinned to CPU 0, reads. Each record carries a sequence number that the program
//! advances only when the record was reserved (ring buffer) or sent (perf buffer), so
//! every number below the final counter must be seen exactly once and in order (one
//! producer), except the ring buffer records the program discards.
//!
//! The rings are small (one or two pages), so the producer wraps around them many times
//! per round, finds them full (those runs are counted as drops, not numbered) and
//! writes records straddling the end; records come in two sizes, so the readers'
//! same-stride fast paths start and stop. Each round uses another way of reading.
//!
//! Rounds: `COREBPF_CONCURRENT_ROUNDS`, default 200 (about 20 s for both tests in a
//! debug build on 2 cores); the acceptance figure is 1000 rounds
//! (`COREBPF_CONCURRENT_ROUNDS=1000 cargo test -p corebpf --test ringbuf_concurrent`).

mod maps_util;

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use corebpf::map::Map;
use corebpf::perf_buffer::PerfBuffer;
use corebpf::ringbuf::RingBuf;
use corebpf::sys::insn::{alu, class, jmp, size, src};
use corebpf::sys::{possible_cpus, Insn, MapType, ProgType};
use maps_util::*;

/// Program runs per round.
const RUNS_PER_ROUND: u32 = 3000;

fn rounds() -> u32 {
    std::env::var("COREBPF_CONCURRENT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// A ring buffer record's sequence number is discarded (never seen) when `seq % 7 == 3`.
fn discarded(seq: u64) -> bool {
    seq % 7 == 3
}

/// Record length for `seq`: 56 bytes when `seq % 4 == 0`, else 16.
fn record_len(seq: u64) -> usize {
    if seq % 4 == 0 {
        56
    } else {
        16
    }
}

/// `dst %= imm` (64-bit).
fn mod64_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(class::ALU64 | alu::MOD | src::K, dst, 0, 0, imm)
}

/// `if dst != imm goto +off`.
fn jne_imm(dst: u8, imm: i32, off: i16) -> Insn {
    Insn::new(class::JMP | jmp::JNE | src::K, dst, 0, off, imm)
}

/// `dst = ~dst` (64-bit, as `dst ^= -1`).
fn not64(dst: u8) -> Insn {
    Insn::new(class::ALU64 | alu::XOR | src::K, dst, 0, 0, -1)
}

/// The state shared with the program: `[next sequence number, drops]`.
fn seq_state() -> Map {
    map(MapType::Array, 4, 16, 1, "t_cc_state")
}

fn read_state(m: &Map) -> (u64, u64) {
    let a = m.as_array::<[u64; 2]>().unwrap();
    let [seq, drops] = a.get(0, 0).unwrap();
    (seq, drops)
}

/// Common prologue: `r8 = &state`, `r9 = state.seq`, `r2 = seq % 4` (exits if the
/// lookup fails).
fn prologue(a: &mut Asm, state: &Map) {
    a.push(Insn::mov64_reg(6, 1))
        .push(Insn::st_mem(size::W, 10, -4, 0))
        .extend(ld_map(1, state))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -4))
        .push(Insn::call(helper::MAP_LOOKUP_ELEM))
        .jump(Insn::jeq_imm(0, 0, 0), "exit")
        .push(Insn::mov64_reg(8, 0))
        .push(Insn::ldx_mem(size::DW, 9, 8, 0))
        .push(Insn::mov64_reg(2, 9))
        .push(and64_imm(2, 3));
}

/// Common epilogue: `drop:` counts a drop; `exit:` returns XDP_PASS.
fn epilogue(a: &mut Asm) {
    a.label("drop")
        .push(Insn::ldx_mem(size::DW, 1, 8, 8))
        .push(Insn::add64_imm(1, 1))
        .push(Insn::stx_mem(size::DW, 8, 1, 8))
        .label("exit")
        .push(Insn::mov64_imm(0, 2))
        .push(Insn::exit());
}

/// XDP: reserve `record_len(seq)` bytes in `rb` (else count a drop), advance the
/// sequence number, write `seq` and `!seq`, then discard the record if
/// `discarded(seq)`, else submit it.
fn ringbuf_producer(state: &Map, rb: &Map) -> OwnedFd {
    let mut a = Asm::new();
    prologue(&mut a, state);
    a.jump(Insn::jeq_imm(2, 0, 0), "big")
        .extend(ld_map(1, rb))
        .push(Insn::mov64_imm(2, 16))
        .push(Insn::mov64_imm(3, 0))
        .push(Insn::call(helper::RINGBUF_RESERVE))
        .jump(ja(0), "reserved")
        .label("big")
        .extend(ld_map(1, rb))
        .push(Insn::mov64_imm(2, 56))
        .push(Insn::mov64_imm(3, 0))
        .push(Insn::call(helper::RINGBUF_RESERVE))
        .label("reserved")
        .jump(Insn::jeq_imm(0, 0, 0), "drop")
        .push(Insn::mov64_reg(1, 9))
        .push(Insn::add64_imm(1, 1))
        .push(Insn::stx_mem(size::DW, 8, 1, 0))
        .push(Insn::stx_mem(size::DW, 0, 9, 0))
        .push(Insn::mov64_reg(1, 9))
        .push(not64(1))
        .push(Insn::stx_mem(size::DW, 0, 1, 8))
        .push(Insn::mov64_reg(1, 0))
        .push(Insn::mov64_imm(2, 0))
        .push(mod64_imm(9, 7))
        .jump(jne_imm(9, 3, 0), "submit")
        .push(Insn::call(helper::RINGBUF_DISCARD))
        .jump(ja(0), "exit")
        .label("submit")
        .push(Insn::call(helper::RINGBUF_SUBMIT))
        .jump(ja(0), "exit");
    epilogue(&mut a);
    load(ProgType::Xdp, &a.finish(), "t_cc_rb")
}

/// XDP: `bpf_perf_event_output` of `record_len(seq)` bytes starting with `seq`, `!seq`
/// (zeros after) on the current CPU; advances the sequence number if it was sent, else
/// counts a drop.
fn perf_producer(state: &Map, out: &Map) -> OwnedFd {
    let mut a = Asm::new();
    prologue(&mut a, state);
    a.push(Insn::stx_mem(size::DW, 10, 9, -64))
        .push(Insn::mov64_reg(1, 9))
        .push(not64(1));
    a.push(Insn::stx_mem(size::DW, 10, 1, -56));
    for off in (-48..-8).step_by(8) {
        a.push(Insn::st_mem(size::DW, 10, off as i16, 0));
    }
    a.push(Insn::mov64_imm(5, 16))
        .jump(jne_imm(2, 0, 0), "send")
        .push(Insn::mov64_imm(5, 56))
        .label("send")
        .push(Insn::mov64_reg(1, 6))
        .extend(ld_map(2, out))
        .push(mov32_imm(3, -1)) // BPF_F_CURRENT_CPU
        .push(Insn::mov64_reg(4, 10))
        .push(Insn::add64_imm(4, -64))
        .push(Insn::call(helper::PERF_EVENT_OUTPUT))
        .jump(jne_imm(0, 0, 0), "drop")
        .push(Insn::add64_imm(9, 1))
        .push(Insn::stx_mem(size::DW, 8, 9, 0))
        .jump(ja(0), "exit");
    epilogue(&mut a);
    load(ProgType::Xdp, &a.finish(), "t_cc_perf")
}

/// A thread pinned to CPU 1 that runs `prog` `RUNS_PER_ROUND` times for each message,
/// then sets `done`.
struct Producer {
    go: Option<mpsc::Sender<()>>,
    finished: mpsc::Receiver<()>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Producer {
    fn start(prog: OwnedFd) -> Producer {
        let (go, go_rx) = mpsc::channel::<()>();
        let (fin_tx, finished) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            pin_thread_to(1);
            while go_rx.recv().is_ok() {
                run_xdp(prog.as_fd(), RUNS_PER_ROUND);
                flag.store(true, Ordering::Release);
                fin_tx.send(()).unwrap();
            }
        });
        Producer {
            go: Some(go),
            finished,
            done,
            thread: Some(thread),
        }
    }

    fn start_round(&self) {
        self.done.store(false, Ordering::Relaxed);
        self.go.as_ref().unwrap().send(()).unwrap();
    }

    /// True once this round's runs are over (and their records written).
    fn done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    fn end_round(&self) {
        self.finished
            .recv_timeout(Duration::from_secs(60))
            .expect("producer round");
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.go.take();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Two CPUs, or a skip (failing unless allowed).
fn two_cpus() -> bool {
    let cpus = online_cpus();
    if !(cpus.contains(&0) && cpus.contains(&1)) {
        corebpf_testutil::skip("needs CPUs 0 and 1 online");
        return false;
    }
    true
}

/// Checks one ring buffer record and appends its sequence number.
fn check_rb_record(rec: &[u8], seen: &mut Vec<u64>) {
    let seq = u64::from_ne_bytes(rec[..8].try_into().unwrap());
    let not = u64::from_ne_bytes(rec[8..16].try_into().unwrap());
    assert_eq!(not, !seq, "record {seq} intact");
    assert_eq!(rec.len(), record_len(seq), "record {seq} length");
    seen.push(seq);
}

/// What a round must have seen: every number in `from..to` not discarded, in order.
fn expect_seen(seen: &[u64], from: u64, to: u64, skip_discarded: bool, round: u32) {
    let want: Vec<u64> = (from..to)
        .filter(|&s| !(skip_discarded && discarded(s)))
        .collect();
    if seen != want.as_slice() {
        let missing: Vec<_> = want.iter().filter(|s| !seen.contains(s)).take(5).collect();
        let mut sorted = seen.to_vec();
        sorted.sort_unstable();
        let dup = sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
        panic!(
            "round {round}: saw {} records, want {} ({from}..{to}); first missing {missing:?}, \
             a duplicate: {dup:?}",
            seen.len(),
            want.len()
        );
    }
}

#[test]
fn ringbuf_records_from_another_cpu_are_seen_exactly_once() {
    if !two_cpus() {
        return;
    }
    pin_thread_to(0);
    let state = seq_state();
    let rb_map = map(MapType::RingBuf, 0, 0, 8192, "t_cc_rb");
    let producer = Producer::start(ringbuf_producer(&state, &rb_map));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    let (mut overlapped, mut total_drops) = (0, 0);
    let mut from = 0;
    for round in 0..rounds() {
        let mut seen = Vec::new();
        let mut during = 0;
        producer.start_round();
        loop {
            // Read `done` first: everything produced before it is then in the ring.
            let done = producer.done();
            let n = match round % 4 {
                0 => rb
                    .consume(|rec: &[u8]| check_rb_record(rec, &mut seen))
                    .unwrap(),
                1 => {
                    let mut batch = rb.batch();
                    let n = batch
                        .iter()
                        .map(|rec| check_rb_record(rec, &mut seen))
                        .count();
                    assert!(batch.error().is_none());
                    n
                }
                2 => {
                    let mut n = 0;
                    while let Some(rec) = rb.next().unwrap() {
                        check_rb_record(&rec, &mut seen);
                        n += 1;
                    }
                    n
                }
                _ => rb
                    .poll(Duration::from_millis(1), |rec: &[u8]| {
                        check_rb_record(rec, &mut seen)
                    })
                    .unwrap(),
            };
            if !done {
                during += n;
            } else if rb.avail_data_size() == 0 {
                break;
            }
        }
        producer.end_round();
        let (to, drops) = read_state(&state);
        expect_seen(&seen, from, to, true, round);
        from = to;
        total_drops = drops;
        if during > 0 {
            overlapped += 1;
        }
    }
    assert!(
        overlapped > 0,
        "no round read records while the producer ran: nothing was concurrent"
    );
    eprintln!(
        "{} rounds, {from} records numbered, {total_drops} runs found the ring full, \
         {overlapped} rounds read while producing",
        rounds()
    );
}

#[test]
fn perf_buffer_samples_from_another_cpu_are_seen_exactly_once() {
    if !two_cpus() {
        return;
    }
    pin_thread_to(0);
    let state = seq_state();
    let cpus = possible_cpus().unwrap() as u32;
    let out = map(MapType::PerfEventArray, 4, 4, cpus, "t_cc_perf");
    let producer = Producer::start(perf_producer(&state, &out));
    let seen = std::cell::RefCell::new(Vec::new());
    let lost = std::cell::Cell::new(0u64);
    let mut pb = PerfBuffer::new(
        &out,
        1,
        |cpu, data: &[u8]| {
            assert_eq!(cpu, 1, "the producer runs on CPU 1");
            let seq = u64::from_ne_bytes(data[..8].try_into().unwrap());
            let not = u64::from_ne_bytes(data[8..16].try_into().unwrap());
            assert_eq!(not, !seq, "sample {seq} intact");
            // The kernel pads the u32 size plus the data to a multiple of 8 (with
            // whatever the ring held there).
            assert_eq!(data.len(), record_len(seq) + 4, "sample {seq} length");
            assert!(
                data[16..record_len(seq)].iter().all(|&b| b == 0),
                "sample {seq} body"
            );
            seen.borrow_mut().push(seq);
        },
        |_cpu, n| lost.set(lost.get() + n),
    )
    .unwrap();
    let (mut overlapped, mut from) = (0, 0);
    for round in 0..rounds() {
        seen.borrow_mut().clear();
        let mut during = 0;
        producer.start_round();
        loop {
            let done = producer.done();
            let n = if round % 2 == 0 {
                pb.consume().unwrap()
            } else {
                pb.poll(Duration::from_millis(1)).unwrap()
            };
            if !done {
                during += n;
            } else if n == 0 {
                break;
            }
        }
        producer.end_round();
        let (to, _) = read_state(&state);
        expect_seen(&seen.borrow(), from, to, false, round);
        from = to;
        if during > 0 {
            overlapped += 1;
        }
    }
    drop(pb);
    let (_, drops) = read_state(&state);
    assert!(
        overlapped > 0,
        "no round read samples while the producer ran: nothing was concurrent"
    );
    // The kernel reports lost samples in a PERF_RECORD_LOST before the next sample that
    // fits, so those of the last overflow may not have been reported.
    assert!(lost.get() <= drops, "lost {} > drops {drops}", lost.get());
    eprintln!(
        "{} rounds, {from} samples numbered, {drops} runs found the ring full ({} reported \
         lost), {overlapped} rounds read while producing",
        rounds(),
        lost.get()
    );
}
