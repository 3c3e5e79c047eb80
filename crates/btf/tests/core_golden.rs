//! CO-RE relocation of the `testdata` CO-RE families, compared line by line with the debug
//! log libbpf 1.1 printed for the same objects (`testdata/bpf/expected/*.libbpf.log`): the
//! same candidates, specs, matches, patched values and poisonings, in the same order.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use corebpf_abi::Insn;
use corebpf_btf::relo::{patch_insn, Relocator, TargetSet};
use corebpf_btf::{Btf, BtfExt};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

/// The functions of one ELF section: (start byte offset, name, instructions).
fn functions(file: &object::File<'_>, sec_name: &str) -> Vec<(u64, String, Vec<Insn>)> {
    let sec = file
        .section_by_name(sec_name)
        .expect("relocated section exists");
    let data = sec.data().unwrap();
    let mut syms: Vec<(u64, u64, String)> = file
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.section_index() == Some(sec.index()))
        .map(|s| (s.address(), s.size(), s.name().unwrap().to_string()))
        .collect();
    syms.sort();
    syms.into_iter()
        .map(|(addr, size, name)| {
            let bytes = &data[addr as usize..(addr + size) as usize];
            let insns = bytes
                .chunks_exact(8)
                .map(|c| Insn::from_bytes(c.try_into().unwrap()))
                .collect();
            (addr, name, insns)
        })
        .collect()
}

/// Runs our relocator over `obj` against `target`, the way libbpf walks records, and
/// returns the log lines.
fn relocate(obj: &[u8], target: Btf) -> Vec<String> {
    let file = object::File::parse(obj).unwrap();
    let local = Btf::from_elf(obj).unwrap();
    let ext = BtfExt::from_elf(obj, &local).unwrap().unwrap();
    let targets = TargetSet::from_btfs(vec![Arc::new(target.with_name("vmlinux"))]);
    let mut r = Relocator::new(&targets).record_log();
    let mut lines = Vec::new();
    for sec in &ext.core_relo {
        r.log(format!(
            "sec '{}': found {} CO-RE relocations",
            sec.sec_name,
            sec.records.len()
        ));
        let mut funcs = functions(&file, &sec.sec_name);
        let mut patched: HashMap<String, Vec<Insn>> = HashMap::new();
        for (i, relo) in sec.records.iter().enumerate() {
            let (start, name, insns) = funcs
                .iter_mut()
                .rev()
                .find(|(start, ..)| *start <= relo.insn_off as u64)
                .expect("relocation inside a function");
            let resolved = r
                .resolve(&local, relo, i, name)
                .expect("relocation resolves");
            let insns = patched.entry(name.clone()).or_insert_with(|| insns.clone());
            let idx = ((relo.insn_off as u64 - *start) / 8) as usize;
            lines.extend(r.take_log());
            let mut log = |l: String| lines.push(l);
            patch_insn(insns, idx, name, i, &resolved.res, &mut log).expect("patch applies");
        }
        lines.extend(r.take_log());
    }
    lines
}

fn golden(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.strip_prefix("libbpf: ").unwrap_or(l).to_string())
        .collect()
}

const FAMILIES: &[&str] = &[
    "arrays",
    "bitfields",
    "enum64",
    "enumval",
    "existence",
    "flavors",
    "ints",
    "misc",
    "modifiers",
    "nesting",
    "primitives",
    "ptr_as_array",
    "size",
    "type_based",
    "type_id",
];

#[test]
fn every_family_relocates_exactly_as_libbpf_logs_it() {
    let td = testdata();
    let mut compared = 0;
    for family in FAMILIES {
        for (clang, log_suffix) in [("clang19", "libbpf.log"), ("clang14", "clang14.libbpf.log")] {
            let out = td.join("bpf/out").join(clang);
            let obj = std::fs::read(out.join(format!("core_{family}.bpf.o"))).unwrap();
            let target_elf =
                std::fs::read(out.join(format!("core_{family}.target.bpf.o"))).unwrap();
            let target = Btf::from_elf(&target_elf).unwrap();
            let ours = relocate(&obj, target);
            let theirs = golden(&td.join(format!("bpf/expected/core_{family}.{log_suffix}")));
            for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
                assert_eq!(o, t, "{family} ({clang}) line {i}");
            }
            assert_eq!(
                ours.len(),
                theirs.len(),
                "{family} ({clang}): line count\nours:\n{}",
                ours.join("\n")
            );
            compared += theirs.len();
        }
    }
    assert!(compared > 500, "only {compared} lines compared");
}
