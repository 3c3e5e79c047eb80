//! Minimal BTF (`corebpf_btf::min`, `bpftool gen min_core_btf`'s job): for every testdata
//! object with CO-RE relocations and the BTF of 5.10, 6.1, 6.12, 7.2 and the running kernel,
//! relocating against the minimal BTF gives the same outcome for every relocation as against
//! the full BTF; likewise each CO-RE family against its `.target` object's BTF (flavors,
//! bitfields, enum64, type-based and type-match relocations with real matches). bpftool is
//! the oracle for sizes and for outcomes: relocating against its output gives the same as
//! against ours.

mod layout_util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use corebpf_btf::min::{min_core_btf, MinBtf, MinBtfError};
use corebpf_btf::relo::{Relocator, TargetSet};
use corebpf_btf::{Btf, BtfBuilder, BtfExt, CoreRelo, CoreReloKind, MemberSpec, INT_SIGNED};
use layout_util::{kernel_btf, testdata};

/// An object with CO-RE relocations: its path, BTF and `.BTF.ext`.
struct Obj {
    path: PathBuf,
    btf: Btf,
    ext: BtfExt,
}

impl Obj {
    fn read(path: &Path) -> Option<Obj> {
        let elf = std::fs::read(path).unwrap();
        let btf = Btf::from_elf(&elf).ok()?;
        let ext = BtfExt::from_elf(&elf, &btf).ok()??;
        if ext.core_relo.iter().all(|s| s.records.is_empty()) {
            return None;
        }
        Some(Obj {
            path: path.to_path_buf(),
            btf,
            ext,
        })
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

/// The clang-19 objects with CO-RE relocations (the `.target` objects are BTF only).
fn objects() -> Vec<Obj> {
    let dir = testdata().join("bpf/out/clang19");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".bpf.o") && !n.ends_with(".target.bpf.o")
        })
        .collect();
    paths.sort();
    paths.iter().filter_map(|p| Obj::read(p)).collect()
}

/// The kernels: testdata's and the running one, as (label, raw BTF).
fn kernels() -> Vec<(String, Vec<u8>)> {
    let mut k: Vec<(String, Vec<u8>)> = ["5.10", "6.1", "6.12", "7.2"]
        .iter()
        .map(|v| (v.to_string(), kernel_btf(v)))
        .collect();
    let running = std::fs::read("/sys/kernel/btf/vmlinux").expect("this kernel's BTF");
    k.push(("running".into(), running));
    k
}

/// Every relocation's outcome against `target`, with target type ids replaced by the
/// target type's kind and name (ids differ between full and minimal BTF).
fn outcomes(obj: &Obj, target: &Arc<Btf>) -> Vec<String> {
    let targets = TargetSet::from_btfs(vec![target.clone()]);
    let mut r = Relocator::new(&targets);
    let named = |id: u32| {
        target.type_by_id(id).map_or(format!("bad id {id}"), |t| {
            format!("{} {}", t.kind(), t.name())
        })
    };
    let mut out = Vec::new();
    for sec in &obj.ext.core_relo {
        for (i, relo) in sec.records.iter().enumerate() {
            out.push(match r.resolve(&obj.btf, relo, i, &sec.sec_name) {
                Ok(res) => {
                    let s = &res.res;
                    let new = if res.kind == CoreReloKind::TypeIdTarget && !s.poison {
                        named(s.new_val as u32)
                    } else {
                        s.new_val.to_string()
                    };
                    format!(
                        "{} #{i}: {:?} {} -> {new} poison={} validate={} memsz={} sz={}->{} root={:?}",
                        sec.sec_name,
                        res.kind,
                        s.orig_val,
                        s.poison,
                        s.validate,
                        s.fail_memsz_adjust,
                        s.orig_sz,
                        s.new_sz,
                        res.target_root.map(named)
                    )
                }
                Err(e) => format!("{} #{i}: error {e}", sec.sec_name),
            });
        }
    }
    out
}

fn min_for(full: &Btf, objs: &[&Obj]) -> Vec<u8> {
    let names: Vec<String> = objs.iter().map(|o| o.name()).collect();
    let list: Vec<(&str, &Btf, &BtfExt)> = objs
        .iter()
        .zip(&names)
        .map(|(o, n)| (n.as_str(), &o.btf, &o.ext))
        .collect();
    min_core_btf(full, &list).unwrap_or_else(|e| panic!("{e}"))
}

/// Checks `obj` relocates the same against `min` as against `full`; returns how many
/// relocations matched a type.
fn assert_same(label: &str, obj: &Obj, full: &Arc<Btf>, min: &Arc<Btf>) -> usize {
    let a = outcomes(obj, full);
    let b = outcomes(obj, min);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "{label}: {}", obj.name());
    }
    assert_eq!(a.len(), b.len());
    a.iter().filter(|l| !l.ends_with("root=None")).count()
}

#[test]
fn every_object_relocates_against_its_minimal_btf_as_against_each_kernel() {
    let objs = objects();
    assert!(objs.len() >= 20, "{} objects", objs.len());
    let mut matched_total = 0;
    for (label, raw) in kernels() {
        let full = Arc::new(Btf::from_vec(raw.clone()).unwrap());
        let (mut sum, mut largest) = (0, (0, String::new()));
        for obj in &objs {
            let min = min_for(&full, &[obj]);
            let min_btf = Arc::new(Btf::from_vec(min.clone()).unwrap());
            matched_total += assert_same(&label, obj, &full, &min_btf);
            sum += min.len();
            if min.len() > largest.0 {
                largest = (min.len(), obj.name());
            }
        }
        // One minimal BTF for all objects together.
        let all: Vec<&Obj> = objs.iter().collect();
        let min = min_for(&full, &all);
        let min_btf = Arc::new(Btf::from_vec(min.clone()).unwrap());
        for obj in &objs {
            assert_same(&label, obj, &full, &min_btf);
        }
        eprintln!(
            "{label}: full {} bytes; {} objects: {sum} bytes in all, largest {} ({} bytes); all in one: {} bytes, {} types",
            raw.len(),
            objs.len(),
            largest.1,
            largest.0,
            min.len(),
            min_btf.type_count() - 1
        );
    }
    assert!(
        matched_total >= 250,
        "only {matched_total} relocations matched"
    );
}

#[test]
fn each_core_family_relocates_against_the_minimal_btf_of_its_target() {
    let (mut families, mut matched) = (0, 0);
    for obj in objects() {
        let target = obj
            .path
            .to_string_lossy()
            .replace(".bpf.o", ".target.bpf.o");
        if !Path::new(&target).exists() {
            continue;
        }
        let full = Arc::new(Btf::from_elf(&std::fs::read(&target).unwrap()).unwrap());
        let min = min_for(&full, &[&obj]);
        let min_btf = Arc::new(Btf::from_vec(min.clone()).unwrap());
        matched += assert_same(&target, &obj, &full, &min_btf);
        families += 1;
        // bpftool reads the target object's .BTF too; it keeps only the first matching
        // candidate, which the loader's narrowing can turn into a different outcome.
        let out = std::env::temp_dir().join(format!("corebpf-minbtf-{}.btf", std::process::id()));
        let theirs = match bpftool_min(Path::new(&target), &out, &[&obj]) {
            Ok(b) => {
                let theirs = Arc::new(Btf::from_vec(b.clone()).unwrap());
                let (a, t) = (outcomes(&obj, &full), outcomes(&obj, &theirs));
                let differ: Vec<_> = a.iter().zip(&t).filter(|(x, y)| x != y).collect();
                format!(
                    "{} bytes, {} outcomes differ from the full BTF's {differ:?}",
                    b.len(),
                    differ.len()
                )
            }
            Err(e) => format!("refused: {}", e.trim()),
        };
        std::fs::remove_file(&out).ok();
        eprintln!(
            "{}: target BTF {} bytes, minimal {} bytes; bpftool's: {theirs}",
            obj.name(),
            full.raw_bytes().len(),
            min.len()
        );
    }
    assert!(families >= 15, "{families} families");
    assert!(matched >= 100, "{matched} matched");
}

/// `bpftool gen min_core_btf FULL OUT OBJ...`, or `None` with bpftool's complaint.
fn bpftool_min(full: &Path, out: &Path, objs: &[&Obj]) -> Result<Vec<u8>, String> {
    let r = Command::new("bpftool")
        .args(["gen", "min_core_btf"])
        .arg(full)
        .arg(out)
        .args(objs.iter().map(|o| &o.path))
        .output()
        .expect("bpftool is needed as the oracle (apt-get install bpftool)");
    if !r.status.success() {
        return Err(String::from_utf8_lossy(&r.stderr).into_owned());
    }
    Ok(std::fs::read(out).unwrap())
}

#[test]
fn bpftool_min_core_btf_gives_the_same_outcomes_in_the_same_size_range() {
    let dir = std::env::temp_dir().join(format!("corebpf-minbtf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let objs = objects();
    let mut compared = 0;
    for (label, raw) in kernels() {
        let full_path = dir.join(format!("{label}.btf"));
        std::fs::write(&full_path, &raw).unwrap();
        let full = Arc::new(Btf::from_vec(raw).unwrap());
        let (mut ours_sum, mut theirs_sum, mut refused) = (0, 0, Vec::new());
        for obj in &objs {
            let out = dir.join(format!("{label}-{}.btf", obj.name()));
            let theirs = match bpftool_min(&full_path, &out, &[obj]) {
                Ok(b) => b,
                Err(e) => {
                    refused.push(format!("{}: {}", obj.name(), e.trim()));
                    continue;
                }
            };
            let ours = min_for(&full, &[obj]);
            let theirs_btf = Arc::new(Btf::from_vec(theirs.clone()).unwrap());
            assert_eq!(
                outcomes(obj, &full),
                outcomes(obj, &theirs_btf),
                "{label}: {}: bpftool's",
                obj.name()
            );
            let ours_btf = Arc::new(Btf::from_vec(ours.clone()).unwrap());
            assert_eq!(
                outcomes(obj, &ours_btf),
                outcomes(obj, &theirs_btf),
                "{label}: {}",
                obj.name()
            );
            // Ours keeps every matching candidate, named pointees and only the touched
            // enumerators; bpftool the first candidate, void pointees and whole enums.
            assert!(
                ours.len() <= theirs.len() * 2 + 256 && theirs.len() <= ours.len() * 2 + 256,
                "{label}: {}: ours {} bytes, bpftool's {}",
                obj.name(),
                ours.len(),
                theirs.len()
            );
            ours_sum += ours.len();
            theirs_sum += theirs.len();
            compared += 1;
            eprintln!(
                "{label}: {}: ours {} bytes, bpftool's {}",
                obj.name(),
                ours.len(),
                theirs.len()
            );
        }
        eprintln!("{label}: ours {ours_sum} bytes in all, bpftool's {theirs_sum}; bpftool refused {refused:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(compared >= 60, "only {compared} comparisons");
}

/// Local BTF `struct s { int a; int b; }` with one relocation `kind` of `access`.
fn one_relo(access: &str, kind: CoreReloKind) -> (Btf, BtfExt) {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let s = b.add_struct(
        "s",
        8,
        &[MemberSpec::new("a", int, 0), MemberSpec::new("b", int, 4)],
    );
    let relo = CoreRelo {
        insn_off: 0,
        type_id: s,
        access_str_off: b.add_string(access),
        kind: kind as u32,
    };
    let btf = Btf::from_vec(b.build()).unwrap();
    let mut ext = BtfExt::default();
    ext.core_relo.push(corebpf_btf::ExtSection {
        sec_name: "kprobe/x".into(),
        records: vec![relo],
    });
    (btf, ext)
}

#[test]
fn members_off_the_path_are_dropped_and_pointees_become_empty_structs() {
    // Target: struct s { int a; struct t *p; int b; } (size 24), struct t { long x; }.
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let long = b.add_int("long", 8, INT_SIGNED);
    let t = b.add_struct("t", 8, &[MemberSpec::new("x", long, 0)]);
    let pt = b.add_ptr(t);
    b.add_struct(
        "s",
        24,
        &[
            MemberSpec::new("a", int, 0),
            MemberSpec::new("p", pt, 8),
            MemberSpec::new("b", int, 16),
        ],
    );
    let full = Btf::from_vec(b.build()).unwrap();
    let (local, ext) = one_relo("0:1", CoreReloKind::FieldByteOffset);
    let mut min = MinBtf::new(&full);
    min.add_object("x.bpf.o", &local, &ext).unwrap();
    let out = Btf::from_vec(min.build().unwrap()).unwrap();
    let s = out
        .type_by_id(out.find_by_name("s").next().unwrap())
        .unwrap();
    assert_eq!(s.size(), 24);
    let members: Vec<_> = s
        .members()
        .map(|m| (m.name().to_string(), m.bit_offset))
        .collect();
    assert_eq!(members, [("b".to_string(), 128)]);
    assert!(
        out.find_by_name("t").next().is_none(),
        "nothing needs struct t"
    );

    // Reading `a`... of a local struct whose member is a pointer: the pointee stays named.
    let mut b = BtfBuilder::new();
    let long = b.add_int("long", 8, INT_SIGNED);
    let t = b.add_struct("t", 8, &[MemberSpec::new("x", long, 0)]);
    let pt = b.add_ptr(t);
    let s = b.add_struct("s", 8, &[MemberSpec::new("p", pt, 0)]);
    let relo = CoreRelo {
        insn_off: 0,
        type_id: s,
        access_str_off: b.add_string("0:0"),
        kind: CoreReloKind::FieldByteOffset as u32,
    };
    let local = Btf::from_vec(b.build()).unwrap();
    let mut ext = BtfExt::default();
    ext.core_relo.push(corebpf_btf::ExtSection {
        sec_name: "kprobe/x".into(),
        records: vec![relo],
    });
    let min = Btf::from_vec(min_core_btf(&local, &[("x", &local, &ext)]).unwrap()).unwrap();
    let t = min
        .type_by_id(min.find_by_name("t").next().unwrap())
        .unwrap();
    assert_eq!(
        (t.size(), t.vlen()),
        (8, 0),
        "an empty struct t of t's size"
    );
}

#[test]
fn enum_value_relocations_keep_only_the_touched_enumerators() {
    let mut b = BtfBuilder::new();
    b.add_enum("e", 4, false, &[("A", 1), ("B", 2), ("C", 3)]);
    let full = Btf::from_vec(b.build()).unwrap();
    let mut b = BtfBuilder::new();
    let e = b.add_enum("e", 4, false, &[("C", 0)]);
    let relo = CoreRelo {
        insn_off: 0,
        type_id: e,
        access_str_off: b.add_string("0"),
        kind: CoreReloKind::EnumvalValue as u32,
    };
    let local = Btf::from_vec(b.build()).unwrap();
    let mut ext = BtfExt::default();
    ext.core_relo.push(corebpf_btf::ExtSection {
        sec_name: "kprobe/x".into(),
        records: vec![relo],
    });
    let min = Btf::from_vec(min_core_btf(&full, &[("x", &local, &ext)]).unwrap()).unwrap();
    let e = min.type_by_id(1).unwrap();
    let vals: Vec<_> = e
        .enumerators()
        .map(|v| (v.name().to_string(), v.value))
        .collect();
    assert_eq!(vals, [("C".to_string(), 3)]);
}

#[test]
fn malformed_relocations_and_target_btf_give_typed_errors() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    b.add_struct("s", 8, &[MemberSpec::new("b", int, 4)]);
    let full = Btf::from_vec(b.build()).unwrap();
    // A bad access string, an unknown kind, a root id out of range.
    let (local, mut ext) = one_relo("0:x", CoreReloKind::FieldByteOffset);
    let e = min_core_btf(&full, &[("bad.bpf.o", &local, &ext)]).unwrap_err();
    assert!(matches!(e, MinBtfError::Relocation { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("bad.bpf.o: prog 'kprobe/x': relo #0"),
        "{e}"
    );
    ext.core_relo[0].records[0].kind = 77;
    let e = min_core_btf(&full, &[("bad.bpf.o", &local, &ext)]).unwrap_err();
    assert!(
        e.to_string()
            .contains("unrecognized CO-RE relocation kind 77"),
        "{e}"
    );
    ext.core_relo[0].records[0].kind = CoreReloKind::TypeSize as u32;
    ext.core_relo[0].records[0].type_id = 999;
    assert!(min_core_btf(&full, &[("bad.bpf.o", &local, &ext)]).is_err());

    // A target whose matching struct's member points into a pointer cycle, type-based.
    let mut b = BtfBuilder::new();
    let p = b.add_raw(0, 2 << 24, 2, &[]); // PTR to itself
    b.add_struct("s", 8, &[MemberSpec::new("b", p, 0)]);
    let cyclic = Btf::from_vec(b.build()).unwrap();
    let (local, ext) = one_relo("0", CoreReloKind::TypeSize);
    let r = min_core_btf(&cyclic, &[("x", &local, &ext)]);
    assert!(r.is_ok() || r.is_err(), "no hang, no panic");
}

#[test]
fn every_matching_candidate_is_kept_so_narrowing_gives_the_same_outcomes() {
    // Target: two flavors; `x` is in both, `y` only in the second. The loader narrows
    // `struct s`'s candidates to those that matched its first relocation, so the second
    // flavor must keep `x` too, or `y` would no longer be found.
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    b.add_struct("s___a", 8, &[MemberSpec::new("x", int, 0)]);
    b.add_struct(
        "s___b",
        8,
        &[MemberSpec::new("x", int, 0), MemberSpec::new("y", int, 4)],
    );
    let full = Arc::new(Btf::from_vec(b.build()).unwrap());
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let s = b.add_struct(
        "s",
        8,
        &[MemberSpec::new("x", int, 0), MemberSpec::new("y", int, 4)],
    );
    let records = ["0:0", "0:1"]
        .iter()
        .map(|a| CoreRelo {
            insn_off: 0,
            type_id: s,
            access_str_off: b.add_string(a),
            kind: CoreReloKind::FieldByteOffset as u32,
        })
        .collect();
    let mut ext = BtfExt::default();
    ext.core_relo.push(corebpf_btf::ExtSection {
        sec_name: "kprobe/x".into(),
        records,
    });
    let obj = Obj {
        path: PathBuf::from("flavors.bpf.o"),
        btf: Btf::from_vec(b.build()).unwrap(),
        ext,
    };
    let min = Arc::new(Btf::from_vec(min_for(&full, &[&obj])).unwrap());
    assert_same("flavors", &obj, &full, &min);
    let b = min
        .type_by_id(min.find_by_name("s___b").next().unwrap())
        .unwrap();
    assert_eq!(b.vlen(), 2);
}
