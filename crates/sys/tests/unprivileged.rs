//! Without CAP_BPF/CAP_SYS_ADMIN, commands fail with a permission error that says so.
//! The test re-runs itself in a child process that drops to user `nobody`.

mod common;

use std::process::Command;

use corebpf_sys::*;

const CHILD_ENV: &str = "COREBPF_SYS_UNPRIVILEGED_CHILD";
const MARKER: &str = "UNPRIVILEGED-CHECKS-PASSED";

fn drop_privileges() {
    // SAFETY: plain libc calls with valid arguments, in a single-threaded child test
    // process (run with --test-threads=1).
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "setgroups");
        assert_eq!(libc::setresgid(65534, 65534, 65534), 0, "setresgid");
        assert_eq!(libc::setresuid(65534, 65534, 65534), 0, "setresuid");
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    assert!(
        eff.ends_with("0000000000000000"),
        "capabilities still present: {eff}"
    );
}

fn child_checks() {
    drop_privileges();
    let unpriv_disabled = std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
        .map(|s| s.trim() != "0")
        .unwrap_or(true);
    let r = map_create(&MapCreateAttr {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        ..Default::default()
    });
    if unpriv_disabled {
        let e = r.expect_err("map_create must fail without privilege");
        assert!(e.is_permission(), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("BPF_MAP_CREATE") && text.contains("CAP_BPF"),
            "{text}"
        );
    }
    // XDP needs CAP_BPF + CAP_NET_ADMIN even where unprivileged BPF is allowed.
    let bytes = Insn::encode_all(&[Insn::mov64_imm(0, 2), Insn::exit()]);
    let e = prog_load(
        &ProgLoadAttr {
            prog_type: ProgType::Xdp,
            insns: &bytes,
            license: c"GPL",
            ..Default::default()
        },
        None,
    )
    .expect_err("XDP load must fail without privilege");
    assert!(e.is_permission(), "{e}");
    assert!(e.to_string().contains("CAP_BPF/CAP_SYS_ADMIN"), "{e}");
    println!("{MARKER}");
}

#[test]
fn unprivileged_commands_fail_with_permission_errors() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child_checks();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "unprivileged_commands_fail_with_permission_errors",
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
}
