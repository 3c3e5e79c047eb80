//! Typed map handles on the real kernel: written from user space and from BPF programs,
//! read back; type/size checks; iteration under deletion; batch operations.

mod maps_util;

use std::os::fd::AsFd;

use corebpf::map::{
    HashMap, LpmKey, Map, MapError, PerCpuValues, Pod, BPF_ANY, BPF_EXIST, BPF_NOEXIST,
};
use corebpf::sys::consts::BPF_F_MMAPABLE;
use corebpf::sys::insn::size;
use corebpf::sys::{map_get_next_key, Insn, MapCreateAttr, MapType, ProgType};
use maps_util::*;

#[test]
fn hash_map_user_space_and_program() {
    let m = map(MapType::Hash, 4, 8, 64, "t_hash");
    let h = m.as_hash::<u32, u64>().unwrap();
    h.insert(&1, &10, BPF_ANY).unwrap();
    h.insert(&2, &20, BPF_NOEXIST).unwrap();
    assert!(
        h.insert(&2, &21, BPF_NOEXIST).is_err(),
        "NOEXIST on a present key"
    );
    assert!(
        h.insert(&3, &30, BPF_EXIST).is_err(),
        "EXIST on an absent key"
    );
    h.insert(&2, &22, BPF_EXIST).unwrap();
    assert_eq!(h.get(&1, 0).unwrap(), Some(10));
    assert_eq!(h.get(&2, 0).unwrap(), Some(22));
    assert_eq!(h.get(&3, 0).unwrap(), None);

    let prog = prog_update_u32_u64(&m, 7, 1000);
    assert_eq!(
        run_raw_tp(prog.as_fd()),
        0,
        "bpf_map_update_elem returned an error"
    );
    let v = h.get(&7, 0).unwrap().expect("key written by the program");
    assert!(
        (1000..1000 + 4096).contains(&v),
        "value {v} is 1000 + a CPU number"
    );

    assert!(h.remove(&1).unwrap());
    assert!(!h.remove(&1).unwrap());
    let mut keys: Vec<u32> = h.keys().map(Result::unwrap).collect();
    keys.sort();
    assert_eq!(keys, [2, 7]);
    let mut entries: Vec<(u32, u64)> = h.iter().map(Result::unwrap).collect();
    entries.sort();
    assert_eq!(entries, [(2, 22), (7, v)]);
    assert!(h.contains_key(&2).unwrap());
}

#[test]
fn owned_and_try_into_handles() {
    let m = map(MapType::Hash, 4, 4, 8, "t_owned");
    let h: HashMap<u32, u32> = m.try_into().unwrap();
    h.insert(&5, &6, 0).unwrap();
    let m = h.into_inner();
    let h: HashMap<u32, u32, &Map> = (&m).try_into().unwrap();
    assert_eq!(h.get(&5, 0).unwrap(), Some(6));
    assert_eq!(h.map().name(), "t_owned");
}

#[test]
fn wrong_sizes_and_types_are_reported_with_the_map_name() {
    let m = map(MapType::Hash, 4, 8, 8, "t_sizes");
    let e = m.as_hash::<u64, u64>().unwrap_err();
    assert!(
        matches!(
            e,
            MapError::KeySize {
                map: 4,
                rust: 8,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("t_sizes") && msg.contains("4-byte") && msg.contains("8 bytes"),
        "{msg}"
    );
    let e = m.as_hash::<u32, u32>().unwrap_err();
    assert!(
        matches!(
            e,
            MapError::ValueSize {
                map: 8,
                rust: 4,
                ..
            }
        ),
        "{e:?}"
    );
    let e = m.as_array::<u64>().unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("t_sizes") && msg.contains("hash") && msg.contains("array"),
        "{msg}"
    );
    assert!(m.as_percpu_hash::<u32, u64>().is_err());
    assert!(m.as_lru_hash::<u32, u64>().is_err());
}

#[test]
fn map_metadata_comes_from_the_kernel() {
    let m = map_with(MapCreateAttr {
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 16,
        max_entries: 33,
        map_flags: corebpf::sys::consts::BPF_F_NO_PREALLOC,
        name: "t_meta",
        ..Default::default()
    });
    assert_eq!(m.name(), "t_meta");
    assert_eq!(m.map_type(), Some(MapType::Hash));
    assert_eq!((m.key_size(), m.value_size(), m.max_entries()), (4, 16, 33));
    assert_eq!(m.flags(), corebpf::sys::consts::BPF_F_NO_PREALLOC);
    assert!(m.id() > 0);
    let again = Map::from_id(m.id()).unwrap();
    assert_eq!(again.name(), "t_meta");
    assert_eq!(again.id(), m.id());
}

#[test]
fn kernel_restarts_get_next_key_after_deleting_the_current_key() {
    // The premise of the iterator's dedup: GET_NEXT_KEY of a deleted key is the first key.
    let m = map(MapType::Hash, 4, 4, 64, "t_restart");
    for k in 0..10u32 {
        m.update(&k.to_ne_bytes(), &k.to_ne_bytes(), 0).unwrap();
    }
    let mut first = [0u8; 4];
    assert!(map_get_next_key(m.map_fd(), None, &mut first).unwrap());
    let mut second = [0u8; 4];
    assert!(map_get_next_key(m.map_fd(), Some(&first), &mut second).unwrap());
    let mut third = [0u8; 4];
    assert!(map_get_next_key(m.map_fd(), Some(&second), &mut third).unwrap());
    m.delete(&third).unwrap();
    let mut after = [0u8; 4];
    assert!(map_get_next_key(m.map_fd(), Some(&third), &mut after).unwrap());
    assert_eq!(after, first, "the kernel restarts from the first key");
}

#[test]
fn iteration_while_deleting_yields_each_key_once() {
    let m = map(MapType::Hash, 4, 8, 256, "t_iterdel");
    let h = m.as_hash::<u32, u64>().unwrap();
    for k in 0..200u32 {
        h.insert(&k, &(k as u64 * 3), 0).unwrap();
    }
    // Delete the current key on every step (drain).
    let mut seen = Vec::new();
    for k in h.keys() {
        let k = k.unwrap();
        seen.push(k);
        assert!(h.remove(&k).unwrap());
    }
    seen.sort();
    assert_eq!(seen, (0..200).collect::<Vec<_>>());
    assert_eq!(h.keys().count(), 0);

    // Delete other keys (every odd key when visiting an even one) during iteration:
    // keys present throughout are yielded exactly once, none twice.
    for k in 0..200u32 {
        h.insert(&k, &(k as u64), 0).unwrap();
    }
    let mut seen = Vec::new();
    for entry in h.iter() {
        let (k, v) = entry.unwrap();
        assert_eq!(v, k as u64);
        seen.push(k);
        if k % 2 == 0 {
            h.remove(&(k + 1)).unwrap();
            h.remove(&k).unwrap();
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "a key was yielded twice");
    for k in (0..200u32).step_by(2) {
        assert!(
            seen.contains(&k),
            "even key {k} (never deleted before its visit) missed"
        );
    }
}

#[test]
fn batch_operations() {
    let m = map(MapType::Hash, 4, 8, 2048, "t_batch");
    let h = m.as_hash::<u32, u64>().unwrap();
    let keys: Vec<u32> = (0..1000).collect();
    let values: Vec<u64> = keys.iter().map(|&k| k as u64 * 7).collect();
    assert_eq!(h.insert_batch(&keys, &values, 0).unwrap(), 1000);
    // A batch size of 1 is smaller than some buckets: the walk must grow and still get all.
    for batch in [1, 64, 4096] {
        let mut all = h.get_batch(batch).unwrap();
        all.sort();
        assert_eq!(all.len(), 1000, "batch size {batch}");
        assert!(all.iter().all(|&(k, v)| v == k as u64 * 7));
    }
    assert_eq!(h.remove_batch(&keys[..500]).unwrap(), 500);
    let mut rest = h.drain_batch(100).unwrap();
    rest.sort();
    assert_eq!(
        rest.iter().map(|e| e.0).collect::<Vec<_>>(),
        (500..1000).collect::<Vec<_>>()
    );
    assert_eq!(h.keys().count(), 0);

    let a = map(MapType::Array, 4, 8, 100, "t_abatch");
    let arr = a.as_array::<u64>().unwrap();
    let idx: Vec<u32> = (0..100).collect();
    let vals: Vec<u64> = (0..100).map(|i| i * i).collect();
    assert_eq!(arr.set_batch(&idx, &vals, 0).unwrap(), 100);
    let got = arr.get_batch(32).unwrap();
    assert_eq!(got.len(), 100);
    assert!(got.iter().all(|&(i, v)| v == i as u64 * i as u64));
}

#[test]
fn array_user_space_program_and_bounds() {
    let m = map(MapType::Array, 4, 8, 16, "t_array");
    let arr = m.as_array::<u64>().unwrap();
    assert_eq!(arr.len(), 16);
    assert_eq!(arr.get(3, 0).unwrap(), 0, "arrays start zeroed");
    arr.set(3, &33, 0).unwrap();
    assert_eq!(arr.get(3, 0).unwrap(), 33);
    let prog = prog_update_u32_u64(&m, 5, 500);
    assert_eq!(run_raw_tp(prog.as_fd()), 0);
    assert!(arr.get(5, 0).unwrap() >= 500);
    let e = arr.get(16, 0).unwrap_err();
    assert!(
        matches!(
            e,
            MapError::OutOfBounds {
                index: 16,
                max_entries: 16,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(arr.iter().count(), 16);
}

#[test]
fn mmapable_array_view() {
    let m = map_with(MapCreateAttr {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 8,
        max_entries: 8,
        map_flags: BPF_F_MMAPABLE,
        name: "t_mmarr",
        ..Default::default()
    });
    let arr = m.as_array::<u64>().unwrap();
    let view = arr.mmap().unwrap();
    assert!(view.is_writable());
    assert_eq!(view.len(), 8);
    view.set(1, 11).unwrap();
    assert_eq!(arr.get(1, 0).unwrap(), 11, "mmap write seen by the syscall");
    arr.set(2, &22, 0).unwrap();
    assert_eq!(view.get(2), Some(22), "syscall write seen through the mmap");
    let prog = prog_update_u32_u64(&m, 3, 300);
    assert_eq!(run_raw_tp(prog.as_fd()), 0);
    assert!(
        view.get(3).unwrap() >= 300,
        "program write seen through the mmap"
    );
    assert_eq!(view.get(8), None);
    assert!(view.set(8, 0).is_err());
    let counter = view.atomic_u64(8 * 4).unwrap();
    counter.fetch_add(5, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(arr.get(4, 0).unwrap(), 5);

    // Arrays without BPF_F_MMAPABLE are refused with a clear error.
    let plain = map(MapType::Array, 4, 8, 8, "t_nommap");
    let e = plain.as_array::<u64>().unwrap().mmap().unwrap_err();
    assert!(e.to_string().contains("BPF_F_MMAPABLE"), "{e}");
}

#[test]
fn percpu_maps_hold_one_value_per_cpu() {
    let cpus = corebpf::sys::possible_cpus().unwrap();
    let online = online_cpus();
    let h = map(MapType::PercpuHash, 4, 8, 16, "t_pchash");
    let a = map(MapType::PercpuArray, 4, 4, 4, "t_pcarray");
    let ph = h.as_percpu_hash::<u32, u64>().unwrap();
    let pa = a.as_percpu_array::<u32>().unwrap();

    // User space: distinct values per CPU. The u32 array values sit in 8-byte slots.
    let vals = PerCpuValues::from_vec((0..cpus as u64).map(|c| c * 10 + 1).collect()).unwrap();
    ph.insert(&1, &vals, 0).unwrap();
    assert_eq!(ph.get(&1, 0).unwrap().unwrap(), vals);
    let vals32 = PerCpuValues::from_vec((0..cpus as u32).map(|c| c + 100).collect()).unwrap();
    pa.set(2, &vals32, 0).unwrap();
    assert_eq!(pa.get(2, 0).unwrap(), vals32);
    assert!(PerCpuValues::<u64>::from_vec(vec![0; cpus + 1]).is_err());

    // Programs: on each online CPU, write 1000 + cpu into that CPU's slot of key 9.
    let prog = prog_update_u32_u64(&h, 9, 1000);
    for &cpu in &online {
        assert_eq!(run_raw_tp_on(prog.as_fd(), cpu), 0);
    }
    let got = ph
        .get(&9, 0)
        .unwrap()
        .expect("key 9 written by the program");
    for &cpu in &online {
        assert_eq!(got[cpu as usize], 1000 + cpu as u64, "CPU {cpu}'s slot");
    }
    let entries: Vec<_> = ph.iter().map(Result::unwrap).collect();
    assert_eq!(entries.len(), 2);
    let batch = ph.get_batch(8).unwrap();
    assert_eq!(batch.len(), 2);
}

#[test]
fn lru_hash_evicts_and_programs_write_it() {
    let m = map(MapType::LruHash, 4, 8, 64, "t_lru");
    let l = m.as_lru_hash::<u32, u64>().unwrap();
    for k in 0..1000u32 {
        l.insert(&k, &(k as u64), 0).unwrap();
    }
    let n = l.keys().count();
    assert!(
        n <= 64 + 64 * corebpf::sys::possible_cpus().unwrap(),
        "LRU kept {n} entries"
    );
    assert!(n < 1000, "LRU evicted nothing");
    assert_eq!(
        l.get(&999, 0).unwrap(),
        Some(999),
        "the newest entry survives"
    );
    let prog = prog_update_u32_u64(&m, 5000, 7);
    assert_eq!(run_raw_tp(prog.as_fd()), 0);
    assert!(l.get(&5000, 0).unwrap().is_some());
    // A plain HashMap handle accepts LRU maps too.
    assert!(m.as_hash::<u32, u64>().is_ok());
}

#[test]
fn lpm_trie_longest_prefix_match() {
    let m = map_with(MapCreateAttr {
        map_type: MapType::LpmTrie,
        key_size: 8,
        value_size: 4,
        max_entries: 16,
        map_flags: corebpf::sys::consts::BPF_F_NO_PREALLOC,
        name: "t_lpm",
        ..Default::default()
    });
    let t = m.as_lpm_trie::<[u8; 4], u32>().unwrap();
    t.insert(&LpmKey::new(8, [10, 0, 0, 0]), &8, 0).unwrap();
    t.insert(&LpmKey::new(16, [10, 1, 0, 0]), &16, 0).unwrap();
    t.insert(&LpmKey::new(24, [10, 1, 2, 0]), &24, 0).unwrap();
    let find = |a: [u8; 4]| t.get(&LpmKey::new(32, a)).unwrap();
    assert_eq!(find([10, 1, 2, 3]), Some(24));
    assert_eq!(find([10, 1, 9, 9]), Some(16));
    assert_eq!(find([10, 9, 9, 9]), Some(8));
    assert_eq!(find([11, 0, 0, 0]), None);

    // A program inserts 192.168.0.0/16 → 77 (key on the stack: prefixlen then data).
    let mut a = Asm::new();
    a.push(Insn::st_mem(size::W, 10, -8, 16))
        .push(Insn::st_mem(
            size::W,
            10,
            -4,
            i32::from_ne_bytes([192, 168, 0, 0]),
        ))
        .push(Insn::st_mem(size::W, 10, -12, 77))
        .extend(ld_map(1, &m))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -8))
        .push(Insn::mov64_reg(3, 10))
        .push(Insn::add64_imm(3, -12))
        .push(Insn::mov64_imm(4, 0))
        .push(Insn::call(helper::MAP_UPDATE_ELEM))
        .push(Insn::exit());
    let prog = load(ProgType::RawTracepoint, &a.finish(), "t_lpm_upd");
    assert_eq!(run_raw_tp(prog.as_fd()), 0);
    assert_eq!(find([192, 168, 44, 1]), Some(77));

    let mut keys: Vec<(u32, [u8; 4])> = t
        .keys()
        .map(|k| k.unwrap())
        .map(|k| (k.prefix_len(), k.data()))
        .collect();
    keys.sort();
    assert_eq!(keys.len(), 4);
    assert!(keys.contains(&(16, [192, 168, 0, 0])));
    assert!(t.remove(&LpmKey::new(24, [10, 1, 2, 0])).unwrap());
    assert_eq!(find([10, 1, 2, 3]), Some(16));
    assert_eq!(t.iter().count(), 3);
}

/// A raw_tp program pushing the u64 `value` with `bpf_map_push_elem`.
fn prog_push(m: &Map, value: i32) -> std::os::fd::OwnedFd {
    let mut a = Asm::new();
    a.push(Insn::st_mem(size::DW, 10, -8, value))
        .extend(ld_map(1, m))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -8))
        .push(Insn::mov64_imm(3, 0))
        .push(Insn::call(helper::MAP_PUSH_ELEM))
        .push(Insn::exit());
    load(ProgType::RawTracepoint, &a.finish(), "t_push")
}

#[test]
fn queue_and_stack() {
    let qm = map(MapType::Queue, 0, 8, 4, "t_queue");
    let q = qm.as_queue::<u64>().unwrap();
    assert_eq!(q.pop().unwrap(), None);
    q.push(&1, 0).unwrap();
    q.push(&2, 0).unwrap();
    let prog = prog_push(&qm, 3);
    assert_eq!(run_raw_tp(prog.as_fd()), 0);
    assert_eq!(q.peek().unwrap(), Some(1));
    q.push(&4, 0).unwrap();
    assert!(
        q.push(&5, 0).is_err(),
        "a full queue refuses a push without BPF_EXIST"
    );
    q.push(&5, BPF_EXIST).unwrap();
    let drained: Vec<u64> = std::iter::from_fn(|| q.pop().unwrap()).collect();
    assert_eq!(drained, [2, 3, 4, 5], "FIFO, oldest dropped by BPF_EXIST");

    let sm = map(MapType::Stack, 0, 8, 4, "t_stack");
    let s = sm.as_stack::<u64>().unwrap();
    s.push(&1, 0).unwrap();
    let prog = prog_push(&sm, 2);
    assert_eq!(run_raw_tp(prog.as_fd()), 0);
    assert_eq!(s.peek().unwrap(), Some(2));
    assert_eq!(s.pop().unwrap(), Some(2));
    assert_eq!(s.pop().unwrap(), Some(1));
    assert_eq!(s.pop().unwrap(), None);
    assert!(qm.as_stack::<u64>().is_err());
}

#[test]
fn bloom_filter() {
    let created = Map::create(&MapCreateAttr {
        map_type: MapType::BloomFilter,
        key_size: 0,
        value_size: 8,
        max_entries: 100,
        map_extra: 3,
        name: "t_bloom",
        ..Default::default()
    });
    if !kernel_at_least(5, 16) {
        // Bloom filters arrived in 5.16: the creation must fail, and say so.
        let e = created.expect_err("bloom filter maps do not exist before 5.16");
        assert!(e.to_string().contains("t_bloom"), "{e}");
        return;
    }
    let m = created.unwrap();
    let b = m.as_bloom_filter::<u64>().unwrap();
    assert!(!b.contains(&42).unwrap());
    b.insert(&42, 0).unwrap();
    assert!(b.contains(&42).unwrap());
    let prog = prog_push(&m, 4242);
    assert_eq!(run_raw_tp(prog.as_fd()), 0);
    assert!(b.contains(&4242).unwrap(), "value pushed by the program");
}

#[test]
fn prog_array_tail_calls() {
    let m = map(MapType::ProgArray, 4, 4, 4, "t_jmp");
    let jmp = m.as_prog_array().unwrap();
    let target = load(
        ProgType::Xdp,
        &[Insn::mov64_imm(0, 3), Insn::exit()],
        "t_target",
    );
    // Tail-calls slot 1; returns 1 (XDP_DROP) if the slot is empty.
    let mut a = Asm::new();
    a.extend(ld_map(2, &m))
        .push(Insn::mov64_imm(3, 1))
        .push(Insn::call(helper::TAIL_CALL))
        .push(Insn::mov64_imm(0, 1))
        .push(Insn::exit());
    let caller = load(ProgType::Xdp, &a.finish(), "t_caller");
    assert_eq!(run_xdp(caller.as_fd(), 1), 1);
    jmp.set(1, target.as_fd(), 0).unwrap();
    let target_id = corebpf::sys::prog_info(target.as_fd()).unwrap().id;
    assert_eq!(jmp.get(1).unwrap(), Some(target_id));
    assert_eq!(jmp.indices().unwrap(), [1]);
    assert_eq!(run_xdp(caller.as_fd(), 1), 3, "tail call into slot 1");
    assert!(jmp.clear(1).unwrap());
    assert_eq!(jmp.get(1).unwrap(), None);
    assert_eq!(run_xdp(caller.as_fd(), 1), 1);
    assert!(jmp.set(4, target.as_fd(), 0).is_err());
}

#[test]
fn stack_trace_map_filled_by_a_program() {
    let st = map(MapType::StackTrace, 4, 8 * 127, 64, "t_stacks");
    let ids = map(MapType::Array, 4, 8, 1, "t_stackid");
    let stacks = st.as_stack_trace().unwrap();
    assert_eq!(stacks.max_depth(), 127);
    assert_eq!(stacks.get(0).unwrap(), None);
    // r0 = bpf_get_stackid(ctx, stacks, 0) (the kernel stack of the test run); ids[0] = r0.
    let mut a = Asm::new();
    a.extend(ld_map(2, &st))
        .push(Insn::mov64_imm(3, 0))
        .push(Insn::call(helper::GET_STACKID))
        .push(Insn::stx_mem(size::DW, 10, 0, -16))
        .push(Insn::st_mem(size::W, 10, -4, 0))
        .extend(ld_map(1, &ids))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -4))
        .push(Insn::mov64_reg(3, 10))
        .push(Insn::add64_imm(3, -16))
        .push(Insn::mov64_imm(4, 0))
        .push(Insn::call(helper::MAP_UPDATE_ELEM))
        .push(Insn::mov64_imm(0, 0))
        .push(Insn::exit());
    let prog = load(ProgType::RawTracepoint, &a.finish(), "t_stackid");
    run_raw_tp(prog.as_fd());
    let id = ids.as_array::<i64>().unwrap().get(0, 0).unwrap();
    assert!(id >= 0, "bpf_get_stackid failed: {id}");
    let trace = stacks
        .get(id as u32)
        .unwrap()
        .expect("the stack the program stored");
    assert!(!trace.is_empty());
    assert!(
        trace.iter().all(|&ip| ip >= 0xffff_0000_0000_0000),
        "kernel addresses: {trace:x?}"
    );
    let listed: Vec<u32> = stacks.stack_ids().map(Result::unwrap).collect();
    assert_eq!(listed, [id as u32]);
    assert!(stacks.remove(id as u32).unwrap());
}

#[test]
fn maps_of_maps() {
    let template = map(MapType::Array, 4, 8, 4, "t_inner0");
    let inner = map(MapType::Array, 4, 8, 4, "t_inner1");
    let outer_attr = |t: MapType, name| MapCreateAttr {
        map_type: t,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        name,
        inner_map_fd: Some(template.as_fd()),
        ..Default::default()
    };
    let aom_map = map_with(outer_attr(MapType::ArrayOfMaps, "t_aom"));
    let hom_map = map_with(outer_attr(MapType::HashOfMaps, "t_hom"));
    let aom = aom_map.as_array_of_maps().unwrap();
    let hom = hom_map.as_hash_of_maps::<u32>().unwrap();
    assert_eq!(aom.get(0).unwrap(), None);
    aom.set(0, inner.as_fd(), 0).unwrap();
    assert_eq!(aom.get(0).unwrap(), Some(inner.id()));
    hom.insert(&42, inner.as_fd(), 0).unwrap();
    assert_eq!(hom.get(&42).unwrap(), Some(inner.id()));
    assert_eq!(hom.keys().map(Result::unwrap).collect::<Vec<_>>(), [42]);
    let reopened = Map::from_id(aom.get(0).unwrap().unwrap()).unwrap();
    assert_eq!(reopened.name(), "t_inner1");

    // A program looks up outer[0] and writes inner[1] = 99.
    let mut a = Asm::new();
    a.push(Insn::st_mem(size::W, 10, -4, 0))
        .extend(ld_map(1, &aom_map))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -4))
        .push(Insn::call(helper::MAP_LOOKUP_ELEM))
        .jump(Insn::jeq_imm(0, 0, 0), "out")
        .push(Insn::mov64_reg(1, 0))
        .push(Insn::st_mem(size::W, 10, -8, 1))
        .push(Insn::st_mem(size::DW, 10, -16, 99))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -8))
        .push(Insn::mov64_reg(3, 10))
        .push(Insn::add64_imm(3, -16))
        .push(Insn::mov64_imm(4, 0))
        .push(Insn::call(helper::MAP_UPDATE_ELEM))
        .push(Insn::exit())
        .label("out")
        .push(Insn::mov64_imm(0, -1))
        .push(Insn::exit());
    let prog = load(ProgType::RawTracepoint, &a.finish(), "t_inner_upd");
    assert_eq!(run_raw_tp(prog.as_fd()), 0);
    assert_eq!(inner.as_array::<u64>().unwrap().get(1, 0).unwrap(), 99);

    assert!(aom.clear(0).unwrap());
    assert_eq!(aom.get(0).unwrap(), None);
    assert!(hom.remove(&42).unwrap());
}

#[test]
fn sock_map_and_sock_hash() {
    let sm = map(MapType::Sockmap, 4, 8, 4, "t_sockmap");
    let sh = map(MapType::Sockhash, 4, 8, 4, "t_sockhash");
    // Bound UDP sockets can be stored in socket maps since 5.7.
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let smap = sm.as_sock_map().unwrap();
    smap.set(0, sock.as_fd(), 0).unwrap();
    let cookie = smap.get_cookie(0).unwrap().expect("socket cookie");
    assert_ne!(cookie, 0);
    let shash = sh.as_sock_hash::<u32>().unwrap();
    shash.insert(&7, sock.as_fd(), 0).unwrap();
    assert_eq!(
        shash.get_cookie(&7).unwrap(),
        Some(cookie),
        "same socket, same cookie"
    );
    assert_eq!(shash.keys().map(Result::unwrap).collect::<Vec<_>>(), [7]);
    assert!(smap.clear(0).unwrap());
    assert_eq!(smap.get_cookie(0).unwrap(), None);
    assert!(shash.remove(&7).unwrap());
}

/// An XDP program returning `bpf_redirect_map(map, index, XDP_PASS)`: `XDP_REDIRECT` (4)
/// if the slot is set, `XDP_PASS` (2) otherwise.
fn prog_redirect(m: &Map, index: i32) -> std::os::fd::OwnedFd {
    let mut a = Asm::new();
    a.extend(ld_map(1, m))
        .push(Insn::mov64_imm(2, index))
        .push(Insn::mov64_imm(3, 2))
        .push(Insn::call(helper::REDIRECT_MAP))
        .push(Insn::exit());
    load(ProgType::Xdp, &a.finish(), "t_redirect")
}

#[test]
fn xdp_redirect_maps() {
    let dm = map(MapType::Devmap, 4, 8, 4, "t_devmap");
    let dev = dm.as_dev_map().unwrap();
    let prog = prog_redirect(&dm, 0);
    assert_eq!(run_xdp(prog.as_fd(), 1), 2, "empty slot: fallback action");
    dev.set(0, 1, None, 0).unwrap(); // loopback
    assert_eq!(
        dev.get(0).unwrap().map(|v| (v.ifindex, v.prog_id)),
        Some((1, None))
    );
    assert_eq!(
        run_xdp(prog.as_fd(), 1),
        4,
        "the program sees the slot set from user space"
    );
    assert!(dev.clear(0).unwrap());

    let cm = map(MapType::Cpumap, 4, 8, 2, "t_cpumap");
    let cpu = cm.as_cpu_map().unwrap();
    cpu.set(0, 64, None, 0).unwrap();
    assert_eq!(
        cpu.get(0).unwrap().map(|v| (v.queue_size, v.prog_id)),
        Some((64, None))
    );
    let prog = prog_redirect(&cm, 0);
    assert_eq!(run_xdp(prog.as_fd(), 1), 4);
    assert!(cpu.clear(0).unwrap());

    let xm = map(MapType::Xskmap, 4, 4, 2, "t_xskmap");
    let xsk = xm.as_xsk_map().unwrap();
    let not_xsk = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    assert!(
        xsk.set(0, not_xsk.as_fd(), 0).is_err(),
        "only AF_XDP sockets fit"
    );
    // The kernel reports success for clearing an empty XSKMAP slot.
    xsk.clear(0).unwrap();
    let prog = prog_redirect(&xm, 0);
    assert_eq!(run_xdp(prog.as_fd(), 1), 2);
}

#[test]
fn user_structs_as_keys_and_values() {
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Flow {
        saddr: [u8; 4],
        daddr: [u8; 4],
        ports: [u16; 2],
    }
    // SAFETY: repr(C), 12 bytes of byte/u16 arrays, no padding.
    unsafe impl Pod for Flow {}
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Stats {
        packets: u64,
        bytes: u64,
    }
    // SAFETY: repr(C), two u64, no padding.
    unsafe impl Pod for Stats {}
    let m = map(MapType::Hash, 12, 16, 8, "t_flows");
    let flows = m.as_hash::<Flow, Stats>().unwrap();
    let f = Flow {
        saddr: [10, 0, 0, 1],
        daddr: [10, 0, 0, 2],
        ports: [80, 443],
    };
    flows
        .insert(
            &f,
            &Stats {
                packets: 3,
                bytes: 1500,
            },
            0,
        )
        .unwrap();
    assert_eq!(
        flows.get(&f, 0).unwrap(),
        Some(Stats {
            packets: 3,
            bytes: 1500
        })
    );
}
