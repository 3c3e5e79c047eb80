//! `corebpf btf dump|show`, compared with bpftool where it is installed.

mod common;

use std::process::Command;

use common::{corebpf, gunzip_btf, have_bpftool, obj, TempDir};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn bpftool_dump(file: &str) -> String {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file", file])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn summary_counts_match_bpftool() {
    let r = corebpf(&["btf", "dump", "--summary"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let types: usize = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("types: "))
        .unwrap()
        .parse()
        .unwrap();
    let per_kind: usize = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(types, per_kind);
    assert!(r.stdout.contains("\n  STRUCT "), "{}", r.stdout);
    assert!(r.stdout.contains("\nparse: ") && r.stdout.contains("\nsize: "));
    if have_bpftool() {
        let want = bpftool_dump(VMLINUX)
            .lines()
            .filter(|l| l.starts_with('['))
            .count();
        assert_eq!(types, want);
    }
}

/// The raw format is bpftool's, byte for byte: the running kernel, an older kernel's BTF,
/// and an object's BTF (DATASEC, VAR, FUNC linkage, ENUM64).
#[test]
fn raw_dump_is_bpftool_format() {
    let dir = TempDir::new("btf");
    let files = [
        VMLINUX.to_string(),
        gunzip_btf("5.10", dir.path()),
        obj("core_enum64.bpf.o"),
        obj("obj_globals.bpf.o"),
    ];
    for f in &files {
        let r = corebpf(&["btf", "dump", f]);
        assert_eq!(r.code, 0, "{f}: {}", r.stderr);
        assert!(r.stdout.starts_with("[1] "), "{f}");
        if have_bpftool() {
            let want = bpftool_dump(f);
            if r.stdout != want {
                let (a, b) = r
                    .stdout
                    .lines()
                    .zip(want.lines())
                    .find(|(a, b)| a != b)
                    .unwrap();
                panic!("{f}: differs from bpftool:\n  corebpf: {a}\n  bpftool: {b}");
            }
        }
    }
}

#[test]
fn c_header() {
    let r = corebpf(&["btf", "dump", "--format", "c"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("#ifndef __VMLINUX_H__"),
        "{}",
        &r.stdout[..100]
    );
    assert!(r.stdout.contains("struct task_struct {"));
    assert!(r.stdout.trim_end().ends_with("#endif /* __VMLINUX_H__ */"));
}

#[test]
fn show_one_type() {
    let dir = TempDir::new("btf-show");
    let f = gunzip_btf("6.1", dir.path());
    let r = corebpf(&["btf", "show", "struct task_struct", &f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("STRUCT 'task_struct' size="),
        "{}",
        r.stdout
    );
    // The same offsets CO-RE finds on 6.1 (see the relocate tests).
    assert!(r.stdout.contains("\tpid_t pid;"), "{}", r.stdout);
    let pid = r
        .stdout
        .lines()
        .find(|l| l.starts_with("\tpid_t pid;"))
        .unwrap();
    assert!(pid.ends_with("/* offset 2416, size 4 */"), "{pid}");
    assert!(r.stdout.contains("\tunsigned int __state;"));
    assert!(r.stdout.contains("\tchar comm[16];"));
    let r = corebpf(&["btf", "show", "no_such_type_anywhere", &f]);
    assert_eq!(r.code, 2);
}
