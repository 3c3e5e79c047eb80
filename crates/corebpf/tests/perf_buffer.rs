//! Perf buffer reader on the real kernel: samples from `bpf_perf_event_output` arrive in
//! order on the CPU that produced them, records wrapping the ring end are reassembled, and
//! an overflowing ring reports lost events.

mod maps_util;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use corebpf::map::Map;
use corebpf::perf_buffer::PerfBuffer;
use corebpf::sys::{possible_cpus, MapType};
use maps_util::*;

/// The counter of a perf sample: the 64-byte record padded by the kernel to 68 bytes
/// (the `u32` size plus the data is a multiple of 8).
fn perf_counter_of(data: &[u8]) -> u64 {
    assert_eq!(data.len(), 68, "64-byte record plus the kernel's padding");
    counter_of(&data[..64])
}

fn perf_array(name: &str) -> Map {
    map(
        MapType::PerfEventArray,
        4,
        4,
        possible_cpus().unwrap() as u32,
        name,
    )
}

/// Polls until `want` samples arrived (or 10 s passed).
fn poll_until<S: FnMut(u32, &[u8]), L: FnMut(u32, u64)>(
    pb: &mut PerfBuffer<S, L>,
    done: impl Fn() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() && Instant::now() < deadline {
        pb.poll(Duration::from_millis(100)).unwrap();
    }
}

#[test]
fn samples_arrive_in_order_per_cpu() {
    let cpus = online_cpus();
    let pmap = perf_array("t_perf_order");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &pmap, Emit::Perf);
    let got = std::cell::RefCell::new(Vec::new());
    let lost = std::cell::Cell::new(0u64);
    let mut pb = PerfBuffer::new(
        &pmap,
        16,
        |cpu, data: &[u8]| got.borrow_mut().push((cpu, perf_counter_of(data))),
        |_cpu, n| lost.set(lost.get() + n),
    )
    .unwrap();
    assert!(pb.buffer_cnt() >= cpus.len(), "a ring per online CPU");
    // Run 100 events on each online CPU in turn (the thread pinned there).
    let per_cpu = 100u64;
    for (i, &cpu) in cpus.iter().enumerate() {
        let prog = prog.as_fd();
        std::thread::scope(|s| {
            s.spawn(|| {
                pin_thread_to(cpu);
                run_xdp(prog, per_cpu as u32);
            });
        });
        poll_until(&mut pb, || {
            got.borrow().len() as u64 == per_cpu * (i as u64 + 1)
        });
    }
    assert_eq!(lost.get(), 0);
    assert_eq!(read_counters(&cnt), (per_cpu * cpus.len() as u64, 0));
    drop(pb);
    let got = got.into_inner();
    for (i, &cpu) in cpus.iter().enumerate() {
        let on_cpu: Vec<u64> = got.iter().filter(|e| e.0 == cpu).map(|e| e.1).collect();
        let first = i as u64 * per_cpu + 1;
        assert_eq!(
            on_cpu,
            (first..first + per_cpu).collect::<Vec<_>>(),
            "CPU {cpu}"
        );
    }
}

#[test]
fn wrapped_records_are_reassembled() {
    // One data page: 80-byte records (8 header + 4 size + 64 data + 4 padding) wrap the
    // 4096-byte ring end every few rounds.
    let pmap = perf_array("t_perf_wrap");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &pmap, Emit::Perf);
    let mut next = 1u64;
    let mut lost = 0;
    let mut pb = PerfBuffer::new(
        &pmap,
        1,
        |_cpu, data: &[u8]| {
            assert_eq!(perf_counter_of(data), next);
            assert!(data[8..64].iter().all(|&b| b == 0));
            next += 1;
        },
        |_cpu, n| lost += n,
    )
    .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            pin_thread_to(online_cpus()[0]);
            for _ in 0..30 {
                run_xdp(prog.as_fd(), 7);
                pb.consume().unwrap();
            }
        });
    });
    drop(pb);
    assert_eq!(lost, 0);
    assert_eq!(next, 211);
}

#[test]
fn overflow_reports_lost_events() {
    let pmap = perf_array("t_perf_lost");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &pmap, Emit::Perf);
    let mut samples = Vec::new();
    let mut lost = 0u64;
    let mut pb = PerfBuffer::new(
        &pmap,
        1,
        |_cpu, data: &[u8]| samples.push(perf_counter_of(data)),
        |_cpu, n| lost += n,
    )
    .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            pin_thread_to(online_cpus()[0]);
            run_xdp(prog.as_fd(), 200); // far more than one page holds
            pb.consume().unwrap();
            // The kernel writes the LOST record with the next sample that fits.
            run_xdp(prog.as_fd(), 1);
            pb.consume().unwrap();
        });
    });
    drop(pb);
    let (emitted, dropped) = read_counters(&cnt);
    assert_eq!(emitted, 201);
    assert!(dropped > 0, "the program saw output failures");
    assert_eq!(
        lost, dropped,
        "lost count matches the program's failed outputs"
    );
    assert_eq!(samples.len() as u64 + lost, 201);
    let fitted = samples.len() - 1;
    assert_eq!(
        samples[..fitted],
        (1..=fitted as u64).collect::<Vec<_>>()[..]
    );
    assert_eq!(*samples.last().unwrap(), 201);
}

#[test]
fn drop_clears_the_map_slots() {
    let pmap = perf_array("t_perf_drop");
    let pb = PerfBuffer::new(&pmap, 2, |_, _: &[u8]| {}, |_, _| {}).unwrap();
    assert!(pb.buffer_cnt() >= 1);
    assert!(pb.buffer_fd(0).is_some());
    let slot = pb.buffer_cpu(0).unwrap();
    // Perf event array slots cannot be read from user space; an update of an occupied
    // slot with BPF_NOEXIST is not supported either, so check by deleting after drop.
    drop(pb);
    assert!(
        !pmap.delete(&slot.to_ne_bytes()).unwrap(),
        "the perf buffer cleared its slot on drop"
    );
    let e = PerfBuffer::new(&pmap, 3, |_, _: &[u8]| {}, |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("power of 2"), "{e}");
    let not_perf = counters();
    assert!(PerfBuffer::new(&not_perf, 1, |_, _: &[u8]| {}, |_, _| {}).is_err());
}

#[test]
fn typed_samples_are_read_from_their_start() {
    let pmap = perf_array("t_perf_typed");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &pmap, Emit::Perf);
    let got = std::cell::RefCell::new(Vec::new());
    // The 64-byte record: its counter, then zeros; the kernel's padding is not read.
    let mut pb = PerfBuffer::new(
        &pmap,
        8,
        corebpf::perf_buffer::typed_sample(|_cpu, e: [u64; 8]| got.borrow_mut().push(e)),
        |_, _| {},
    )
    .unwrap();
    run_xdp(prog.as_fd(), 10);
    poll_until(&mut pb, || got.borrow().len() == 10);
    drop(pb);
    let got = got.into_inner();
    assert_eq!(
        got.iter().map(|e| e[0]).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert!(got.iter().all(|e| e[1..] == [0; 7]));
}
