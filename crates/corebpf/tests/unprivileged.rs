//! Without CAP_BPF/CAP_SYS_ADMIN, loading an object fails with an [`corebpf::Error`] whose
//! `is_permission()` is true and whose message says permissions are the problem. The test
//! re-runs its own binary in a child that drops to uid/gid 65534 (`nobody`) with every
//! capability gone.

use std::path::PathBuf;
use std::process::Command;

use corebpf::sys::ProgType;
use corebpf::ObjectBuilder;

const CHILD_ENV: &str = "COREBPF_UNPRIVILEGED_CHILD";
const MARKER: &str = "UNPRIVILEGED-LOAD-CHECKS-PASSED";

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

fn drop_privileges() {
    // SAFETY: plain libc calls with valid arguments, in a child test process run with
    // --test-threads=1.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "setgroups");
        assert_eq!(libc::setresgid(65534, 65534, 65534), 0, "setresgid");
        assert_eq!(libc::setresuid(65534, 65534, 65534), 0, "setresuid");
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    for set in ["CapEff:", "CapPrm:"] {
        let line = status.lines().find(|l| l.starts_with(set)).unwrap();
        assert!(
            line.ends_with("0000000000000000"),
            "capabilities still present: {line}"
        );
    }
}

/// Each object is loaded as root would: the error must be about permissions whichever
/// bpf(2) command fails first (BTF, a map, or the program where unprivileged BPF is allowed).
fn child_checks() {
    // Read the objects first: the test data need not be readable by nobody.
    let objects: Vec<(&str, Vec<u8>)> = [
        "run_xdp_ethertype.bpf.o",
        "run_sockex1.bpf.o",
        "core_tracing.bpf.o",
    ]
    .iter()
    .map(|o| {
        let path = testdata().join("bpf/out/clang19").join(o);
        (*o, std::fs::read(&path).unwrap())
    })
    .collect();
    drop_privileges();
    for (name, bytes) in &objects {
        let open = ObjectBuilder::new().open_mem(bytes, name).unwrap();
        let err = open.load().expect_err("load without CAP_BPF/CAP_SYS_ADMIN");
        let text = err.to_string();
        assert!(
            err.is_permission(),
            "{name}: not a permission error: {text}"
        );
        assert!(
            text.contains("EPERM")
                && text.contains("permission denied")
                && text.contains("CAP_BPF"),
            "{name}: {text}"
        );
        println!("{name}: {text}");
    }
    // A program without maps: BPF_PROG_LOAD itself is refused, unless the kernel lets
    // unprivileged users load socket filters (kernel.unprivileged_bpf_disabled = 0).
    let unpriv_disabled = std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
        .map(|s| s.trim() != "0")
        .unwrap_or(true);
    let insns = [
        corebpf::obj::asm::mov64_imm(0, 0),
        corebpf::obj::asm::exit(),
    ];
    let r = corebpf::Program::load_insns(ProgType::SocketFilter, "unpriv", &insns, "GPL");
    match r {
        Err(err) => {
            assert!(
                unpriv_disabled,
                "refused though unprivileged BPF is allowed: {err}"
            );
            assert!(err.is_permission(), "{err}");
            assert!(
                err.to_string().contains("BPF_PROG_LOAD failed: EPERM"),
                "{err}"
            );
        }
        Ok(_) => assert!(
            !unpriv_disabled,
            "loaded though unprivileged BPF is disabled"
        ),
    }
    println!("{MARKER}");
}

#[test]
fn loading_without_privilege_is_a_permission_error() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child_checks();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "loading_without_privilege_is_a_permission_error",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(MARKER),
        "child failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    print!("{stdout}");
}
