//! Helpers shared by the integration tests (which run as root against the real kernel).
#![allow(dead_code)]

use std::os::fd::OwnedFd;

use corebpf_sys::{prog_load, Insn, MapCreateAttr, MapFd, MapType, ProgLoadAttr, ProgType};

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
pub fn load(prog_type: ProgType, insns: &[Insn], name: &str) -> OwnedFd {
    let bytes = Insn::encode_all(insns);
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
pub fn ret0() -> Vec<Insn> {
    vec![Insn::mov64_imm(0, 0), Insn::exit()]
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

/// The running kernel's `(major, minor)` from `uname -r` (e.g. `5.10.0-46-cloud-amd64`).
pub fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .expect("read /proc/sys/kernel/osrelease");
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor),
        _ => panic!("cannot parse kernel release '{}'", release.trim()),
    }
}

/// Whether the running kernel is `major.minor` or newer.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    kernel_version() >= (major, minor)
}

/// Whether the tests run in a `cargo xtask vm-test` guest (a stock Debian kernel with
/// kprobes and without lockdown), where capabilities the host lacks must be present.
pub fn in_vm() -> bool {
    std::env::var_os("COREBPF_VM").is_some_and(|v| v == "1")
}

/// Asserts that `e` is the clear "this kernel lacks it" error of `link_create`:
/// [`corebpf_sys::SysError::Unsupported`] naming `feature` and the version `since`.
pub fn assert_link_unsupported(e: &corebpf_sys::SysError, feature: &str, since: &str) {
    assert!(
        matches!(e, corebpf_sys::SysError::Unsupported { .. }),
        "expected SysError::Unsupported, got {e:?}"
    );
    assert!(e.is_unsupported(), "{e}");
    assert_eq!(e.cmd(), "BPF_LINK_CREATE", "{e}");
    let s = e.to_string();
    assert!(
        s.contains(&format!("this kernel has no {feature}")) && s.contains(since),
        "unclear error: {s}"
    );
}
