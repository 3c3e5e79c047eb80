//! Compiling BPF C as a build script would, into a temporary directory: the object has its
//! BTF and no DWARF, CO-RE reads through the generated `vmlinux.h` become relocations, and
//! a broken source gives clang's diagnostics.

use std::path::PathBuf;

use corebpf_build::{BpfBuild, BuildError, Vmlinux};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("corebpf-build-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const TRACER: &str = r#"
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct event { __u32 pid; __u32 ppid; };

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

const volatile __u32 target = 0;

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = BPF_CORE_READ(p, tgid);
    e->ppid = BPF_CORE_READ(p, real_parent, tgid);
    bpf_ringbuf_submit(e, 0);
    return 0;
}
"#;

#[test]
fn compiles_with_vmlinux_h_and_strips_dwarf() {
    let dir = temp_dir("ok");
    let src = dir.join("tracer.bpf.c");
    std::fs::write(&src, TRACER).unwrap();
    let objs = BpfBuild::new()
        .source(&src)
        .out_dir(&dir)
        .quiet()
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(objs, [dir.join("tracer.bpf.o")]);
    assert!(dir.join("corebpf-include/vmlinux.h").is_file());
    let bytes = std::fs::read(&objs[0]).unwrap();
    let spec = corebpf_obj::Object::parse_named(&bytes, "tracer").unwrap();
    assert!(
        spec.btf.is_some() && spec.btf_ext.is_some(),
        ".BTF and .BTF.ext kept"
    );
    let relos: usize = spec.functions.iter().map(|f| f.core_relos.len()).sum();
    assert!(relos >= 2, "BPF_CORE_READ gave {relos} CO-RE relocations");
    let has = |name: &[u8]| bytes.windows(name.len()).any(|w| w == name);
    assert!(!has(b".debug_info"), "DWARF stripped");
    // The dependency file named the headers clang read.
    let dep = std::fs::read_to_string(dir.join("tracer.bpf.d")).unwrap();
    let deps = corebpf_build::depfile::prerequisites(&dep);
    assert!(deps.iter().any(|p| p.ends_with("vmlinux.h")), "{deps:?}");
    assert!(
        deps.iter().any(|p| p.ends_with("bpf/bpf_helpers.h")),
        "{deps:?}"
    );
    // The same BTF again: vmlinux.h is not rewritten.
    let before = std::fs::metadata(dir.join("corebpf-include/vmlinux.h"))
        .unwrap()
        .modified()
        .unwrap();
    BpfBuild::new()
        .source(&src)
        .out_dir(&dir)
        .quiet()
        .compile()
        .unwrap();
    let after = std::fs::metadata(dir.join("corebpf-include/vmlinux.h"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "vmlinux.h cached");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compile_errors_carry_clangs_diagnostics() {
    let dir = temp_dir("bad");
    let src = dir.join("broken.bpf.c");
    std::fs::write(&src, "int f(void) { return undefined_thing; }\n").unwrap();
    let e = BpfBuild::new()
        .source(&src)
        .out_dir(&dir)
        .vmlinux(Vmlinux::None)
        .quiet()
        .compile()
        .unwrap_err();
    match &e {
        BuildError::Compile {
            source_file,
            tool,
            diagnostics,
            ..
        } => {
            assert!(source_file.ends_with("broken.bpf.c"));
            assert_eq!(tool, "clang");
            assert!(diagnostics.contains("undefined_thing"), "{diagnostics}");
        }
        e => panic!("{e:?}"),
    }
    assert!(e.to_string().contains("broken.bpf.c:1:"), "{e}");
    // A BTF file that is not there: the error names it.
    let e = BpfBuild::new()
        .source(&src)
        .out_dir(&dir)
        .vmlinux(Vmlinux::BtfFile("/nonexistent/vmlinux.btf".into()))
        .quiet()
        .compile()
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/vmlinux.btf"), "{e}");
    // A clang that is not there: the error names the command.
    let e = BpfBuild::new()
        .source(&src)
        .out_dir(&dir)
        .clang("/nonexistent/clang")
        .vmlinux(Vmlinux::None)
        .quiet()
        .compile()
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/clang"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
