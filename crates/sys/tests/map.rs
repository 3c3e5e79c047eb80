//! Map commands against the real kernel.

mod common;

use corebpf_sys::consts::{BPF_ANY, BPF_EXIST, BPF_F_RDONLY, BPF_NOEXIST};
use corebpf_sys::error::ENOTSUPP;
use corebpf_sys::*;

#[test]
fn array_update_lookup_and_iterate() {
    let m = common::map(MapType::Array, 4, 8, 4, "t_array");
    assert_eq!(m.map_type(), Some(MapType::Array));
    assert_eq!((m.key_size(), m.value_size(), m.max_entries()), (4, 8, 4));
    map_update_elem(
        &m,
        &2u32.to_ne_bytes(),
        &0xdead_beef_u64.to_ne_bytes(),
        BPF_ANY,
    )
    .unwrap();
    let mut v = [0u8; 8];
    assert!(map_lookup_elem(&m, &2u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(u64::from_ne_bytes(v), 0xdead_beef);
    // Other slots exist and are zero.
    assert!(map_lookup_elem(&m, &0u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(u64::from_ne_bytes(v), 0);
    // Out of range: not found.
    assert!(!map_lookup_elem(&m, &9u32.to_ne_bytes(), &mut v, 0).unwrap());
    // NOEXIST on an array fails with EEXIST.
    let e = map_update_elem(&m, &1u32.to_ne_bytes(), &v, BPF_NOEXIST).unwrap_err();
    assert_eq!(e.raw_errno(), Some(libc::EEXIST), "{e}");
    assert!(e.to_string().contains("BPF_MAP_UPDATE_ELEM"), "{e}");
    let keys = map_keys(&m).unwrap();
    assert_eq!(keys.len(), 4);
    assert_eq!(keys[3], 3u32.to_ne_bytes());
}

#[test]
fn wrong_buffer_sizes_are_refused_before_the_kernel() {
    let m = common::map(MapType::Hash, 4, 8, 4, "t_sizes");
    let mut small = [0u8; 4];
    let e = map_lookup_elem(&m, &1u32.to_ne_bytes(), &mut small, 0).unwrap_err();
    assert!(matches!(e, SysError::InvalidInput { .. }), "{e}");
    assert!(e.to_string().contains("BPF_MAP_LOOKUP_ELEM"));
    let e = map_update_elem(&m, &[1u8; 3], &[0u8; 8], 0).unwrap_err();
    assert!(matches!(e, SysError::InvalidInput { .. }), "{e}");
}

#[test]
fn hash_update_lookup_delete_iterate() {
    let m = common::map(MapType::Hash, 4, 4, 16, "t_hash");
    for k in 10u32..15 {
        map_update_elem(&m, &k.to_ne_bytes(), &(k * 100).to_ne_bytes(), BPF_NOEXIST).unwrap();
    }
    let e = map_update_elem(&m, &10u32.to_ne_bytes(), &[0; 4], BPF_NOEXIST).unwrap_err();
    assert_eq!(e.raw_errno(), Some(libc::EEXIST));
    let e = map_update_elem(&m, &99u32.to_ne_bytes(), &[0; 4], BPF_EXIST).unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let mut v = [0u8; 4];
    assert!(map_lookup_elem(&m, &12u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(u32::from_ne_bytes(v), 1200);
    assert!(map_delete_elem(&m, &12u32.to_ne_bytes()).unwrap());
    assert!(!map_delete_elem(&m, &12u32.to_ne_bytes()).unwrap());
    assert!(!map_lookup_elem(&m, &12u32.to_ne_bytes(), &mut v, 0).unwrap());
    let mut keys: Vec<u32> = map_keys(&m)
        .unwrap()
        .into_iter()
        .map(|k| u32::from_ne_bytes(k.try_into().unwrap()))
        .collect();
    keys.sort();
    assert_eq!(keys, vec![10, 11, 13, 14]);
    let mut first = [0u8; 4];
    assert!(map_get_next_key(&m, None, &mut first).unwrap());
    assert!(keys.contains(&u32::from_ne_bytes(first)));
    // lookup-and-delete on a hash: from 5.14; before, ENOTSUPP, said clearly.
    let r = map_lookup_and_delete_elem(&m, &13u32.to_ne_bytes(), &mut v, 0);
    if common::kernel_at_least(5, 14) {
        assert!(r.unwrap());
        assert_eq!(u32::from_ne_bytes(v), 1300);
        assert!(!map_lookup_elem(&m, &13u32.to_ne_bytes(), &mut v, 0).unwrap());
    } else {
        let e = r.unwrap_err();
        assert_eq!(e.raw_errno(), Some(ENOTSUPP), "{e}");
        assert!(e.is_unsupported(), "{e}");
        let s = e.to_string();
        assert!(
            s.starts_with("BPF_MAP_LOOKUP_AND_DELETE_ELEM failed: ENOTSUPP")
                && s.contains("hash maps from 5.14"),
            "unclear error: {s}"
        );
        // Nothing was deleted.
        assert!(map_lookup_elem(&m, &13u32.to_ne_bytes(), &mut v, 0).unwrap());
        assert_eq!(u32::from_ne_bytes(v), 1300);
    }
}

#[test]
fn batch_operations() {
    let m = common::map(MapType::Hash, 4, 8, 64, "t_batch");
    let n = 40u32;
    let keys: Vec<u8> = (0..n).flat_map(|k| k.to_ne_bytes()).collect();
    let values: Vec<u8> = (0..n).flat_map(|k| (k as u64 * 3).to_ne_bytes()).collect();
    assert_eq!(map_update_batch(&m, &keys, &values, 0).unwrap(), n);

    // Read everything back in chunks of 16.
    let mut seen = Vec::new();
    let mut token = vec![0u8; m.batch_token_size()];
    let mut next = vec![0u8; m.batch_token_size()];
    let mut first = true;
    loop {
        let mut kbuf = vec![0u8; 16 * 4];
        let mut vbuf = vec![0u8; 16 * 8];
        let out = map_lookup_batch(
            &m,
            if first { None } else { Some(&token) },
            &mut next,
            &mut kbuf,
            &mut vbuf,
            0,
        )
        .unwrap();
        for i in 0..out.count as usize {
            let k = u32::from_ne_bytes(kbuf[i * 4..i * 4 + 4].try_into().unwrap());
            let v = u64::from_ne_bytes(vbuf[i * 8..i * 8 + 8].try_into().unwrap());
            assert_eq!(v, k as u64 * 3);
            seen.push(k);
        }
        if out.done {
            break;
        }
        first = false;
        token.copy_from_slice(&next);
    }
    seen.sort();
    assert_eq!(seen, (0..n).collect::<Vec<_>>());

    // Delete 10 by batch.
    let del: Vec<u8> = (0..10u32).flat_map(|k| k.to_ne_bytes()).collect();
    assert_eq!(map_delete_batch(&m, &del, 0).unwrap(), 10);
    assert_eq!(map_keys(&m).unwrap().len(), 30);

    // Lookup-and-delete the rest.
    let mut kbuf = vec![0u8; 64 * 4];
    let mut vbuf = vec![0u8; 64 * 8];
    let mut next = vec![0u8; m.batch_token_size()];
    let out = map_lookup_and_delete_batch(&m, None, &mut next, &mut kbuf, &mut vbuf, 0).unwrap();
    assert_eq!(out.count, 30);
    assert!(out.done);
    assert!(map_keys(&m).unwrap().is_empty());
}

#[test]
fn percpu_values_span_all_cpus() {
    let m = common::map(MapType::PercpuArray, 4, 4, 1, "t_percpu");
    let cpus = possible_cpus().unwrap();
    assert_eq!(m.value_buf_size(), 8 * cpus);
    let mut buf = vec![0u8; m.value_buf_size()];
    for c in 0..cpus {
        buf[c * 8..c * 8 + 4].copy_from_slice(&(c as u32 + 7).to_ne_bytes());
    }
    map_update_elem(&m, &0u32.to_ne_bytes(), &buf, 0).unwrap();
    let mut out = vec![0u8; m.value_buf_size()];
    assert!(map_lookup_elem(&m, &0u32.to_ne_bytes(), &mut out, 0).unwrap());
    assert_eq!(out, buf);
}

#[test]
fn queue_push_pop_and_freeze() {
    let q = common::map(MapType::Queue, 0, 4, 4, "t_queue");
    for v in [5u32, 6, 7] {
        map_update_elem(&q, &[], &v.to_ne_bytes(), 0).unwrap();
    }
    let mut v = [0u8; 4];
    assert!(map_lookup_and_delete_elem(&q, &[], &mut v, 0).unwrap());
    assert_eq!(u32::from_ne_bytes(v), 5);

    let a = common::map(MapType::Array, 4, 4, 1, "t_frozen");
    map_update_elem(&a, &0u32.to_ne_bytes(), &1u32.to_ne_bytes(), 0).unwrap();
    map_freeze(std::os::fd::AsFd::as_fd(&a)).unwrap();
    let e = map_update_elem(&a, &0u32.to_ne_bytes(), &2u32.to_ne_bytes(), 0).unwrap_err();
    assert_eq!(e.raw_errno(), Some(libc::EPERM), "{e}");
    let _ = BPF_F_RDONLY;
}

#[test]
fn map_info_and_ids() {
    let m = common::map(MapType::LruHash, 8, 16, 32, "t_info");
    let info = map_info(std::os::fd::AsFd::as_fd(&m)).unwrap();
    assert_eq!(info.name(), "t_info");
    assert_eq!(info.map_type(), Some(MapType::LruHash));
    assert_eq!(
        (info.key_size, info.value_size, info.max_entries),
        (8, 16, 32)
    );
    assert!(all_ids(ObjKind::Map).unwrap().contains(&info.id));
    let again = MapFd::new(map_get_fd_by_id(info.id, 0).unwrap()).unwrap();
    assert_eq!(again.info().id, info.id);
}
