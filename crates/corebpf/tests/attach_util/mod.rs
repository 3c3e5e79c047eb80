//! Helpers of the attach tests: loading the attach objects with the test thread's tid,
//! reading their counters, triggering syscalls, and running a child copy of the test
//! binary for the tests that need another process.
#![allow(dead_code)]

pub mod net;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use corebpf::{Object, ObjectBuilder};

pub fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

/// An object of testdata/bpf/out/clang19.
pub fn object_path(name: &str) -> PathBuf {
    testdata().join("bpf/out/clang19").join(name)
}

pub fn gettid() -> u32 {
    nix::unistd::gettid().as_raw() as u32
}

/// Calls getpid(2) `n` times (through syscall(2): no libc caching).
pub fn getpid_n(n: usize) {
    for _ in 0..n {
        // SAFETY: getpid takes no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
}

/// Opens /dev/null `n` times (openat(2) -> do_sys_openat2, security_file_open).
pub fn open_n(n: usize) {
    for _ in 0..n {
        drop(std::fs::File::open("/dev/null").unwrap());
    }
}

/// Loads `programs` of attach_trace.bpf.o with `target_tid` = this thread and
/// `target_nr` = getpid's syscall number.
pub fn load_trace(programs: &[&str]) -> corebpf::Result<Object> {
    load_trace_for(programs, gettid())
}

pub fn load_trace_for(programs: &[&str], tid: u32) -> corebpf::Result<Object> {
    let mut open = ObjectBuilder::new().open_file(object_path("attach_trace.bpf.o"))?;
    open.load_only(programs)?;
    open.set_global("target_tid", &tid.to_ne_bytes())?;
    // c_long is i64 here, i32 on 32-bit targets.
    let nr: i64 = libc::SYS_getpid as _;
    open.set_global("target_nr", &nr.to_ne_bytes())?;
    open.load()
}

/// Counter `slot` of an object's `counts` array.
pub fn count(obj: &Object, slot: u32) -> u64 {
    obj.map("counts")
        .unwrap()
        .as_array::<u64>()
        .unwrap()
        .get(slot, 0)
        .unwrap()
}

/// Counter slots of attach_trace.bpf.c.
pub mod slot {
    pub const TP: u32 = 0;
    pub const RAW_TP: u32 = 1;
    pub const TP_BTF: u32 = 2;
    pub const UPROBE: u32 = 3;
    pub const URETPROBE: u32 = 4;
    pub const KPROBE: u32 = 5;
    pub const KRETPROBE: u32 = 6;
    pub const KSYSCALL: u32 = 7;
    pub const FENTRY: u32 = 8;
    pub const FEXIT: u32 = 9;
    pub const FMOD_RET: u32 = 10;
    pub const LSM: u32 = 11;
    pub const PERF_EVENT: u32 = 12;
    pub const UPROBE_ARG: u32 = 13;
}

/// The environment variable that makes a child copy of a test binary run a helper.
pub const CHILD_ENV: &str = "COREBPF_ATTACH_CHILD";

/// Starts this test binary again running only test `helper`, with `CHILD_ENV=mode` and
/// `envs`, stdin piped (helpers may wait for a line before acting).
pub fn spawn_child(helper: &str, mode: &str, envs: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", helper, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .stdin(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Whether an error is the refusal of a kernel in lockdown (or without the needed LSM):
/// EPERM with no verifier log.
pub fn refused_load(e: &corebpf::Error) -> bool {
    e.is_permission()
}

/// Whether the BPF LSM is active: `/sys/kernel/security/lsm` lists `bpf` (securityfs is
/// mounted first if needed, as the VM guests do not mount it).
pub fn bpf_lsm_active() -> bool {
    let lsm = std::path::Path::new("/sys/kernel/security/lsm");
    if !lsm.exists() {
        let _ = nix::mount::mount(
            Some("securityfs"),
            "/sys/kernel/security",
            Some("securityfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        );
    }
    std::fs::read_to_string(lsm).is_ok_and(|l| l.split(',').any(|m| m.trim() == "bpf"))
}
