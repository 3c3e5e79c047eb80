//! `corebpf load --attach`: programs stay attached until SIGINT, then detach.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{corebpf, obj, TempDir};

/// `hits[0]` and `hits[1]` of the object's `.bss`, as `map dump --json` shows them.
fn hits(bss: &Path) -> (u64, u64) {
    let r = corebpf(&["map", "dump", "--pinned", bss.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let hex = v[0]["value"].as_str().unwrap();
    let word = |i: usize| {
        let b: Vec<u8> = (0..8)
            .map(|k| u8::from_str_radix(&hex[(i * 8 + k) * 2..(i * 8 + k) * 2 + 2], 16).unwrap())
            .collect();
        u64::from_le_bytes(b.try_into().unwrap())
    };
    (word(0), word(1))
}

#[test]
fn attach_until_sigint() {
    let dir = TempDir::under(Path::new("/sys/fs/bpf"), "attach");
    let pin = dir.path().join("o");
    let mut child = Command::new(env!("CARGO_BIN_EXE_corebpf"))
        .args([
            "load",
            &obj("obj_multi_prog_sec.bpf.o"),
            "--attach",
            "--pin",
        ])
        .arg(&pin)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        out.push_str(&l);
        out.push('\n');
        if l.contains("Ctrl-C detaches") {
            break;
        }
    }
    assert!(
        out.contains("attached getpid_first to tracepoint syscalls/sys_enter_getpid"),
        "{out}"
    );
    assert!(
        out.contains("attached 2 programs; Ctrl-C detaches"),
        "{out}"
    );

    // Both tracepoint programs count this process's getpid calls.
    let bss = pin.join("obj_mult_bss");
    let before = hits(&bss);
    for _ in 0..10 {
        let _ = std::process::id(); // a getpid(2) call
    }
    let after = hits(&bss);
    assert!(
        after.0 >= before.0 + 10 && after.1 >= before.1 + 10,
        "{before:?} {after:?}"
    );

    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // Detached: the counters stand still.
    let stopped = hits(&bss);
    for _ in 0..10 {
        let _ = std::process::id(); // a getpid(2) call
    }
    assert_eq!(hits(&bss), stopped);
}

/// `load --attach` registers struct_ops maps (a BPF TCP congestion control) and
/// unregisters them on SIGINT.
#[test]
fn attach_registers_struct_ops_until_sigint() {
    let available =
        || std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_corebpf"))
        .args(["load", &obj("struct_ops_cc.bpf.o"), "--attach"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    for l in BufReader::new(child.stdout.take().unwrap()).lines() {
        let l = l.unwrap();
        out.push_str(&l);
        out.push('\n');
        if l.contains("Ctrl-C detaches") {
            break;
        }
    }
    assert!(
        out.contains("attached corebpf_cc to struct_ops tcp_congestion_ops"),
        "{out}"
    );
    assert!(available().contains("corebpf_cc"), "{}", available());
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(!available().contains("corebpf_cc"), "{}", available());
}
