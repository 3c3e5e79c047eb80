//! mmap of BPF_F_MMAPABLE arrays and ring buffers.

mod common;

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::Ordering;

use corebpf_sys::consts::{BPF_F_MMAPABLE, BPF_PSEUDO_MAP_FD};
use corebpf_sys::insn::size;
use corebpf_sys::mmap::{page_size, MmapRegion};
use corebpf_sys::*;

#[test]
fn mmapable_array_is_shared_with_syscalls() {
    let m = MapFd::create(&MapCreateAttr {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        map_flags: BPF_F_MMAPABLE,
        name: "t_mmap",
        ..Default::default()
    })
    .unwrap();
    let region = MmapRegion::map(m.as_fd(), page_size(), true, 0).unwrap();
    map_update_elem(&m, &2u32.to_ne_bytes(), &77u64.to_ne_bytes(), 0).unwrap();
    let mut v = [0u8; 8];
    assert!(region.read(16, &mut v));
    assert_eq!(u64::from_ne_bytes(v), 77);
    assert!(region.write(24, &99u64.to_ne_bytes()));
    assert!(map_lookup_elem(&m, &3u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(u64::from_ne_bytes(v), 99);
    assert!(
        !region.read(page_size() - 4, &mut v),
        "read past the end must be refused"
    );
}

#[test]
fn ringbuf_record_is_visible_through_mmap() {
    let page = page_size();
    let size = page as u32 * 4;
    let rb = common::map(MapType::RingBuf, 0, 0, size, "t_ringbuf");
    // XDP program: *(u64 *)(r10 - 8) = 0x11223344; bpf_ringbuf_output(rb, r10 - 8, 8, 0); return XDP_PASS
    let ld = Insn::ld_imm64(1, BPF_PSEUDO_MAP_FD, rb.as_fd().as_raw_fd(), 0);
    let insns = [
        Insn::st_mem(size::DW, 10, -8, 0x1122_3344),
        ld[0],
        ld[1],
        Insn::mov64_reg(2, 10),
        Insn::add64_imm(2, -8),
        Insn::mov64_imm(3, 8),
        Insn::mov64_imm(4, 0),
        Insn::call(130),
        Insn::mov64_imm(0, 2),
        Insn::exit(),
    ];
    let prog = common::load(ProgType::Xdp, &insns, "t_rb_out");
    let r = prog_test_run(
        prog.as_fd(),
        TestRunOpts {
            data_in: &[0u8; 64],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.retval, 2);
    // Consumer page (writable), then producer page + data (read-only, data mapped twice).
    let consumer = MmapRegion::map(rb.as_fd(), page, true, 0).unwrap();
    let producer =
        MmapRegion::map(rb.as_fd(), page + 2 * size as usize, false, page as u64).unwrap();
    let prod_pos = producer.atomic_u64(0).unwrap().load(Ordering::Acquire);
    assert_eq!(prod_pos, 16, "one 8-byte record plus its 8-byte header");
    let hdr = producer.atomic_u32(page).unwrap().load(Ordering::Acquire);
    assert_eq!(hdr & !(3 << 30), 8, "record length");
    assert_eq!(hdr >> 30, 0, "record neither busy nor discarded");
    let mut data = [0u8; 8];
    assert!(producer.read(page + 8, &mut data));
    assert_eq!(u64::from_ne_bytes(data), 0x1122_3344);
    consumer
        .atomic_u64(0)
        .unwrap()
        .store(prod_pos, Ordering::Release);
    assert!(!producer.write(0, &[1]), "read-only mapping refuses writes");
}
