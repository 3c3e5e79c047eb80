//! Concurrent use: which handles cross threads (checked at compile time), and one hash map
//! hammered from several threads (updates, lookups, deletes, iteration, batch lookups)
//! while a BPF program writes it, with no lost update and no torn value.

use std::collections::HashMap as StdHashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use corebpf::map::HashMap;
use corebpf::{Link, Map, Object, ObjectBuilder, OpenObject, Program, TestRun};

/// Compiles only for `Send + Sync` types.
fn send_sync<T: Send + Sync>() {}
/// Compiles only for `Send` types.
fn send<T: Send>() {}

#[test]
fn handles_cross_threads_where_sound() {
    // Every method of these takes `&self` and is a syscall on an fd the kernel serialises,
    // or reads data fixed at load: shared use from many threads is sound.
    send_sync::<OpenObject>();
    send_sync::<Object>();
    send_sync::<Map>();
    send_sync::<Program>();
    send_sync::<Link>();
    send_sync::<HashMap<u32, [u64; 2]>>();
    // Readers own a consumer position and consume through `&mut self`: one thread at a
    // time, but they can move to another thread.
    send::<corebpf::ringbuf::RingBuf>();
    send::<corebpf::ringbuf::RingBufferManager>();
}

/// Keys 1..=256 are written by the BPF program, 1000*t + (0..256) by user thread t; key 0
/// counts the program's runs.
const BPF_KEYS: u32 = 256;
const USER_KEYS: u32 = 256;
const USER_WRITERS: u32 = 2;
const ROUNDS: u64 = 20_000;

fn hammer_object() -> Object {
    ObjectBuilder::new()
        .open_file(corebpf_testutil::testdata().join("bpf/out/clang19/run_hash_hammer.bpf.o"))
        .unwrap()
        .load()
        .unwrap()
}

/// Runs `hammer_write` with `key`, `val`; whether key 0 was there.
fn bpf_write(prog: &Program, key: u32, val: u64) -> bool {
    let mut ctx = [0u8; 16];
    ctx[..8].copy_from_slice(&u64::from(key).to_ne_bytes());
    ctx[8..].copy_from_slice(&val.to_ne_bytes());
    let out = prog
        .test_run(&TestRun {
            ctx: &ctx,
            ..Default::default()
        })
        .unwrap();
    out.retval == 1
}

/// The BPF writer: key 1 + i % 256 set to {i, i}; returns the last value of each key.
fn bpf_writer(prog: &Program) -> StdHashMap<u32, u64> {
    let mut last = StdHashMap::new();
    for i in 0..ROUNDS {
        let key = 1 + (i % u64::from(BPF_KEYS)) as u32;
        assert!(bpf_write(prog, key, i), "key 0 vanished");
        last.insert(key, i);
    }
    last
}

/// User writer `t`: sets, reads back and every third round deletes its own keys; nobody
/// else writes them, so each read must return exactly what was written. Returns the final
/// value of each key (`None`: deleted).
fn user_writer(map: &HashMap<u32, [u64; 2], &Map>, t: u32) -> StdHashMap<u32, Option<u64>> {
    let mut last = StdHashMap::new();
    for i in 0..ROUNDS {
        let key = 1000 * (t + 1) + (i % u64::from(USER_KEYS)) as u32;
        let v = i * 10 + u64::from(t);
        map.insert(&key, &[v, v], 0).unwrap();
        assert_eq!(
            map.get(&key, 0).unwrap(),
            Some([v, v]),
            "lost update of {key}"
        );
        if i % 3 == 0 {
            assert!(map.remove(&key).unwrap(), "{key} was just written");
            assert_eq!(map.get(&key, 0).unwrap(), None, "deleted {key} still there");
            last.insert(key, None);
        } else {
            last.insert(key, Some(v));
        }
    }
    last
}

/// A pair read while others write must be whole (key 0's halves are added one after the
/// other, so it alone may be seen between its two adds).
fn check_whole(key: u32, pair: [u64; 2]) {
    if key != 0 {
        assert_eq!(pair[0], pair[1], "torn value of key {key}: {pair:?}");
    }
}

/// Reads every key, walks the map and batch-reads it until `done`, checking each value.
fn reader(map: &HashMap<u32, [u64; 2], &Map>, done: &AtomicBool) -> u64 {
    let mut seen = 0u64;
    while !done.load(Ordering::Relaxed) {
        for key in (1..=BPF_KEYS).chain(1000..1000 + USER_KEYS) {
            if let Some(pair) = map.get(&key, 0).unwrap() {
                check_whole(key, pair);
                seen += 1;
            }
        }
        for entry in map.iter() {
            let (key, pair) = entry.unwrap();
            check_whole(key, pair);
            seen += 1;
        }
        for (key, pair) in map.get_batch(64).unwrap() {
            check_whole(key, pair);
            seen += 1;
        }
    }
    seen
}

#[test]
fn a_hash_map_hammered_from_threads_and_bpf_loses_nothing() {
    let obj = hammer_object();
    let prog = obj.program("hammer_write").unwrap();
    let raw = obj.map("hammer").unwrap();
    let map: HashMap<u32, [u64; 2], &Map> = raw.as_hash().unwrap();
    map.insert(&0, &[0, 0], 0).unwrap();
    let done = AtomicBool::new(false);
    let (bpf_last, user_last, seen) = std::thread::scope(|s| {
        let readers: Vec<_> = (0..2).map(|_| s.spawn(|| reader(&map, &done))).collect();
        let users: Vec<_> = (0..USER_WRITERS)
            .map(|t| {
                let map = &map;
                s.spawn(move || user_writer(map, t))
            })
            .collect();
        let bpf_last = bpf_writer(prog);
        let user_last: Vec<_> = users.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, Ordering::Relaxed);
        let seen: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
        (bpf_last, user_last, seen)
    });
    assert!(seen > 0, "the readers read nothing");
    // Every run of the program counted, though user threads updated the map meanwhile.
    assert_eq!(map.get(&0, 0).unwrap(), Some([ROUNDS, ROUNDS]));
    for (key, v) in bpf_last {
        assert_eq!(map.get(&key, 0).unwrap(), Some([v, v]), "BPF key {key}");
    }
    for last in user_last {
        for (key, v) in last {
            assert_eq!(
                map.get(&key, 0).unwrap(),
                v.map(|v| [v, v]),
                "user key {key}"
            );
        }
    }
}
