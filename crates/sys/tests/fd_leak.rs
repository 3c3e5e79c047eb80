//! No fd leaks: many create/drop cycles, including failed loads, leave the fd table as
//! it was. (Its own test binary, so no other test opens fds concurrently.)

mod common;

use std::os::fd::AsFd;

use corebpf_sys::*;

#[test]
fn create_drop_cycles_do_not_leak_fds() {
    let tp = perf::tracepoint_id("syscalls", "sys_enter_getppid").expect("tracepoint id");
    // Warm up lazily initialized state (probe caches, possible_cpus, ...).
    let _ = probe_feature(Feature::RingBuf);
    let perf_links = probe_feature(Feature::PerfLink);
    assert_eq!(perf_links, common::kernel_at_least(5, 15));
    let _ = possible_cpus();
    let before = common::open_fds();
    let bad = Insn::encode_all(&[Insn::mov64_reg(0, 2), Insn::exit()]);
    for i in 0..50 {
        let m = common::map(MapType::Hash, 4, 4, 8, "t_leak");
        map_update_elem(&m, &(i as u32).to_ne_bytes(), &[0; 4], 0).unwrap();
        let p = common::load(ProgType::RawTracepoint, &common::ret0(), "t_leak");
        let link = raw_tracepoint_open(Some(c"sys_enter"), p.as_fd(), 0).unwrap();
        let pfd = perf::perf_event_open_tracepoint(tp).unwrap();
        let tp_prog = common::load(ProgType::Tracepoint, &common::ret0(), "t_leak_tp");
        // A perf link from 5.15; before, the failed link_create (which runs the
        // feature probe once) and the ioctl fallback must not leak either.
        let plink = link_create(&LinkCreateAttr::new(
            tp_prog.as_fd(),
            AttachTarget::Fd(pfd.as_fd()),
            AttachType::PerfEvent,
        ));
        let plink = if perf_links {
            Some(plink.unwrap())
        } else {
            assert!(
                matches!(plink, Err(SysError::Unsupported { .. })),
                "{plink:?}"
            );
            perf::perf_event_set_bpf(pfd.as_fd(), tp_prog.as_fd()).unwrap();
            None
        };
        // Failures must not leak either: verifier rejection (with log retries), bad map,
        // missing pin, missing id.
        let e = prog_load(
            &ProgLoadAttr {
                prog_type: ProgType::SocketFilter,
                insns: &bad,
                license: c"GPL",
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
        assert!(e.log().is_some());
        assert!(map_create(&MapCreateAttr {
            map_type: MapType::Array,
            key_size: 3,
            value_size: 4,
            max_entries: 1,
            ..Default::default()
        })
        .is_err());
        assert!(obj_get(std::path::Path::new("/sys/fs/bpf/corebpf_no_such_pin"), 0).is_err());
        assert!(prog_get_fd_by_id(u32::MAX).is_err());
        let info = map_info(m.as_fd()).unwrap();
        let again = map_get_fd_by_id(info.id, 0).unwrap();
        drop((m, p, link, pfd, tp_prog, plink, again));
    }
    let after = common::open_fds();
    assert_eq!(before, after, "fd count changed from {before} to {after}");
}
