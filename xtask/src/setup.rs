//! `cargo xtask setup|test|demo`: the README's commands. Each installs the Debian packages it
//! needs (only those missing), so they work on a fresh machine as root.

use std::process::Command;

use crate::vm::{ensure_packages, workspace_root};

/// What building and testing corebpf needs from Debian: compilers for the BPF C corpus and
/// examples, bpftool as a test oracle (never a runtime dependency), libbpf for the
/// side-by-side benchmarks, and the QEMU guests' tools.
pub const PACKAGES: &[&str] = &[
    "clang",
    "llvm",
    "bpftool",
    "libbpf-dev",
    "libelf-dev",
    "zlib1g-dev",
    "pkg-config",
    "iproute2",
    "iputils-ping",
    "qemu-system-x86",
    "busybox-static",
    "xz-utils",
    "cpio",
];

fn cargo(args: &[&str]) -> Result<(), String> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cargo {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}

fn require_root() -> Result<(), String> {
    // The effective uid from /proc keeps xtask free of a libc dependency.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("");
    if euid == "0" {
        Ok(())
    } else {
        Err(
            "must run as root (BPF loading, attaching and the QEMU guests need it): use sudo"
                .into(),
        )
    }
}

/// `cargo xtask setup`: installs the Debian packages.
pub fn setup(_args: &[String]) -> Result<(), String> {
    require_root()?;
    ensure_packages(PACKAGES)
}

/// `cargo xtask test [-- FILTER]`: every test the project has, on this kernel and in the
/// QEMU guests (5.10, 6.1, 6.12).
pub fn test(args: &[String]) -> Result<(), String> {
    setup(&[])?;
    let filter: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut host = vec!["test", "--workspace", "--"];
    host.extend(&filter);
    cargo(&host)?;
    let mut vm = vec!["xtask", "vm-test", "--quiet", "--"];
    vm.extend(&filter);
    cargo(&vm)
}

/// `cargo xtask demo`: builds the examples and runs `execsnoop`, which loads a CO-RE
/// object (printing every relocation in libbpf's log format), attaches it to the
/// `sched_process_exec` tracepoint and prints the exec events it receives while it starts a
/// few processes itself.
pub fn demo(args: &[String]) -> Result<(), String> {
    setup(&[])?;
    require_root()?;
    cargo(&[
        "build",
        "--release",
        "-p",
        "corebpf-examples",
        "-p",
        "corebpf-cli",
    ])?;
    let bin = workspace_root().join("target/release/execsnoop");
    let mut cmd_args: Vec<String> = vec![
        "--duration".into(),
        "4".into(),
        "--spawn".into(),
        "5".into(),
        // The CO-RE log comes from corebpf's own debug log (RUST_LOG) instead.
        "--quiet".into(),
    ];
    cmd_args.extend(args.iter().cloned());
    println!(
        "$ RUST_LOG=corebpf_btf=debug {} {}",
        bin.display(),
        cmd_args.join(" ")
    );
    let status = Command::new(&bin)
        .args(&cmd_args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "corebpf_btf=debug".into()),
        )
        .status()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("demo failed ({status})"))
    }
}
