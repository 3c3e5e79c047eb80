//! `corebpf btf min`: minimal BTF for the testdata objects, per kernel (5.10, 6.1, 6.12, 7.2
//! and this one) in batch mode and per CO-RE family's target in single mode. Each file
//! written passes the kernel's BTF validation (`BPF_BTF_LOAD` here); relocating every object
//! against it gives the same instructions as against the full BTF; and the loader takes it
//! as `ObjectBuilder::btf_file`, running the families' programs with the same results.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{corebpf, gunzip_btf, obj, testdata, TempDir};
use corebpf::btf::min::min_core_btf;
use corebpf::btf::relo::{Relocator, TargetSet};
use corebpf::btf::{Btf, CoreReloKind};
use corebpf::obj::core_relo::target_from_file;
use corebpf::obj::ObjectSpec;
use corebpf::{ObjectBuilder, TestRun};

/// The clang-19 objects with CO-RE relocations (not the families' `.target` objects).
fn objects() -> Vec<PathBuf> {
    let dir = testdata().join("bpf/out/clang19");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".bpf.o") && !n.ends_with(".target.bpf.o")
        })
        // Objects the parser refuses on purpose (bad_*) are left out.
        .filter(|p| {
            ObjectSpec::from_file(p).is_ok_and(|spec| {
                spec.btf_ext
                    .is_some_and(|e| e.core_relo.iter().any(|s| !s.records.is_empty()))
            })
        })
        .collect();
    paths.sort();
    paths
}

/// The kernel accepts `path` as BTF (`BPF_BTF_LOAD`), or the test fails with its log.
fn assert_kernel_loads(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let mut log = vec![0u8; 64 * 1024];
    if let Err(e) = corebpf::sys::btf_load(&bytes, Some(&mut log), 1) {
        panic!("{}: BPF_BTF_LOAD: {e}", path.display());
    }
}

/// `obj` relocated against `target`: each record's outcome (target type ids replaced by
/// the type's kind and name) and every function's instructions after CO-RE, with the
/// immediates that `type_id_target` relocations patched replaced by the type's name.
fn relocated(obj: &Path, target: &Path) -> (Vec<String>, Vec<String>) {
    let mut spec = ObjectSpec::from_file(obj).unwrap();
    let targets: TargetSet = target_from_file(target).unwrap();
    let btf: Arc<Btf> = targets.primary().unwrap().clone();
    let named = |id: u64| {
        btf.type_by_id(id as u32)
            .map_or(format!("bad id {id}"), |t| {
                format!("{} {}", t.kind(), t.name())
            })
    };
    let mut relocator = Relocator::new(&targets);
    let records = spec.relocate_core_all(&mut relocator, |_| true);
    let mut type_ids = Vec::new();
    let outcomes = records
        .iter()
        .map(|r| match &r.result {
            Ok(o) => {
                let mut new = o.new_val.to_string();
                if o.kind == CoreReloKind::TypeIdTarget && !o.poisoned {
                    new = named(o.new_val);
                    type_ids.push((o.function.clone(), o.insn_idx, new.clone()));
                }
                format!(
                    "{} #{} {} insn {}: {} {} -> {new} poisoned={}",
                    r.section,
                    r.relo_idx,
                    o.function,
                    o.insn_idx,
                    o.local_spec,
                    o.orig_val,
                    o.poisoned
                )
            }
            Err(e) => format!("{} #{}: error {e}", r.section, r.relo_idx),
        })
        .collect();
    let mut insns = Vec::new();
    for f in &spec.functions {
        for (i, insn) in f.insns.iter().enumerate() {
            let t = type_ids
                .iter()
                .find(|(func, idx, _)| *func == f.name && *idx == i);
            insns.push(match t {
                Some((_, _, name)) => format!("{} {i}: type id of {name}", f.name),
                None => format!("{} {i}: {insn:?}", f.name),
            });
        }
    }
    (outcomes, insns)
}

#[test]
fn batch_mode_writes_one_minimal_btf_per_kernel_that_loads_and_relocates_the_same() {
    let dir = TempDir::new("btfmin");
    let input = dir.path().join("in/debian");
    std::fs::create_dir_all(&input).unwrap();
    for v in ["5.10", "6.1", "6.12", "7.2"] {
        gunzip_btf(v, &input);
    }
    let host = dir.path().join("in/host.btf");
    std::fs::copy("/sys/kernel/btf/vmlinux", &host).unwrap();
    let objects = objects();
    assert!(objects.len() >= 20, "{} objects", objects.len());
    let out = dir.path().join("out");
    let mut args: Vec<String> = vec!["btf".into(), "min".into()];
    args.extend(objects.iter().map(|p| p.display().to_string()));
    args.extend([
        "--btf-dir".into(),
        dir.path().join("in").display().to_string(),
    ]);
    let mut gz_args = args.clone();
    args.extend(["-o".into(), out.display().to_string()]);
    let r = corebpf(&args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Not a terminal: a plain line per kernel, then the totals.
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", r.stdout);
    assert!(lines[0].starts_with("[1/5] ") && lines[4].starts_with("[5/5] "));
    assert!(
        lines[5].starts_with("5 kernel(s) written to "),
        "{}",
        lines[5]
    );
    eprintln!("{}", r.stdout);

    let kernels = [
        ("debian/5.10.btf", "debian/5.10.btf"),
        ("debian/6.1.btf", "debian/6.1.btf"),
        ("debian/6.12.btf", "debian/6.12.btf"),
        ("debian/7.2.btf", "debian/7.2.btf"),
        ("host.btf", "host.btf"),
    ];
    let mut same = 0;
    for (full, min) in kernels {
        let (full, min) = (dir.path().join("in").join(full), out.join(min));
        assert_kernel_loads(&min);
        let full_btf = Btf::from_file(&full).unwrap();
        for o in &objects {
            // Each object's own minimal BTF passes the kernel's validation too.
            let elf = std::fs::read(o).unwrap();
            let local = Btf::from_elf(&elf).unwrap();
            let ext = corebpf::btf::BtfExt::from_elf(&elf, &local)
                .unwrap()
                .unwrap();
            let one = min_core_btf(&full_btf, &[("o", &local, &ext)]).unwrap();
            let one_path = dir.path().join("one.btf");
            std::fs::write(&one_path, one).unwrap();
            assert_kernel_loads(&one_path);
            let (a, b) = (relocated(o, &full), relocated(o, &min));
            assert_eq!(a.0, b.0, "{} against {}", o.display(), min.display());
            assert_eq!(a.1, b.1, "{} against {}", o.display(), min.display());
            same += a.0.len();
        }
    }
    eprintln!("{same} relocations the same against the full and the minimal BTF");
    assert!(same >= 5 * 200, "{same}");

    // --gzip writes NAME.btf.gz, which every BTF reader here takes.
    gz_args.extend([
        "--gzip".into(),
        "-o".into(),
        dir.path().join("gz").display().to_string(),
    ]);
    let r = corebpf(&gz_args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let gz = dir.path().join("gz/debian/6.1.btf.gz");
    let dump = corebpf(&["btf", "dump", &gz.display().to_string(), "--summary"]);
    assert_eq!(dump.code, 0, "{}", dump.stderr);
}

/// For each CO-RE family: `corebpf btf min OBJ --btf TARGET -o MIN` (single mode); the
/// kernel loads MIN; relocating against it gives the target's instructions; and where the
/// family runs (`SEC("syscall")`), the loader with `btf_file(MIN)` runs it to the same
/// results as with `btf_file(TARGET)`.
#[test]
fn single_mode_per_core_family_and_the_loader_takes_the_result() {
    let dir = TempDir::new("btfmin-families");
    let (mut families, mut ran) = (0, 0);
    for o in objects() {
        let target = PathBuf::from(o.to_string_lossy().replace(".bpf.o", ".target.bpf.o"));
        if !target.exists() {
            continue;
        }
        let name = o.file_name().unwrap().to_string_lossy().into_owned();
        let min = dir.path().join(name.replace(".bpf.o", ".min.btf"));
        let r = corebpf(&[
            "btf",
            "min",
            &o.display().to_string(),
            "--btf",
            &target.display().to_string(),
            "-o",
            &min.display().to_string(),
        ]);
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(" bytes (full BTF "), "{}", r.stdout);
        assert_kernel_loads(&min);
        let full = relocated(&o, &target);
        assert_eq!(full, relocated(&o, &min), "{name}");
        families += 1;
        // A `type_id_target` result is the minimal BTF's id of the type, by design not the
        // full BTF's: such a family's outputs differ.
        let type_ids = full.1.iter().any(|i| i.contains(": type id of "));
        if let (Some(program), false) = (runnable(&name), type_ids) {
            assert_eq!(
                run(&o, &target, &program),
                run(&o, &min, &program),
                "{name}"
            );
            ran += 1;
        }
    }
    assert!(
        families >= 15 && ran >= 10,
        "{families} families, {ran} ran"
    );
}

/// The program of a family that runs (its expected results have a `run`).
fn runnable(object: &str) -> Option<String> {
    let exp = testdata()
        .join("bpf/expected")
        .join(object.replace(".bpf.o", ".json"));
    let exp: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(exp).ok()?).ok()?;
    exp.get("run")?;
    Some(exp["program"].as_str()?.to_string())
}

/// Loads `obj` with `btf_file(target)`, runs `program` once with a zeroed context, and
/// returns its return value and the `out` global.
fn run(obj: &Path, target: &Path, program: &str) -> (u32, Vec<u8>) {
    let loaded = ObjectBuilder::new()
        .btf_file(target)
        .open_file(obj)
        .unwrap()
        .load()
        .unwrap_or_else(|e| panic!("{} with {}: {e}", obj.display(), target.display()));
    let ctx = vec![0u8; 256];
    let r = loaded
        .program(program)
        .unwrap()
        .test_run(&TestRun {
            ctx: &ctx,
            ..Default::default()
        })
        .unwrap();
    (r.retval, loaded.read_global("out").unwrap())
}

#[test]
fn bad_input_is_reported() {
    let dir = TempDir::new("btfmin-bad");
    let out = dir.path().join("x.btf").display().to_string();
    // Not an object.
    let readme = testdata().join("README.md").display().to_string();
    let r = corebpf(&[
        "btf",
        "min",
        &readme,
        "--btf",
        "/sys/kernel/btf/vmlinux",
        "-o",
        &out,
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("README.md"), "{}", r.stderr);
    // Neither --btf nor --btf-dir; an empty directory.
    let tracing = obj("core_tracing.bpf.o");
    let r = corebpf(&["btf", "min", &tracing, "-o", &out]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let empty = dir.path().display().to_string();
    let r = corebpf(&["btf", "min", &tracing, "--btf-dir", &empty, "-o", &out]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // A kernel that is not BTF fails that kernel only.
    std::fs::write(dir.path().join("junk.btf"), b"not btf").unwrap();
    gunzip_btf("6.1", dir.path());
    let outdir = dir.path().join("out").display().to_string();
    let r = corebpf(&["btf", "min", &tracing, "--btf-dir", &empty, "-o", &outdir]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("junk.btf: FAILED: "), "{}", r.stdout);
    assert!(r.stdout.contains("1 kernel(s) written to "), "{}", r.stdout);
}
