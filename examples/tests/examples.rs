//! Runs each example binary non-interactively on this kernel and checks that its output holds
//! what the test provoked.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{bin} {args:?} failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn oreore_adds_42_in_the_kernel() {
    let out = run(
        env!("CARGO_BIN_EXE_oreore"),
        &["1", "2", "100", "4294967254"],
    );
    for line in [
        "1 + 42 = 43",
        "2 + 42 = 44",
        "100 + 42 = 142",
        "4294967254 + 42 = 0",
    ] {
        assert!(out.contains(line), "missing '{line}' in:\n{out}");
    }
}

#[test]
fn find_map_creates_then_finds_the_pinned_map() {
    let path = format!("/sys/fs/bpf/corebpf_findme_{}", std::process::id());
    let first = run(env!("CARGO_BIN_EXE_find_map"), &["--path", &path]);
    assert!(first.contains("created map 'findme'"), "{first}");
    let id = first
        .lines()
        .find(|l| l.starts_with("id: "))
        .unwrap()
        .to_string();
    let second = run(
        env!("CARGO_BIN_EXE_find_map"),
        &["--path", &path, "--unpin"],
    );
    assert!(second.contains("found a map pinned at"), "{second}");
    for line in [
        "name: findme",
        "type: array",
        "key size: 4",
        "value size: 8",
        "max entries: 16",
        id.as_str(),
    ] {
        assert!(second.contains(line), "missing '{line}' in:\n{second}");
    }
    assert!(!std::path::Path::new(&path).exists(), "unpinned");
}

#[test]
fn execsnoop_logs_core_relocations_and_sees_the_execs_it_made() {
    let out = run(
        env!("CARGO_BIN_EXE_execsnoop"),
        &["--duration", "3", "--spawn", "3"],
    );
    assert!(out.contains("CO-RE relocations (3):"), "{out}");
    assert!(
        out.contains("CO-RE relocating [") && out.contains("struct task_struct"),
        "{out}"
    );
    assert!(
        out.contains("prog 'handle_exec': relo #0: <byte_off>"),
        "{out}"
    );
    let trues = out
        .lines()
        .filter(|l| l.ends_with("/bin/true") && l.contains(" true "))
        .count();
    assert!(trues >= 3, "expected the 3 spawned /bin/true execs:\n{out}");
}

#[test]
fn hello_sends_the_configured_message_for_each_exec() {
    let out = run(
        env!("CARGO_BIN_EXE_hello"),
        &[
            "--duration",
            "3",
            "--spawn",
            "2",
            "--message",
            "0=Hey root!",
        ],
    );
    // Either the kprobe attached, or the fallback says why (this kernel has no kprobes).
    assert!(
        out.contains("attached kprobe to the execve syscall")
            || out.contains("falling back to the syscalls/sys_enter_execve tracepoint"),
        "{out}"
    );
    // At execve entry the command is still the caller's (hello); the path is the new one.
    let hits = out
        .lines()
        .filter(|l| l.contains(" Hey root! /bin/true"))
        .count();
    assert!(
        hits >= 2,
        "expected 2 execs of /bin/true by uid 0 with the configured message:\n{out}"
    );
}

/// The numbers after `label` in a line like "TCP 493 UDP 57 ICMP 281 bytes".
fn value_after(line: &str, label: &str) -> u64 {
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == label {
            return words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    panic!("no {label} in {line}");
}

#[test]
fn sockex1_counts_bytes_per_protocol_on_loopback() {
    let out = run(env!("CARGO_BIN_EXE_sockex1"), &["--count", "2"]);
    let last = out.lines().last().unwrap_or("");
    for proto in ["TCP", "UDP", "ICMP"] {
        assert!(
            value_after(last, proto) > 0,
            "no {proto} bytes counted:\n{out}"
        );
    }
}

#[test]
fn xdp_ip_only_passes_ip_and_drops_arp_on_a_veth() {
    let out = run(env!("CARGO_BIN_EXE_xdp_ip_only"), &["--count", "2"]);
    let last = out.lines().last().unwrap_or("");
    assert!(
        value_after(last, "passed") >= 2,
        "ICMP echo requests pass:\n{out}"
    );
    assert!(
        value_after(last, "dropped") >= 1,
        "ARP requests are dropped:\n{out}"
    );
}

#[test]
fn disksnoop_reports_the_writes_it_made() {
    let out = run(
        env!("CARGO_BIN_EXE_disksnoop"),
        &["--duration", "3", "--io"],
    );
    let writes = out
        .lines()
        .filter(|l| l.split_whitespace().nth(3).is_some_and(|t| t.contains('W')))
        .filter(|l| {
            l.split_whitespace()
                .nth(4)
                .and_then(|b| b.parse::<u64>().ok())
                .unwrap_or(0)
                > 0
        })
        .count();
    assert!(writes >= 1, "expected write requests with a size:\n{out}");
}

#[test]
fn tcp_cc_registers_a_bpf_congestion_control_and_counts_its_callbacks() {
    let bin = env!("CARGO_BIN_EXE_tcp_cc");
    let available =
        || std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control").unwrap();
    let uname = nix::sys::utsname::uname().unwrap();
    let release = uname.release().to_string_lossy().into_owned();
    let mut v = release.split(|c: char| !c.is_ascii_digit());
    let (major, minor): (u32, u32) = (
        v.next().unwrap().parse().unwrap(),
        v.next().unwrap().parse().unwrap(),
    );
    if (major, minor) < (5, 13) {
        // Kernels before 5.13 do not let struct_ops programs call the Reno kfuncs.
        let out = Command::new(bin).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("tcp_reno"), "{err}");
        return;
    }
    let out = run(bin, &["--megabytes", "4"]);
    for line in [
        "registered congestion control bpf_reno (struct_ops tcp_congestion_ops)",
        "sent 4 MB with congestion control bpf_reno",
        "unregistered bpf_reno",
    ] {
        assert!(out.contains(line), "missing '{line}' in:\n{out}");
    }
    assert!(value_after(&out, "init:") >= 1, "{out}");
    assert!(value_after(&out, "cong_avoid:") >= 1, "{out}");
    assert!(!available().contains("bpf_reno"), "{}", available());
}

#[test]
fn usdt_prints_each_hit_of_the_test_programs_probe_with_its_arguments() {
    let out = run(
        env!("CARGO_BIN_EXE_usdt"),
        &["--spawn", "2", "--duration", "10"],
    );
    assert!(
        out.contains("file offset 0x") && out.contains("s8 %rsi, u8 %r8"),
        "{out}"
    );
    for line in [
        "corebpf:regs(-1, 200, -1000, 60000, -100000, 4000000000, -5000000000, 17293822569102704640, -42)",
        "corebpf:regs(-2, 201, -1001, 60001, -100001, 4000000001, -5000000001, 17293822569102704641, -42)",
        "2 hits",
    ] {
        assert!(out.contains(line), "missing '{line}' in:\n{out}");
    }
    let mem = run(
        env!("CARGO_BIN_EXE_usdt"),
        &["--name", "mem", "--spawn", "1", "--duration", "10"],
    );
    assert!(mem.contains("u64 [%rsp-8]"), "{mem}");
    assert!(
        mem.contains("corebpf:mem(-1, 200, -1000, 60000, -100000, 4000000000, -5000000000, 17293822569102704640)"),
        "{mem}"
    );
}
