//! The C header dump against real BTF: this kernel's vmlinux, other kernels' BTF from
//! `testdata/btf`, and the test objects' `.BTF`, each compiled by clang for the BPF target,
//! with `_Static_assert`s generated from the BTF checking that the header reproduces every
//! named struct's and union's size and member offsets exactly.

mod cdump_util;
mod layout_util;

use std::collections::BTreeSet;
use std::process::Command;

use cdump_util::{
    check_layouts, check_layouts_clang, check_layouts_with, clang_bpf, have_clang, scratch,
    testdata, vmlinux, VMLINUX,
};
use corebpf_btf::cdump::{self, CDumper, DumpOptions};
use corebpf_btf::{Btf, Kind};

const PROGRAM: &str = r#"
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* Local types next to the kernel's: a bitfield struct and a function-pointer struct. */
struct flags { unsigned int a: 3; unsigned int b: 5; int c: 24; long long d; };
struct ops { int (*fn)(int, char *); void (*cbs[4])(void); };

SEC("kprobe/do_nanosleep")
int BPF_KPROBE(probe, struct hrtimer_sleeper *sl)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct sk_buff *skb = 0;
	struct flags f = { .a = 1, .b = 2, .c = 3 };
	enum bpf_map_type mt = BPF_MAP_TYPE_HASH;
	int pid = BPF_CORE_READ(task, pid);
	int ppid = BPF_CORE_READ(task, real_parent, tgid);
	unsigned int len = skb ? BPF_CORE_READ(skb, len) : 0;
	unsigned long ip = PT_REGS_IP(ctx);
	unsigned long di = PT_REGS_PARM1_CORE(ctx);
	struct file_operations *fops = 0;
	long (*ioctl)(struct file *, unsigned int, unsigned long) = fops ? fops->unlocked_ioctl : 0;

	if (bpf_core_field_exists(task->__state))
		pid += 1;
	return pid + ppid + mt + len + ip + di + f.a + f.b + f.c + (ioctl != 0);
}

char LICENSE[] SEC("license") = "GPL";
"#;

#[test]
fn vmlinux_header_compiles_bpf_program() {
    let Some(btf) = vmlinux() else { return };
    if !have_clang() {
        return;
    }
    let dir = scratch("prog");
    let mut f = std::fs::File::create(dir.join("vmlinux.h")).unwrap();
    cdump::dump_c(&btf, &mut f).unwrap();
    drop(f);
    std::fs::write(dir.join("prog.bpf.c"), PROGRAM).unwrap();
    clang_bpf(&dir, "prog.bpf.c", &["-O2", "-g", "-c", "-o", "prog.bpf.o"]);
    // The object carries CO-RE relocations against the dumped types.
    let obj = std::fs::read(dir.join("prog.bpf.o")).unwrap();
    let local = Btf::from_elf(&obj).unwrap();
    assert!(local
        .find_by_name_kind("task_struct", Kind::Struct)
        .is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vmlinux_struct_layouts_match_btf() {
    let Some(btf) = vmlinux() else { return };
    if !have_clang() {
        return;
    }
    let (sizes, offsets) = check_layouts(&btf, "vmlinux");
    assert!(sizes > 1000 && offsets > 10000, "{sizes} {offsets}");
}

#[test]
fn vmlinux_sorted_dump_has_the_same_definitions_and_layouts() {
    let Some(btf) = vmlinux() else { return };
    let sorted = DumpOptions {
        sorted: true,
        ..DumpOptions::default()
    };
    let a = cdump::to_c_header_with(&btf, &sorted).unwrap();
    let b = cdump::to_c_header(&btf).unwrap();
    assert_ne!(a, b);
    assert_eq!(definitions(&a), definitions(&b));
    // Enums first, then base types, then structs and unions by name.
    let first_enum = a.find("\nenum ").unwrap();
    let first_struct = a.find("\nstruct ").unwrap();
    assert!(first_enum < first_struct);
    if have_clang() {
        check_layouts_with(&btf, "vmlinux-sorted", true);
    }
}

#[test]
fn other_kernels_struct_layouts_match_btf() {
    if !have_clang() {
        return;
    }
    for kernel in ["5.10", "6.1", "6.12", "7.2"] {
        let gz = testdata().join(format!("btf/{kernel}.btf.gz"));
        if !gz.exists() {
            corebpf_testutil::skip(&format!("no {} for {kernel}", gz.display()));
            continue;
        }
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(&gz)
            .output()
            .expect("run gzip");
        assert!(out.status.success(), "gzip -dc {}", gz.display());
        let btf = Btf::from_vec(out.stdout).unwrap();
        // Since 6.19 the kernel is built with -fms-extensions and embeds named structs as
        // anonymous members (`struct aes_key { struct aes_enckey; ... }`): the header
        // writes them so, like bpftool, and only -fms-extensions lays them out as the
        // kernel does.
        let args: &[&str] = if kernel == "7.2" {
            &["-fms-extensions"]
        } else {
            &[]
        };
        check_layouts_clang(&btf, kernel, false, args);
    }
}

#[test]
fn linux_7_2_with_a_layout_section_dumps_a_compiling_vmlinux_h() {
    // The same text as without the layout section (checked for layouts above), and it
    // builds a CO-RE program.
    let btf = Btf::from_vec(layout_util::linux_7_2_with_layout()).unwrap();
    assert!(btf.layout().is_some());
    let plain = Btf::from_vec(layout_util::kernel_btf("7.2")).unwrap();
    let header = cdump::to_c_header(&btf).unwrap();
    assert_eq!(header, cdump::to_c_header(&plain).unwrap());
    if !have_clang() {
        return;
    }
    let dir = scratch("prog-7.2-layout");
    std::fs::write(dir.join("vmlinux.h"), header).unwrap();
    std::fs::write(dir.join("prog.bpf.c"), PROGRAM).unwrap();
    clang_bpf(&dir, "prog.bpf.c", &["-O2", "-g", "-c", "-o", "prog.bpf.o"]);
    let obj = std::fs::read(dir.join("prog.bpf.o")).unwrap();
    let local = Btf::from_elf(&obj).unwrap();
    assert!(local
        .find_by_name_kind("task_struct", Kind::Struct)
        .is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn object_btf_headers_compile() {
    if !have_clang() {
        return;
    }
    let dir = testdata().join("bpf/out/clang19");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if !path.to_string_lossy().ends_with(".bpf.o") {
            continue;
        }
        let btf = Btf::from_elf(&std::fs::read(&path).unwrap()).unwrap();
        let name = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace('.', "_");
        check_layouts(&btf, &name);
        n += 1;
    }
    assert!(n > 10, "only {n} objects in {}", dir.display());
}

/// Named definitions at the start of a line: `struct X {`, `union X {`, `enum X {`,
/// `typedef ... X;` (the last word before `;`, or the name of a function-pointer typedef).
fn definitions(header: &str) -> BTreeSet<String> {
    let mut defs = BTreeSet::new();
    for line in header.lines() {
        for kw in ["struct ", "union ", "enum "] {
            if let Some(rest) = line.strip_prefix(kw) {
                if let Some(name) = rest.strip_suffix(" {") {
                    defs.insert(format!("{kw}{name}"));
                }
            }
        }
        if let Some(rest) = line.strip_prefix("typedef ") {
            if let Some(decl) = rest.strip_suffix(';') {
                defs.insert(format!("typedef {}", typedef_name(decl)));
            }
        }
    }
    defs
}

fn typedef_name(decl: &str) -> &str {
    // `int (*name)(...)` or `T (name)[4]`: the identifier after the first `(*` or `(`.
    if let Some(i) = decl.find("(*") {
        let rest = &decl[i + 2..];
        return &rest[..rest.find(')').unwrap_or(rest.len())];
    }
    let head = decl.split('[').next().unwrap_or(decl);
    let head = head.split('(').next().unwrap_or(head);
    head.rsplit([' ', '*']).next().unwrap_or(head)
}

#[test]
fn vmlinux_definitions_match_bpftool() {
    let Some(btf) = vmlinux() else { return };
    let Ok(out) = Command::new("bpftool")
        .args(["btf", "dump", "file", VMLINUX, "format", "c"])
        .output()
    else {
        corebpf_testutil::skip("no bpftool (apt-get install bpftool)");
        return;
    };
    assert!(out.status.success(), "bpftool failed");
    let theirs = String::from_utf8(out.stdout).unwrap();
    let version = bpftool_version();
    // bpftool sorts by default since 7.5, which changes which duplicate gets `___2`.
    let opts = DumpOptions {
        kfunc_prototypes: false,
        sorted: version >= (7, 5),
        ..DumpOptions::default()
    };
    let ours = cdump::to_c_header_with(&btf, &opts).unwrap();
    let (a, b) = (definitions(&ours), definitions(&theirs));
    let only_ours: Vec<_> = a.difference(&b).take(20).collect();
    let only_theirs: Vec<_> = b.difference(&a).take(20).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "only ours: {only_ours:?}\nonly bpftool's: {only_theirs:?}"
    );
    assert!(a.len() > 10000, "{} definitions", a.len());
    eprintln!("{} named definitions, same as bpftool's", a.len());
    // Same text type by type, apart from what newer libbpf prints differently from the
    // bpftool installed here: `mode(byte)` on one-byte enums (libbpf >= 1.2), and the
    // `__ksym`/`__weak`/`__bpf_fastcall` macros of the preamble (bpftool >= 7.4).
    let body = |h: &str| -> Vec<String> {
        let first_type = h.find("\ntypedef ").unwrap() + 1;
        let end = h.rfind("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX").unwrap();
        h[first_type..end]
            .lines()
            .map(|l| l.replace(" __attribute__((mode(byte)))", ""))
            .collect()
    };
    let (ours, theirs) = (body(&ours), body(&theirs));
    if version <= (7, 3) {
        let first_diff = ours.iter().zip(&theirs).position(|(a, b)| a != b);
        assert!(
            first_diff.is_none() && ours.len() == theirs.len(),
            "text differs from bpftool's at body line {first_diff:?} ({} vs {} lines)",
            ours.len(),
            theirs.len()
        );
    }
}

/// bpftool's version (major, minor), (0, 0) if unknown.
fn bpftool_version() -> (u32, u32) {
    let out = Command::new("bpftool").arg("version").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let v = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .trim_start_matches('v');
    let mut it = v.split('.').map(|x| x.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

#[test]
fn vmlinux_dump_is_deterministic_and_sane() {
    let Some(btf) = vmlinux() else { return };
    let a = cdump::to_c_header(&btf).unwrap();
    let b = cdump::to_c_header(&btf).unwrap();
    assert_eq!(a, b);
    assert!(a.starts_with("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n"));
    assert!(a.ends_with("#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n"));
    assert!(a.contains("\nstruct task_struct {\n"));
    assert!(a.contains("\nstruct pt_regs {\n"));
    // A pointer cycle: task_struct is forward-declared before something that points to it.
    let fwd = a
        .find("\nstruct task_struct;\n")
        .expect("forward declaration");
    assert!(fwd < a.find("\nstruct task_struct {\n").unwrap());
    // One type with what it needs, from a fresh dumper (the deepest walks).
    for name in ["task_struct", "sk_buff", "bpf_prog_aux", "file_operations"] {
        let id = btf.find_by_name_kind(name, Kind::Struct).unwrap();
        let mut d = CDumper::new(&btf).unwrap();
        d.dump_type(id).unwrap();
        let text = String::from_utf8(d.take_output()).unwrap();
        assert!(text.contains(&format!("\nstruct {name} {{\n")), "{name}");
    }
}
