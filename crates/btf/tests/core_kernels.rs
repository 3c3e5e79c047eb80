//! The realistic tracing object (`testdata/bpf/core/core_tracing.bpf.c`: task_struct,
//! pt_regs, sk_buff fields) relocated against the BTF of Debian's 5.10, 6.1, 6.12 and 7.2
//! kernels (7.2 also re-emitted with a layout section, as pahole 1.31+ writes it) and of the
//! running kernel. Every field offset corebpf computes is checked against an independent
//! walk of `bpftool btf dump` of the same BTF (libbpf's decoder). And every CO-RE
//! relocation of the test corpus resolves against 7.2 the same with and without the layout.

mod layout_util;

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use corebpf_btf::relo::{Relocator, TargetSet};
use corebpf_btf::{Btf, BtfExt, CoreReloKind};

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

/// One type of bpftool's plain dump: kind, size, referenced type, members, array info.
#[derive(Default, Debug)]
struct Dumped {
    kind: String,
    size: u64,
    type_id: u32,
    nelems: u64,
    /// (name, type id, bit offset)
    members: Vec<(String, u32, u64)>,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!(" {key}=");
    let start = line.find(&pat)? + pat.len();
    line[start..]
        .split_whitespace()
        .next()
        .map(|v| v.trim_end_matches(','))
}

fn bpftool_types(path: &std::path::Path) -> HashMap<u32, Dumped> {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(path)
        .output()
        .expect("bpftool is needed as the oracle (apt-get install bpftool)");
    assert!(out.status.success());
    let mut types = HashMap::new();
    let mut cur: Option<u32> = None;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        if let Some(rest) = line.strip_prefix('[') {
            let (id, rest) = rest.split_once("] ").unwrap();
            let id: u32 = id.parse().unwrap();
            let kind = rest.split(' ').next().unwrap().to_string();
            let d = Dumped {
                kind,
                size: field(line, "size").map_or(0, |v| v.parse().unwrap()),
                type_id: field(line, "type_id").map_or(0, |v| v.parse().unwrap()),
                nelems: field(line, "nr_elems").map_or(0, |v| v.parse().unwrap()),
                members: Vec::new(),
            };
            types.insert(id, d);
            cur = Some(id);
        } else if line.starts_with('\t') && line.contains("bits_offset=") {
            let name = line.split('\'').nth(1).unwrap().to_string();
            let t = field(line, "type_id").unwrap().parse().unwrap();
            let off = field(line, "bits_offset").unwrap().parse().unwrap();
            types
                .get_mut(&cur.unwrap())
                .unwrap()
                .members
                .push((name, t, off));
        }
    }
    types
}

fn skip(types: &HashMap<u32, Dumped>, mut id: u32) -> u32 {
    while matches!(
        types[&id].kind.as_str(),
        "TYPEDEF" | "CONST" | "VOLATILE" | "RESTRICT" | "TYPE_TAG"
    ) {
        id = types[&id].type_id;
    }
    id
}

fn size(types: &HashMap<u32, Dumped>, id: u32) -> u64 {
    let id = skip(types, id);
    let t = &types[&id];
    match t.kind.as_str() {
        "PTR" => 8,
        "ARRAY" => t.nelems * size(types, t.type_id),
        _ => t.size,
    }
}

/// Bit offset of the access path `raw` from root type `root`, walking bpftool's dump.
fn oracle_bit_offset(types: &HashMap<u32, Dumped>, root: u32, raw: &[u32]) -> u64 {
    let mut id = skip(types, root);
    let mut bits = raw[0] as u64 * size(types, id) * 8;
    for &idx in &raw[1..] {
        let t = &types[&id];
        if t.kind == "ARRAY" {
            let elem = skip(types, t.type_id);
            bits += idx as u64 * size(types, elem) * 8;
            id = elem;
        } else {
            let (_, mt, off) = &t.members[idx as usize];
            bits += off;
            id = skip(types, *mt);
        }
    }
    bits
}

fn gunzip(path: PathBuf) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

/// Relocates core_tracing against `raw` BTF (written to `file` for bpftool) and checks every
/// field offset. Returns (relocations, checked offsets, poisoned, existence results).
fn check_kernel(label: &str, raw: &[u8]) -> (usize, usize, usize, Vec<(String, u64)>) {
    let dir = std::env::temp_dir().join(format!("corebpf-core-{}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vmlinux.btf");
    std::fs::write(&file, raw).unwrap();
    let types = bpftool_types(&file);
    let target = Arc::new(Btf::parse(raw).unwrap().with_name("vmlinux"));
    let targets = TargetSet::from_btfs(vec![target.clone()]);
    let obj = std::fs::read(testdata().join("bpf/out/clang19/core_tracing.bpf.o")).unwrap();
    let local = Btf::from_elf(&obj).unwrap();
    let ext = BtfExt::from_elf(&obj, &local).unwrap().unwrap();
    let mut r = Relocator::new(&targets).record_log();
    let (mut n, mut checked, mut poisoned) = (0, 0, 0);
    let mut exists = Vec::new();
    for sec in &ext.core_relo {
        for (i, relo) in sec.records.iter().enumerate() {
            let res = r
                .resolve(&local, relo, i, &sec.sec_name)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            n += 1;
            if res.res.poison {
                poisoned += 1;
                continue;
            }
            match res.kind {
                CoreReloKind::FieldByteOffset => {
                    let root = res.target_root.unwrap();
                    let bits = oracle_bit_offset(&types, root, &res.target_raw);
                    assert_eq!(
                        res.res.new_val,
                        bits / 8,
                        "{label}: {} -> {:?}",
                        res.local_spec,
                        res.target_spec
                    );
                    checked += 1;
                }
                CoreReloKind::FieldExists => exists.push((res.local_spec.clone(), res.res.new_val)),
                _ => {}
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    (n, checked, poisoned, exists)
}

#[test]
fn tracing_object_relocates_on_5_10_6_1_6_12_7_2_and_this_kernel() {
    let mut results = Vec::new();
    for v in ["5.10", "6.1", "6.12", "7.2"] {
        let raw = gunzip(testdata().join(format!("btf/{v}.btf.gz")));
        results.push((v.to_string(), check_kernel(v, &raw)));
    }
    let raw = layout_util::linux_7_2_with_layout();
    results.push(("7.2+layout".into(), check_kernel("7.2-layout", &raw)));
    let running = std::fs::read("/sys/kernel/btf/vmlinux").expect("this kernel's BTF");
    results.push(("running".into(), check_kernel("running", &running)));
    for (v, (n, checked, poisoned, exists)) in &results {
        eprintln!("{v}: {n} relocations, {checked} offsets checked against bpftool, {poisoned} poisoned, exists {exists:?}");
        assert!(*checked >= 20, "{v}: too few offsets checked ({checked})");
        // task_struct::__state replaced ::state in 5.14: exactly one of the two branches
        // of the program's flavor check survives on each kernel.
        let state_exists = exists
            .iter()
            .find(|(spec, _)| spec.contains("task_struct.__state"))
            .map(|(_, v)| *v)
            .expect("the __state existence check");
        assert_eq!(state_exists, (v != "5.10") as u64, "{v}: __state exists?");
        assert!(
            *poisoned >= 1,
            "{v}: the dead branch's relocation is poisoned"
        );
    }
}

/// Every CO-RE relocation of `obj` resolved against `target`: per record, the patched
/// value, poisoning and matched root, or the error.
fn relocate_all(obj: &[u8], target: &Arc<Btf>) -> Vec<String> {
    let targets = TargetSet::from_btfs(vec![target.clone()]);
    let local = Btf::from_elf(obj).unwrap();
    let Some(ext) = BtfExt::from_elf(obj, &local).unwrap() else {
        return Vec::new();
    };
    let mut r = Relocator::new(&targets);
    let mut out = Vec::new();
    for sec in &ext.core_relo {
        for (i, relo) in sec.records.iter().enumerate() {
            out.push(match r.resolve(&local, relo, i, &sec.sec_name) {
                Ok(res) => format!(
                    "{} #{i}: {:?} {} poison={} root={:?}",
                    sec.sec_name, res.kind, res.res.new_val, res.res.poison, res.target_root
                ),
                Err(e) => format!("{} #{i}: error {e}", sec.sec_name),
            });
        }
    }
    out
}

#[test]
fn the_core_corpus_relocates_against_7_2_with_and_without_a_layout_section() {
    let plain = Arc::new(Btf::from_vec(layout_util::kernel_btf("7.2")).unwrap());
    let layout = Arc::new(Btf::from_vec(layout_util::linux_7_2_with_layout()).unwrap());
    let (mut objects, mut relocations, mut matched, mut errors) = (0, 0, 0, 0);
    for compiler in ["clang14", "clang19"] {
        let dir = testdata().join("bpf/out").join(compiler);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".bpf.o"))
            .collect();
        paths.sort();
        for path in paths {
            let obj = std::fs::read(&path).unwrap();
            let a = relocate_all(&obj, &plain);
            if a.is_empty() {
                continue;
            }
            assert_eq!(a, relocate_all(&obj, &layout), "{}", path.display());
            objects += 1;
            relocations += a.len();
            matched += a.iter().filter(|l| l.contains("root=Some")).count();
            errors += a.iter().filter(|l| l.contains(": error ")).count();
        }
    }
    eprintln!("7.2: {relocations} relocations of {objects} objects, {matched} matched a kernel type, {errors} failed; the same with the layout section");
    assert!(
        objects >= 20 && matched >= 90,
        "{objects} objects, {matched} matched"
    );
    assert_eq!(errors, 0);
}
