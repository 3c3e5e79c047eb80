//! The C header dump against real BTF: this kernel's vmlinux, other kernels' BTF from
//! `testdata/btf`, and the test objects' `.BTF`, each compiled by clang for the BPF target,
//! with `_Static_assert`s generated from the BTF checking that the header reproduces every
//! named struct's and union's size and member offsets exactly.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use corebpf_btf::cdump::{self, CDumper, DumpOptions};
use corebpf_btf::{Btf, Kind, Type};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("corebpf-cdump-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether `clang` runs. Missing clang fails the test loudly, except inside the QEMU guests
/// of `cargo xtask vm-test` (`COREBPF_VM`), which carry no compiler.
fn have_clang() -> bool {
    let ok = Command::new("clang")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("COREBPF_VM").is_some() {
        eprintln!("skipped: no clang in the VM guest");
        return false;
    }
    assert!(
        ok,
        "clang is required to check the C dump (apt-get install clang)"
    );
    true
}

/// Runs clang for the BPF target on `src` with `args`; panics with its output on failure.
fn clang_bpf(dir: &Path, src: &str, args: &[&str]) {
    let out = Command::new("clang")
        .args(["-target", "bpf", "-D__TARGET_ARCH_x86", "-I"])
        .arg(dir)
        .args(args)
        .arg(dir.join(src))
        .current_dir(dir)
        .output()
        .expect("run clang");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "clang {src} failed:\n{}",
        stderr.lines().take(60).collect::<Vec<_>>().join("\n")
    );
}

fn vmlinux() -> Option<Btf> {
    if !Path::new(VMLINUX).exists() {
        eprintln!("skipped: no {VMLINUX}");
        return None;
    }
    Some(Btf::from_sys_fs().expect("parse vmlinux BTF"))
}

/// Whether type `id` holds a `__builtin_va_list` by value. The kernel's is GCC's x86-64
/// `struct __va_list_tag[1]` (24 bytes), but like bpftool the dump leaves that typedef to
/// the compiler, whose BPF-target `__builtin_va_list` is a `char *`: such structs (e.g.
/// `warn_args`) cannot keep their size.
fn embeds_va_list(btf: &Btf, id: u32, memo: &mut HashMap<u32, bool>, depth: u32) -> bool {
    if let Some(&v) = memo.get(&id) {
        return v;
    }
    let t = btf.type_by_id(id).unwrap();
    let v = depth < 64
        && match t.kind() {
            Kind::Typedef if t.name() == "__builtin_va_list" => true,
            Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag => {
                embeds_va_list(btf, t.type_id().unwrap(), memo, depth + 1)
            }
            Kind::Array => embeds_va_list(btf, t.array().unwrap().elem_type, memo, depth + 1),
            Kind::Struct | Kind::Union => t
                .members()
                .any(|m| embeds_va_list(btf, m.type_id, memo, depth + 1)),
            _ => false,
        };
    memo.insert(id, v);
    v
}

/// `_Static_assert`s of the size of every named struct and union with a non-zero size,
/// and of the offset of each of their named non-bitfield members (also those reached
/// through anonymous members), using the names the dumper printed. Returns the C text and
/// the number of size asserts and offset asserts.
fn layout_asserts(btf: &Btf, d: &CDumper<'_>) -> (String, usize, usize) {
    let mut c = String::from("#include \"vmlinux.h\"\n\n");
    let (mut sizes, mut offsets) = (0, 0);
    let mut memo = HashMap::new();
    for t in btf.types() {
        if !matches!(t.kind(), Kind::Struct | Kind::Union) || t.name_off() == 0 || t.size() == 0 {
            continue;
        }
        if embeds_va_list(btf, t.id(), &mut memo, 0) {
            eprintln!("not checked: {t} embeds __builtin_va_list");
            continue;
        }
        let name = d.c_name(t.id()).expect("every named struct was printed");
        let tag = format!("{} {name}", t.kind());
        c += &format!(
            "_Static_assert(sizeof({tag}) == {}, \"[{}] {tag}\");\n",
            t.size(),
            t.id()
        );
        sizes += 1;
        offsets += member_asserts(btf, &mut c, &tag, t, 0, 0);
    }
    (c, sizes, offsets)
}

fn member_asserts(
    btf: &Btf,
    c: &mut String,
    tag: &str,
    t: Type<'_>,
    base: u32,
    depth: u32,
) -> usize {
    let mut n = 0;
    for m in t.members() {
        if m.bitfield_size != 0 {
            continue;
        }
        let off = base + m.bit_offset;
        if m.name_off == 0 {
            let inner = btf.type_by_id(m.type_id).unwrap();
            if inner.is_composite() && inner.name_off() == 0 && depth < 8 {
                n += member_asserts(btf, c, tag, inner, off, depth + 1);
            }
            continue;
        }
        if off % 8 != 0 {
            continue;
        }
        *c += &format!(
            "_Static_assert(__builtin_offsetof({tag}, {}) == {}, \"{tag}.{}\");\n",
            m.name(),
            off / 8,
            m.name()
        );
        n += 1;
    }
    n
}

/// Dumps `btf`, then compiles the header with size/offset asserts for every struct.
fn check_layouts(btf: &Btf, name: &str) -> (usize, usize) {
    let dir = scratch(name);
    let mut d = CDumper::new(btf).unwrap();
    d.dump_all(false).unwrap();
    let mut header = b"#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n".to_vec();
    header.extend(d.take_output());
    header.extend(b"#pragma clang attribute pop\n");
    std::fs::write(dir.join("vmlinux.h"), header).unwrap();
    let (asserts, sizes, offsets) = layout_asserts(btf, &d);
    std::fs::write(dir.join("layout.c"), asserts).unwrap();
    clang_bpf(&dir, "layout.c", &["-fsyntax-only", "-Wno-everything"]);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{name}: {sizes} struct/union size asserts and {offsets} member offset asserts passed"
    );
    (sizes, offsets)
}

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
fn other_kernels_struct_layouts_match_btf() {
    if !have_clang() {
        return;
    }
    for kernel in ["5.10", "6.1", "6.12"] {
        let gz = testdata().join(format!("btf/{kernel}.btf.gz"));
        if !gz.exists() {
            eprintln!("skipped {kernel}: no {}", gz.display());
            continue;
        }
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(&gz)
            .output()
            .expect("run gzip");
        assert!(out.status.success(), "gzip -dc {}", gz.display());
        let btf = Btf::from_vec(out.stdout).unwrap();
        check_layouts(&btf, kernel);
    }
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
        eprintln!("skipped: no bpftool");
        return;
    };
    assert!(out.status.success(), "bpftool failed");
    let theirs = String::from_utf8(out.stdout).unwrap();
    let opts = DumpOptions {
        kfunc_prototypes: false,
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
    let theirs_major: (u32, u32) = bpftool_version();
    if theirs_major <= (7, 3) {
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
}
