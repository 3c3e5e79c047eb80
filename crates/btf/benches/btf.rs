//! `cargo bench -p corebpf-btf`: reading the running kernel's BTF, side by side with libbpf
//! (Debian's libbpf-dev, linked into this bench only), and CO-RE relocation cost.
//!
//! Groups:
//! - `vmlinux_ready`: from `/sys/kernel/btf/vmlinux` to "a struct can be looked up by name"
//!   (corebpf: `Btf::from_sys_fs` + `find_by_name_kind`; libbpf: `btf__load_vmlinux_btf` +
//!   `btf__find_by_name_kind`), alternating in the same run.
//! - `lookup`: finding structs by name in already parsed BTF (libbpf scans linearly).
//! - `members`: iterating `task_struct`'s members.
//! - `core_relo`: resolving every CO-RE relocation of `testdata`'s core_tracing object against
//!   vmlinux, and of a CO-RE family against its small target: the per-relocation cost should
//!   not depend on the target's size (index lookup, not a scan).
//!
//! Also prints the heap bytes corebpf allocates to get vmlinux ready, next to the blob's size.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::PathBuf;
use std::sync::Arc;

use corebpf_btf::relo::{Relocator, TargetSet};
use corebpf_btf::{Btf, BtfExt, Kind};
use criterion::{criterion_group, criterion_main, Criterion};

mod counting_alloc;
use counting_alloc::{reset_peak, Counting};

#[global_allocator]
static ALLOC: Counting = Counting;

#[link(name = "bpf")]
extern "C" {
    fn btf__load_vmlinux_btf() -> *mut c_void;
    fn btf__free(btf: *mut c_void);
    fn btf__find_by_name_kind(btf: *const c_void, name: *const c_char, kind: u32) -> c_int;
}

const STRUCTS: &[&str] = &[
    "task_struct",
    "pt_regs",
    "sk_buff",
    "file",
    "inode",
    "mm_struct",
    "sock",
    "net_device",
];

fn testdata() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata"))
}

fn report_memory() {
    let before = reset_peak();
    let btf = Btf::from_sys_fs().unwrap();
    let _ = btf.find_by_name_kind("task_struct", Kind::Struct);
    let live = counting_alloc::live() - before;
    let peak = counting_alloc::peak() - before;
    let funcs_before = counting_alloc::live();
    let _ = btf.find_by_name_kind("schedule", Kind::Func);
    let funcs = counting_alloc::live() - funcs_before;
    println!(
        "memory: vmlinux blob {} bytes (mapped, not copied); corebpf heap when ready: {live} bytes live, {peak} peak; FUNC index on first function lookup: +{funcs} bytes",
        btf.raw_bytes().len()
    );
}

fn vmlinux_ready(c: &mut Criterion) {
    report_memory();
    let mut g = c.benchmark_group("vmlinux_ready");
    g.sample_size(100);
    g.bench_function("corebpf", |b| {
        b.iter(|| {
            let btf = Btf::from_sys_fs().unwrap();
            assert_ne!(btf.find_by_name_kind("task_struct", Kind::Struct), None);
        })
    });
    let name = CString::new("task_struct").unwrap();
    g.bench_function("libbpf", |b| {
        b.iter(|| {
            // SAFETY: libbpf's documented API; the handle is freed before the next call.
            unsafe {
                let btf = btf__load_vmlinux_btf();
                assert!(!btf.is_null());
                assert!(btf__find_by_name_kind(btf, name.as_ptr(), 4) > 0);
                btf__free(btf);
            }
        })
    });
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let btf = Btf::from_sys_fs().unwrap();
    let mut g = c.benchmark_group("lookup");
    g.bench_function("corebpf_8_structs", |b| {
        b.iter(|| {
            for s in STRUCTS {
                assert!(btf.find_by_name_kind(s, Kind::Struct).is_some());
            }
        })
    });
    // SAFETY: libbpf's documented API; freed at the end of this function.
    let lb = unsafe { btf__load_vmlinux_btf() };
    let names: Vec<CString> = STRUCTS.iter().map(|s| CString::new(*s).unwrap()).collect();
    g.bench_function("libbpf_8_structs", |b| {
        b.iter(|| {
            for n in &names {
                // SAFETY: `lb` is a live libbpf BTF handle.
                assert!(unsafe { btf__find_by_name_kind(lb, n.as_ptr(), 4) } > 0);
            }
        })
    });
    g.finish();
    // SAFETY: allocated above by libbpf, not used afterwards.
    unsafe { btf__free(lb) };
}

fn members(c: &mut Criterion) {
    let btf = Btf::from_sys_fs().unwrap();
    let id = btf.find_by_name_kind("task_struct", Kind::Struct).unwrap();
    c.bench_function("members/task_struct", |b| {
        b.iter(|| {
            let t = btf.type_by_id(id).unwrap();
            t.members()
                .map(|m| m.bit_offset as u64 + m.name().len() as u64)
                .sum::<u64>()
        })
    });
}

/// Resolves every CO-RE relocation of `obj` against `targets`, with a fresh candidate cache.
fn relocate_all(local: &Btf, ext: &BtfExt, targets: &TargetSet) -> usize {
    let mut r = Relocator::new(targets);
    let mut n = 0;
    for sec in &ext.core_relo {
        for (i, relo) in sec.records.iter().enumerate() {
            r.resolve(local, relo, i, "bench").unwrap();
            n += 1;
        }
    }
    n
}

fn core_relo(c: &mut Criterion) {
    let td = testdata().join("bpf/out/clang19");
    let mut g = c.benchmark_group("core_relo");
    let tracing = std::fs::read(td.join("core_tracing.bpf.o")).unwrap();
    let local = Btf::from_elf(&tracing).unwrap();
    let ext = BtfExt::from_elf(&tracing, &local).unwrap().unwrap();
    let kernel = TargetSet::kernel().unwrap();
    let n = relocate_all(&local, &ext, &kernel);
    println!(
        "core_relo: core_tracing has {n} relocations; vmlinux has {} types",
        kernel.primary().unwrap().type_count()
    );
    g.bench_function(format!("core_tracing_{n}_relos_vs_vmlinux"), |b| {
        b.iter(|| relocate_all(&local, &ext, &kernel))
    });
    let fam = std::fs::read(td.join("core_misc.bpf.o")).unwrap();
    let fam_target =
        Btf::from_elf(&std::fs::read(td.join("core_misc.target.bpf.o")).unwrap()).unwrap();
    let small_types = fam_target.type_count();
    let local2 = Btf::from_elf(&fam).unwrap();
    let ext2 = BtfExt::from_elf(&fam, &local2).unwrap().unwrap();
    let small = TargetSet::from_btfs(vec![Arc::new(fam_target)]);
    let m = relocate_all(&local2, &ext2, &small);
    g.bench_function(format!("core_misc_{m}_relos_vs_{small_types}_types"), |b| {
        b.iter(|| relocate_all(&local2, &ext2, &small))
    });
    g.finish();
}

criterion_group!(benches, vmlinux_ready, lookup, members, core_relo);
criterion_main!(benches);
