//! Top-level help and exit codes.

mod common;

use common::corebpf;

#[test]
fn help_documents_exit_codes_and_commands() {
    let r = corebpf(&["--help"]);
    assert_eq!(r.code, 0);
    for s in [
        "Exit codes:",
        "0  success",
        "2  usage error",
        "RUST_LOG",
        "relocate",
        "load",
        "btf",
        "prog",
        "map",
        "inspect",
    ] {
        assert!(r.stdout.contains(s), "{s} in\n{}", r.stdout);
    }
    for sub in [
        &["relocate", "--help"][..],
        &["load", "--help"],
        &["btf", "dump", "--help"],
        &["prog", "run", "--help"],
        &["map", "dump", "--help"],
    ] {
        let r = corebpf(sub);
        assert_eq!(r.code, 0, "{sub:?}");
        assert!(r.stdout.contains("Example"), "{sub:?}: {}", r.stdout);
    }
}

#[test]
fn unknown_subcommand_is_usage_error() {
    assert_eq!(corebpf(&["frobnicate"]).code, 2);
}

/// Long help (`--help`, not `-h`) reaches the subcommands.
#[test]
fn long_help() {
    let r = corebpf(&["relocate", "--help"]);
    assert!(r
        .stdout
        .contains("does this object relocate on each of these kernels?"));
    let r = corebpf(&["load", "--help"]);
    assert!(r.stdout.contains("one failing program never hides another"));
    let r = corebpf(&["prog", "run", "--help"]);
    assert!(r
        .stdout
        .contains("BPF_PROG_TEST_RUN on the given packet data"));
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // `btf dump` of the running kernel writes megabytes; `head` closes the pipe after one line.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' btf dump /sys/kernel/btf/vmlinux | head -n 1",
            env!("CARGO_BIN_EXE_corebpf")
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
