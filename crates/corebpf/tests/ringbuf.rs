//! Ring buffer readers on the real kernel: events emitted by a program run with
//! `BPF_PROG_TEST_RUN` (`repeat = N`) arrive complete and in order.

mod maps_util;

use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corebpf::map::Map;
use corebpf::ringbuf::{RingBuf, RingBufferManager};
use corebpf::sys::MapType;
use maps_util::*;

fn ringbuf(size: u32, name: &str) -> Map {
    map(MapType::RingBuf, 0, 0, size, name)
}

#[test]
fn events_arrive_in_order() {
    let rb_map = ringbuf(64 * 1024, "t_rb_order");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    assert_eq!(rb.consume(|_: &[u8]| ()).unwrap(), 0, "empty at first");
    const N: u64 = 500; // 500 * 72 bytes < 64 KiB
    run_xdp(prog.as_fd(), N as u32);
    assert_eq!(read_counters(&cnt), (N, 0));
    let mut got = Vec::new();
    let n = rb
        .poll(Duration::from_secs(5), |rec: &[u8]| {
            got.push(counter_of(rec))
        })
        .unwrap();
    assert_eq!(n as u64, N);
    assert_eq!(got, (1..=N).collect::<Vec<_>>());
    assert_eq!(rb.avail_data_size(), 0, "consumer position caught up");

    // A second round continues where the first stopped.
    run_xdp(prog.as_fd(), 10);
    let mut got = Vec::new();
    rb.consume(|rec: &[u8]| got.push(counter_of(rec))).unwrap();
    assert_eq!(got, (N + 1..=N + 10).collect::<Vec<_>>());
}

#[test]
fn records_wrap_around_the_ring_end() {
    // 4 KiB ring, 72-byte records: after a few rounds records straddle the end and are
    // still contiguous thanks to the double mapping.
    let rb_map = ringbuf(4096, "t_rb_wrap");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    let mut next = 1;
    for _ in 0..20 {
        run_xdp(prog.as_fd(), 30);
        rb.consume(|rec: &[u8]| {
            assert_eq!(counter_of(rec), next);
            assert!(rec[8..].iter().all(|&b| b == 0), "record body intact");
            next += 1;
        })
        .unwrap();
    }
    assert_eq!(next, 601);
    assert_eq!(read_counters(&cnt).1, 0);
}

#[test]
fn records_of_changing_lengths_arrive_with_their_own() {
    // 8 + counter % 16 bytes: the length changes with every record, the stride (header
    // and record rounded up to 8) every few; a reader that assumed the next record is as
    // long as the last (or of the same stride) would hand out wrong slices.
    let rb_map = ringbuf(64 * 1024, "t_rb_lens");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBufVaried);
    let mut rb = RingBuf::new(&rb_map).unwrap();
    const N: u64 = 1000; // at most 32 bytes each, with headers
    run_xdp(prog.as_fd(), N as u32);
    assert_eq!(read_counters(&cnt), (N, 0));
    let mut got = Vec::new();
    rb.consume(|rec: &[u8]| got.push(counter_of_varied(rec)))
        .unwrap();
    assert_eq!(got, (1..=N).collect::<Vec<_>>());
    assert_eq!(rb.avail_data_size(), 0);
}

#[test]
fn no_wakeup_records_are_consumed_without_waiting() {
    let rb_map = ringbuf(16 * 1024, "t_rb_nowake");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(BPF_RB_NO_WAKEUP));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    run_xdp(prog.as_fd(), 50);
    let mut got = Vec::new();
    // poll() sees the data without any wakeup (it checks before waiting).
    rb.poll(Duration::from_secs(5), |rec: &[u8]| {
        got.push(counter_of(rec))
    })
    .unwrap();
    assert_eq!(got, (1..=50).collect::<Vec<_>>());
}

#[test]
fn small_ring_overflow_drops_records() {
    let rb_map = ringbuf(4096, "t_rb_small");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    run_xdp(prog.as_fd(), 200);
    let (emitted, dropped) = read_counters(&cnt);
    assert_eq!(emitted, 200);
    let fits = 4096 / 72;
    assert_eq!(
        dropped,
        200 - fits,
        "bpf_ringbuf_output failed once the ring was full"
    );
    let mut got = Vec::new();
    rb.consume(|rec: &[u8]| got.push(counter_of(rec))).unwrap();
    assert_eq!(
        got,
        (1..=fits).collect::<Vec<_>>(),
        "the first records that fit, in order"
    );
}

#[test]
fn discarded_records_are_skipped() {
    // reserve 16 bytes; store the counter; discard odd counters, submit even ones.
    let rb_map = ringbuf(16 * 1024, "t_rb_discard");
    let cnt = counters();
    let prog = prog_discard_odd(&cnt, &rb_map, SecondWord::Zero, "t_rb_disc");
    run_xdp(prog.as_fd(), 100);
    let mut rb = RingBuf::new(&rb_map).unwrap();
    let mut got = Vec::new();
    rb.consume(|rec: &[u8]| {
        assert_eq!(rec.len(), 16);
        got.push(u64::from_ne_bytes(rec[..8].try_into().unwrap()));
    })
    .unwrap();
    assert_eq!(got, (2..=100).step_by(2).collect::<Vec<u64>>());
    assert_eq!(
        rb.avail_data_size(),
        0,
        "discarded records were consumed too"
    );
}

#[test]
fn callback_can_stop_consumption() {
    let rb_map = ringbuf(16 * 1024, "t_rb_stop");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    run_xdp(prog.as_fd(), 10);
    let mut got = Vec::new();
    let n = rb
        .consume(|rec: &[u8]| {
            got.push(counter_of(rec));
            if got.len() == 3 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(n, 3);
    // i32 callbacks: negative stops, as in libbpf.
    let n = rb
        .consume(|rec: &[u8]| {
            got.push(counter_of(rec));
            if got.len() == 5 {
                -1
            } else {
                0
            }
        })
        .unwrap();
    assert_eq!(n, 2);
    rb.consume(|rec: &[u8]| got.push(counter_of(rec))).unwrap();
    assert_eq!(got, (1..=10).collect::<Vec<_>>());
}

#[test]
fn item_api_releases_on_drop() {
    let rb_map = ringbuf(16 * 1024, "t_rb_items");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    run_xdp(prog.as_fd(), 5);
    let mut got = Vec::new();
    while let Some(item) = rb.next().unwrap() {
        got.push(counter_of(&item));
    }
    assert_eq!(got, [1, 2, 3, 4, 5]);
    assert_eq!(rb.avail_data_size(), 0);
}

#[test]
fn manager_polls_several_rings() {
    let a_map = ringbuf(16 * 1024, "t_rb_a");
    let b_map = ringbuf(16 * 1024, "t_rb_b");
    let (ca, cb) = (counters(), counters());
    let pa = prog_emit_counter(&ca, &a_map, Emit::RingBuf(0));
    let pb = prog_emit_counter(&cb, &b_map, Emit::RingBuf(0));
    let got_a = Arc::new(Mutex::new(Vec::new()));
    let got_b = Arc::new(Mutex::new(Vec::new()));
    let mut mgr = RingBufferManager::new().unwrap();
    let ga = got_a.clone();
    mgr.add(&a_map, move |rec: &[u8]| {
        ga.lock().unwrap().push(counter_of(rec))
    })
    .unwrap();
    let gb = got_b.clone();
    mgr.add(&b_map, move |rec: &[u8]| {
        gb.lock().unwrap().push(counter_of(rec))
    })
    .unwrap();
    assert_eq!(mgr.len(), 2);
    assert_eq!(
        mgr.poll(Duration::from_millis(10)).unwrap(),
        0,
        "timeout, nothing yet"
    );
    run_xdp(pa.as_fd(), 20);
    run_xdp(pb.as_fd(), 30);
    let mut total = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while total < 50 && std::time::Instant::now() < deadline {
        total += mgr.poll(Duration::from_millis(100)).unwrap();
    }
    assert_eq!(total, 50);
    assert_eq!(*got_a.lock().unwrap(), (1..=20).collect::<Vec<_>>());
    assert_eq!(*got_b.lock().unwrap(), (1..=30).collect::<Vec<_>>());
    run_xdp(pb.as_fd(), 1);
    assert_eq!(mgr.consume().unwrap(), 1);
}

#[test]
fn poll_wakes_up_when_a_record_arrives() {
    let rb_map = ringbuf(16 * 1024, "t_rb_wake");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        run_xdp(prog.as_fd(), 1);
    });
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    while got.is_empty() && start.elapsed() < Duration::from_secs(10) {
        rb.poll(Duration::from_secs(10), |rec: &[u8]| {
            got.push(counter_of(rec))
        })
        .unwrap();
    }
    t.join().unwrap();
    assert_eq!(got, [1]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "woken up by the record"
    );
}

#[test]
fn async_ring_buffer_receives_events() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let rb_map = ringbuf(16 * 1024, "t_rb_async");
        let cnt = counters();
        let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
        let mut rb = corebpf::ringbuf::AsyncRingBuf::new(&rb_map).unwrap();
        let t = std::thread::spawn(move || {
            for _ in 0..5 {
                std::thread::sleep(Duration::from_millis(20));
                run_xdp(prog.as_fd(), 4);
            }
        });
        let mut got = Vec::new();
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            // Bytes for the first half, the event type for the rest.
            while got.len() < 10 {
                rb.consume_ready(|rec: &[u8]| got.push(counter_of(rec)))
                    .await
                    .unwrap();
            }
            while got.len() < 20 {
                rb.consume_ready_typed(|e: Event| got.push(e.counter))
                    .await
                    .unwrap();
            }
        })
        .await;
        t.join().unwrap();
        assert!(waited.is_ok(), "timed out with {} of 20 events", got.len());
        assert_eq!(got, (1..=20).collect::<Vec<_>>());
    });
}

/// The 64-byte record `prog_emit_counter` submits: the counter, then zeros.
#[repr(C)]
#[derive(Clone, Copy)]
struct Event {
    counter: u64,
    rest: [u64; 7],
}
// SAFETY: `#[repr(C)]`, integers only, no padding.
unsafe impl corebpf::map::Pod for Event {}

#[test]
fn typed_records_arrive_as_the_event_type() {
    let rb_map = ringbuf(64 * 1024, "t_rb_typed");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    run_xdp(prog.as_fd(), 20);
    let mut got = Vec::new();
    let n = rb
        .poll_typed(Duration::from_secs(5), |e: Event| {
            assert_eq!(e.rest, [0; 7]);
            got.push(e.counter)
        })
        .unwrap();
    assert_eq!(n, 20);
    assert_eq!(got, (1..=20).collect::<Vec<_>>());
    // A type longer than the records: a clear error, naming the map and both sizes.
    run_xdp(prog.as_fd(), 1);
    let e = rb.consume_typed(|_: [u64; 9]| ()).unwrap_err().to_string();
    assert!(
        e.contains("t_rb_typed") && e.contains("64") && e.contains("72"),
        "{e}"
    );
}
