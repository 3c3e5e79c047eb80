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
