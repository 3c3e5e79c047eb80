//! Helpers shared by the integration tests (which run as root against the real kernel).
#![allow(dead_code)]

use std::os::fd::OwnedFd;

use corebpf_sys::insn::insns_to_bytes;
use corebpf_sys::{prog_load, BpfInsn, MapCreateAttr, MapFd, MapType, ProgLoadAttr, ProgType};

/// Creates a map or panics with the error.
pub fn map(
    map_type: MapType,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    name: &str,
) -> MapFd {
    MapFd::create(&MapCreateAttr {
        map_type,
        key_size,
        value_size,
        max_entries,
        name,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("creating {map_type} map {name}: {e}"))
}

/// Loads a program from instructions or panics with the error (and log).
pub fn load(prog_type: ProgType, insns: &[BpfInsn], name: &str) -> OwnedFd {
    let bytes = insns_to_bytes(insns);
    prog_load(
        &ProgLoadAttr {
            prog_type,
            insns: &bytes,
            license: c"GPL",
            name,
            ..Default::default()
        },
        None,
    )
    .unwrap_or_else(|e| panic!("loading {prog_type} program {name}: {e}"))
}

/// `r0 = 0; exit`.
pub fn ret0() -> Vec<BpfInsn> {
    vec![BpfInsn::mov64_imm(0, 0), BpfInsn::exit()]
}

/// Number of open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// Makes sure a bpffs is mounted at /sys/fs/bpf, mounting one if needed.
pub fn ensure_bpffs() {
    let mounts = std::fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
    if mounts.lines().any(|l| {
        let mut f = l.split_whitespace();
        let _src = f.next();
        f.next() == Some("/sys/fs/bpf") && f.next() == Some("bpf")
    }) {
        return;
    }
    let status = std::process::Command::new("mount")
        .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
        .status()
        .expect("run mount");
    // A concurrent test may have mounted it meanwhile; check again.
    let mounts = std::fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
    assert!(
        status.success() || mounts.contains("/sys/fs/bpf bpf"),
        "could not mount bpffs on /sys/fs/bpf (needed for pinning tests)"
    );
}
