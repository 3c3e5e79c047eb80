//! Maps, mmapped arrays, ring buffers and perf buffers close every fd they open (a
//! separate test binary: the fd count is process-wide).

mod maps_util;

use corebpf::perf_buffer::PerfBuffer;
use corebpf::ringbuf::{RingBuf, RingBufferManager};
use corebpf::sys::consts::BPF_F_MMAPABLE;
use corebpf::sys::{possible_cpus, MapCreateAttr, MapType};
use maps_util::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

#[test]
fn no_fd_leaks() {
    let round = || {
        let h = map(MapType::Hash, 4, 8, 8, "t_leak_hash");
        h.as_hash::<u32, u64>().unwrap().insert(&1, &1, 0).unwrap();
        assert!(h.as_hash::<u64, u64>().is_err());
        let a = map_with(MapCreateAttr {
            map_type: MapType::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 4,
            map_flags: BPF_F_MMAPABLE,
            name: "t_leak_mmap",
            ..Default::default()
        });
        let view = a.as_array::<u64>().unwrap().mmap().unwrap();
        drop(a);
        view.set(0, 1).unwrap();
        let rb_map = map(MapType::RingBuf, 0, 0, 4096, "t_leak_rb");
        let rb = RingBuf::new(&rb_map).unwrap();
        let mut mgr = RingBufferManager::new().unwrap();
        mgr.add(&rb_map, |_: &[u8]| ()).unwrap();
        drop((rb, mgr));
        let p = map(
            MapType::PerfEventArray,
            4,
            4,
            possible_cpus().unwrap() as u32,
            "t_leak_perf",
        );
        let pb = PerfBuffer::new(&p, 1, |_, _: &[u8]| {}, |_, _| {}).unwrap();
        drop(pb);
        // An error path: a page count that is not a power of 2.
        assert!(PerfBuffer::new(&p, 3, |_, _: &[u8]| {}, |_, _| {}).is_err());
    };
    round();
    let before = open_fds();
    for _ in 0..5 {
        round();
    }
    assert_eq!(open_fds(), before, "fds leaked");
}
