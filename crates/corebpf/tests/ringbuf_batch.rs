//! The zero-copy batch API on the real kernel: records come in order as slices of the
//! mapping, discarded ones are skipped, and the consumer position moves when the batch
//! is dropped, past exactly what it handed out.

mod maps_util;

use std::os::fd::AsFd;

use corebpf::map::Map;
use corebpf::ringbuf::RingBuf;
use corebpf::sys::insn::size;
use corebpf::sys::{Insn, MapType, ProgType};
use maps_util::*;

/// One record: 8-byte header plus 64 bytes.
const STRIDE: u64 = 72;

fn ringbuf(size: u32, name: &str) -> Map {
    map(MapType::RingBuf, 0, 0, size, name)
}

#[test]
fn batch_hands_out_records_in_order_and_releases_on_drop() {
    let rb_map = ringbuf(16 * 1024, "t_rbb_order");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    run_xdp(prog.as_fd(), 100);
    assert_eq!(rb.avail_data_size(), 100 * STRIDE);

    let mut batch = rb.batch();
    let records: Vec<&[u8]> = batch.iter().collect();
    assert_eq!(
        records.iter().map(|r| counter_of(r)).collect::<Vec<_>>(),
        (1..=100).collect::<Vec<_>>()
    );
    // All slices are alive at once: nothing was released while iterating.
    assert!(records.iter().all(|r| r[8..].iter().all(|&b| b == 0)));
    assert_eq!(batch.consumed_bytes(), 100 * STRIDE);
    assert_eq!(batch.iter().next(), None, "the batch is at the end");
    assert!(batch.error().is_none());
    drop(batch);
    assert_eq!(
        rb.avail_data_size(),
        0,
        "dropping the batch released its records"
    );
}

#[test]
fn batch_hands_out_records_of_changing_lengths_with_their_own() {
    // 8 + counter % 16 bytes (see `Emit::RingBufVaried`): the length changes with every
    // record, the stride every few.
    let rb_map = ringbuf(64 * 1024, "t_rbb_lens");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBufVaried);
    let mut rb = RingBuf::new(&rb_map).unwrap();
    run_xdp(prog.as_fd(), 1000);
    let mut batch = rb.batch();
    let got: Vec<u64> = batch.iter().map(counter_of_varied).collect();
    assert!(batch.error().is_none());
    drop(batch);
    assert_eq!(got, (1..=1000).collect::<Vec<_>>());
    assert_eq!(rb.avail_data_size(), 0);
    // The one-at-a-time API walks the same cursor.
    run_xdp(prog.as_fd(), 100);
    let mut got = Vec::new();
    while let Some(item) = rb.next().unwrap() {
        got.push(counter_of_varied(&item));
    }
    assert_eq!(got, (1001..=1100).collect::<Vec<_>>());
}

#[test]
fn consumer_position_moves_on_drop_only_past_what_was_iterated() {
    let rb_map = ringbuf(16 * 1024, "t_rbb_partial");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    run_xdp(prog.as_fd(), 10);

    let mut batch = rb.batch();
    let first: Vec<u64> = batch.iter().take(3).map(counter_of).collect();
    assert_eq!(first, [1, 2, 3]);
    assert_eq!(batch.consumed_bytes(), 3 * STRIDE);
    // Iterating again continues where the batch stands.
    assert_eq!(batch.iter().next().map(counter_of), Some(4));
    drop(batch);
    assert_eq!(rb.avail_data_size(), 6 * STRIDE, "4 records released");

    // A batch that hands out nothing releases nothing.
    drop(rb.batch());
    assert_eq!(rb.avail_data_size(), 6 * STRIDE);

    // A forgotten batch never publishes: its records come again.
    let mut batch = rb.batch();
    assert_eq!(batch.iter().next().map(counter_of), Some(5));
    std::mem::forget(batch);
    let mut got = Vec::new();
    rb.consume(|rec: &[u8]| got.push(counter_of(rec))).unwrap();
    assert_eq!(got, (5..=10).collect::<Vec<_>>());
}

#[test]
fn batch_sees_records_committed_while_it_iterates() {
    let rb_map = ringbuf(16 * 1024, "t_rbb_more");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    run_xdp(prog.as_fd(), 5);
    let mut batch = rb.batch();
    let mut got: Vec<u64> = batch.iter().map(counter_of).collect();
    assert_eq!(got, [1, 2, 3, 4, 5]);
    // The producer keeps writing into the free space while the batch is held.
    run_xdp(prog.as_fd(), 5);
    got.extend(batch.iter().map(counter_of));
    assert_eq!(got, (1..=10).collect::<Vec<_>>());
    drop(batch);
    assert_eq!(rb.avail_data_size(), 0);
}

#[test]
fn batch_records_wrap_around_the_ring_end() {
    // 4 KiB ring, 72-byte records: some records straddle the end.
    let rb_map = ringbuf(4096, "t_rbb_wrap");
    let cnt = counters();
    let prog = prog_emit_counter(&cnt, &rb_map, Emit::RingBuf(0));
    let mut rb = RingBuf::new(&rb_map).unwrap();
    let mut next = 1;
    for _ in 0..20 {
        run_xdp(prog.as_fd(), 30);
        let mut batch = rb.batch();
        for rec in &mut batch {
            assert_eq!(counter_of(rec), next);
            assert!(rec[8..].iter().all(|&b| b == 0), "record body intact");
            next += 1;
        }
    }
    assert_eq!(next, 601);
    assert_eq!(
        read_counters(&cnt).1,
        0,
        "nothing dropped: each batch released"
    );
}

#[test]
fn batch_skips_discarded_records_and_reads_typed() {
    // Reserve 16 bytes; store the counter and its double; discard odd counters.
    let rb_map = ringbuf(16 * 1024, "t_rbb_discard");
    let cnt = counters();
    let prog = prog_discard_odd(&cnt, &rb_map, SecondWord::Double, "t_rbb_disc");
    run_xdp(prog.as_fd(), 100);
    let mut rb = RingBuf::new(&rb_map).unwrap();

    let mut batch = rb.batch();
    let got: Vec<[u64; 2]> = batch.typed::<[u64; 2]>().map(Result::unwrap).collect();
    assert_eq!(
        got,
        (1..=50).map(|i| [2 * i, 4 * i]).collect::<Vec<_>>(),
        "even counters only, with their doubles"
    );
    assert_eq!(
        batch.consumed_bytes(),
        100 * 24,
        "discarded records passed over"
    );
    drop(batch);
    assert_eq!(rb.avail_data_size(), 0);

    // A type longer than the records: each record is an error naming the map and type.
    run_xdp(prog.as_fd(), 2);
    let mut batch = rb.batch();
    let errs: Vec<_> = batch.typed::<[u64; 3]>().collect();
    assert_eq!(errs.len(), 1);
    let msg = errs[0].as_ref().unwrap_err().to_string();
    assert!(
        msg.contains("t_rbb_discard") && msg.contains("u64"),
        "{msg}"
    );
}

#[test]
fn batch_hands_out_records_in_ring_order_whatever_the_commit_order() {
    // Reserve two 8-byte records, write 1 and 2, commit the second first.
    let rb_map = ringbuf(4096, "t_rbb_commit");
    let mut a = Asm::new();
    a.extend(ld_map(1, &rb_map))
        .push(Insn::mov64_imm(2, 8))
        .push(Insn::mov64_imm(3, 0))
        .push(Insn::call(helper::RINGBUF_RESERVE))
        .jump(Insn::jeq_imm(0, 0, 0), "exit")
        .push(Insn::mov64_reg(6, 0))
        .push(Insn::st_mem(size::DW, 6, 0, 1))
        .extend(ld_map(1, &rb_map))
        .push(Insn::mov64_imm(2, 8))
        .push(Insn::mov64_imm(3, 0))
        .push(Insn::call(helper::RINGBUF_RESERVE))
        .jump(Insn::jeq_imm(0, 0, 0), "discard_first")
        .push(Insn::st_mem(size::DW, 0, 0, 2))
        .push(Insn::mov64_reg(1, 0))
        .push(Insn::mov64_imm(2, 0))
        .push(Insn::call(helper::RINGBUF_SUBMIT))
        .push(Insn::mov64_reg(1, 6))
        .push(Insn::mov64_imm(2, 0))
        .push(Insn::call(helper::RINGBUF_SUBMIT))
        .jump(ja(0), "exit")
        .label("discard_first")
        .push(Insn::mov64_reg(1, 6))
        .push(Insn::mov64_imm(2, 0))
        .push(Insn::call(helper::RINGBUF_DISCARD))
        .label("exit")
        .push(Insn::mov64_imm(0, 2))
        .push(Insn::exit());
    let prog = load(ProgType::Xdp, &a.finish(), "t_rbb_commit");
    run_xdp(prog.as_fd(), 3);
    let mut rb = RingBuf::new(&rb_map).unwrap();
    let mut batch = rb.batch();
    let got: Vec<u64> = batch
        .iter()
        .map(|r| u64::from_ne_bytes(r.try_into().unwrap()))
        .collect();
    assert_eq!(got, [1, 2, 1, 2, 1, 2]);
}
