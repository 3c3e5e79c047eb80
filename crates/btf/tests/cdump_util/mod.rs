//! Shared by the C dump tests: scratch directories, running clang for the BPF target, and
//! `_Static_assert`s generated from BTF that check a dumped header's layouts.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use corebpf_btf::cdump::CDumper;
use corebpf_btf::{Btf, Kind, Type};

/// This kernel's BTF.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

pub fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("corebpf-cdump-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether `clang` runs. Without it the test cannot check the C dump: it fails, unless
/// `COREBPF_ALLOW_SKIP=1` allows the skip (the one skip policy, `corebpf-testutil`).
pub fn have_clang() -> bool {
    let ok = Command::new("clang")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        corebpf_testutil::skip("clang checks the C dump (apt-get install clang)");
    }
    ok
}

/// Runs clang for the BPF target on `src` with `args`; panics with its output on failure.
pub fn clang_bpf(dir: &Path, src: &str, args: &[&str]) {
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

pub fn vmlinux() -> Option<Btf> {
    if !Path::new(VMLINUX).exists() {
        corebpf_testutil::skip(&format!(
            "no {VMLINUX} (a kernel built with CONFIG_DEBUG_INFO_BTF)"
        ));
        return None;
    }
    Some(Btf::from_sys_fs().expect("parse vmlinux BTF"))
}

/// Whether type `id` holds a `__builtin_va_list` by value. The kernel's is GCC's x86-64
/// `struct __va_list_tag[1]` (24 bytes), but like bpftool the dump leaves that typedef to
/// the compiler, whose BPF-target `__builtin_va_list` is a `char *`: such structs (e.g.
/// `warn_args`) cannot keep their size.
pub fn embeds_va_list(btf: &Btf, id: u32, memo: &mut HashMap<u32, bool>, depth: u32) -> bool {
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

/// `_Static_assert`s of the size of every named struct, union and enum with a non-zero size,
/// and of the offset of each of their named non-bitfield members (also those reached
/// through anonymous members), using the names the dumper printed. Returns the C text and
/// the number of size asserts and offset asserts.
pub fn layout_asserts(btf: &Btf, d: &CDumper<'_>) -> (String, usize, usize) {
    let mut c = String::from("#include \"vmlinux.h\"\n\n");
    let (mut sizes, mut offsets) = (0, 0);
    let mut memo = HashMap::new();
    for t in btf.types() {
        let wanted = matches!(
            t.kind(),
            Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64
        );
        if !wanted || t.name_off() == 0 || t.size() == 0 {
            continue;
        }
        if t.is_any_enum() {
            if t.vlen() != 0 {
                let name = d.c_name(t.id()).expect("every named enum was printed");
                c += &format!(
                    "_Static_assert(sizeof(enum {name}) == {}, \"[{}] enum {name}\");\n",
                    t.size(),
                    t.id()
                );
                sizes += 1;
            }
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

pub fn member_asserts(
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
pub fn check_layouts(btf: &Btf, name: &str) -> (usize, usize) {
    check_layouts_with(btf, name, false)
}

/// [`check_layouts`] of the dump in id order or (`sorted`) bpftool's sorted order.
pub fn check_layouts_with(btf: &Btf, name: &str, sorted: bool) -> (usize, usize) {
    check_layouts_clang(btf, name, sorted, &[])
}

/// [`check_layouts_with`], clang also given `clang_args` (`-fms-extensions` for kernels
/// since 6.19, whose structs embed named structs as anonymous members, as the kernel is
/// built).
pub fn check_layouts_clang(
    btf: &Btf,
    name: &str,
    sorted: bool,
    clang_args: &[&str],
) -> (usize, usize) {
    let dir = scratch(name);
    let mut d = CDumper::new(btf).unwrap();
    d.dump_all(sorted).unwrap();
    let mut header = b"#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n".to_vec();
    header.extend(d.take_output());
    header.extend(b"#pragma clang attribute pop\n");
    std::fs::write(dir.join("vmlinux.h"), header).unwrap();
    let (asserts, sizes, offsets) = layout_asserts(btf, &d);
    std::fs::write(dir.join("layout.c"), asserts).unwrap();
    let mut args = vec!["-fsyntax-only", "-Wno-everything"];
    args.extend_from_slice(clang_args);
    clang_bpf(&dir, "layout.c", &args);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{name}: {sizes} struct/union/enum size asserts and {offsets} member offset asserts passed"
    );
    (sizes, offsets)
}

/// [`check_layouts`] where clang is installed; quietly nothing elsewhere (the tests of real
/// kernels' BTF already insist on clang).
pub fn check_layouts_if_clang(btf: &Btf, name: &str) {
    let found = Command::new("clang")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        check_layouts(btf, name);
    }
}
