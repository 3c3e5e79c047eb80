//! Runs `corebpf usdt list` on testdata/usdt's test program and library.

use std::path::PathBuf;
use std::process::Command;

fn usdt_out(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/usdt/out")
        .join(name)
        .display()
        .to_string()
}

fn corebpf(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_corebpf"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn usdt_list_shows_offsets_semaphores_and_arguments() {
    let (code, out, err) = corebpf(&["usdt", "list", &usdt_out("usdt_prog")]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("PROBE") && lines[0].contains("SEMAPHORE"),
        "{out}"
    );
    assert_eq!(lines.len(), 5, "{out}");
    let regs = lines
        .iter()
        .find(|l| l.starts_with("corebpf:regs"))
        .unwrap();
    assert!(
        regs.contains("s8 %rsi, u8 %r8, s16 %rax") && regs.ends_with("s32 $-42"),
        "{regs}"
    );
    let mem = lines.iter().find(|l| l.starts_with("corebpf:mem")).unwrap();
    assert!(
        mem.contains("s8 [%rsp-30]") && mem.contains("u64 [%rsp-8]"),
        "{mem}"
    );
    let sib = lines.iter().find(|l| l.starts_with("corebpf:sib")).unwrap();
    assert!(
        sib.ends_with("s64 [%rdi+%rsi*8], s64 [%rdi+%rsi*8+8]"),
        "{sib}"
    );
    let sema = lines
        .iter()
        .find(|l| l.starts_with("corebpf:sema"))
        .unwrap();
    let cols: Vec<&str> = sema.split_whitespace().collect();
    assert!(
        cols[1].starts_with("0x") && cols[2].starts_with("0x"),
        "{sema}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("  -  ")).count(),
        3,
        "{out}"
    );
}

#[test]
fn usdt_list_json_and_errors() {
    let (code, out, err) = corebpf(&["usdt", "list", &usdt_out("libcorebpf_usdt.so"), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let probes = v.as_array().unwrap();
    assert_eq!(probes.len(), 2);
    assert_eq!(probes[0]["provider"], "corebpf_lib");
    assert_eq!(probes[0]["name"], "lib");
    assert_eq!(probes[0]["args_spec"], "-8@%rdi 2@-10(%rsp) -4@%eax");
    assert_eq!(probes[0]["args"][1]["location"], "u16 [%rsp-10]");
    assert_eq!(probes[0]["semaphore_offset"], 0);
    assert_ne!(probes[1]["semaphore_offset"], 0);
    let (code, _, err) = corebpf(&["usdt", "list", "/nonexistent/binary"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("binary not found: /nonexistent/binary"),
        "{err}"
    );
    let bpf = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/bpf/out/clang19/usdt_args.bpf.o");
    let (code, _, err) = corebpf(&["usdt", "list", bpf.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("neither an executable (ET_EXEC) nor a shared object"),
        "{err}"
    );
}
