//! `corebpf relocate`: the cross-kernel table, single-target values against the CO-RE
//! family's expected results, `--dump --json`.

mod common;

use common::{corebpf, gunzip_btf, obj, testdata, TempDir};
use serde_json::Value;

/// The table's row for `sec` and `spec`: its cells, one per BTF.
fn row<'a>(out: &'a str, sec: &str, spec: &str) -> Vec<&'a str> {
    let line = out
        .lines()
        .find(|l| l.starts_with(sec) && l.ends_with(spec))
        .unwrap_or_else(|| panic!("no row {sec} .. {spec} in\n{out}"));
    // SEC RELO FUNCTION INSN <cells...> SPEC: the cells are the 3 columns after INSN.
    let before_spec = &line[..line.len() - spec.len()];
    let words: Vec<&str> = before_spec.split_whitespace().collect();
    words[words.len() - 3..].to_vec()
}

#[test]
fn table_across_kernels() {
    let dir = TempDir::new("relocate");
    let btfs: Vec<String> = ["5.10", "6.1", "6.12"]
        .iter()
        .map(|v| gunzip_btf(v, dir.path()))
        .collect();
    let mut args = vec!["relocate".to_string(), obj("core_tracing.bpf.o")];
    for b in &btfs {
        args.extend(["--btf".to_string(), b.clone()]);
    }
    let r = corebpf(&args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let header = r.stdout.lines().nth(1).unwrap();
    assert!(
        header.contains("5.10.btf") && header.contains("6.1.btf") && header.contains("6.12.btf"),
        "{header}"
    );
    // The `bpf_core_field_exists(t->__state)` check: 0 before 5.14, 1 after.
    let spec = "<field_exists> [24] struct task_struct.__state (0:1 @ offset 24)";
    assert_eq!(
        row(&r.stdout, "kprobe/dev_queue_xmit", spec),
        ["0", "1", "1"]
    );
    // The read guarded by it: poisoned where the field is missing, an offset elsewhere.
    let read = "<byte_off> [24] struct task_struct.__state (0:1 @ offset 24)";
    assert_eq!(
        row(&r.stdout, "kprobe/dev_queue_xmit", read),
        ["poison", "24", "24"]
    );
    // The `___pre514` flavor is the other way around.
    let old = "<byte_off> [333] struct task_struct___pre514.state (0:0 @ offset 0)";
    assert_eq!(
        row(&r.stdout, "kprobe/dev_queue_xmit", old),
        ["16", "poison", "poison"]
    );
    let pid = "<byte_off> [24] struct task_struct.pid (0:92 @ offset 1264)";
    assert_eq!(
        row(&r.stdout, "tp_btf/net_dev_queue", pid),
        ["2232", "2416", "2432"]
    );
    // A summary line per BTF; poisoning is not a failure.
    for v in ["5.10.btf", "6.1.btf", "6.12.btf"] {
        let s = format!("{v}: 40 relocations: 37 patched, 3 poisoned, 0 failed: relocates");
        assert!(r.stdout.contains(&s), "{s} in\n{}", r.stdout);
    }
}

#[test]
fn gzip_btf_accepted_and_json_agrees() {
    let gz = testdata().join("btf/5.10.btf.gz");
    let r = corebpf(&[
        "relocate",
        &obj("core_tracing.bpf.o"),
        "--btf",
        gz.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let t = &v["targets"][0];
    assert_eq!(t["ok"], true);
    assert_eq!(
        (t["patched"].as_u64(), t["poisoned"].as_u64()),
        (Some(37), Some(3))
    );
    let exists = t["relocations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "field_exists")
        .unwrap();
    assert_eq!(exists["new"], 0);
    assert_eq!(exists["orig"], 1);
    assert_eq!(exists["target_spec"], Value::Null);
}

/// Whether a relocation of `--json` output is the one an expected-file entry describes.
fn describes(e: &Value, r: &Value) -> bool {
    let spec = r["local_spec"].as_str().unwrap();
    let ty = e["type"].as_str().unwrap();
    if r["kind"] != e["kind"] {
        return false;
    }
    if let Some(en) = e["enumerator"].as_str() {
        return spec.contains(&format!("] {ty}::{en} ="));
    }
    let field = [
        "byte_off",
        "byte_sz",
        "field_exists",
        "signed",
        "lshift_u64",
        "rshift_u64",
    ];
    if field.contains(&e["kind"].as_str().unwrap()) {
        let access = e["access"].as_str().unwrap();
        let typed = [".", "[", " ("]
            .iter()
            .any(|c| spec.contains(&format!("] {ty}{c}")));
        return typed && spec.contains(&format!("({access} @"));
    }
    spec.ends_with(&format!("] {ty}"))
}

/// Every CO-RE family object against its `.target.bpf.o` (an ELF given as BTF): the values
/// match `testdata/bpf/expected/core_*.json`.
#[test]
fn families_match_expected_values() {
    let mut checked = 0;
    for entry in std::fs::read_dir(testdata().join("bpf/expected")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("core_") || !name.ends_with(".json") {
            continue;
        }
        let exp: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(target) = exp["target"].as_str() else {
            continue;
        };
        let object = obj(exp["object"].as_str().unwrap());
        let r = corebpf(&["relocate", &object, "--btf", &obj(target), "--json"]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let v = r.json();
        let relos = v["targets"][0]["relocations"].as_array().unwrap().clone();
        assert_eq!(
            relos.len() as u64,
            exp["count"]["clang19"].as_u64().unwrap(),
            "{name}"
        );
        for e in exp["relocations"].as_array().unwrap() {
            let want = &e["expected"];
            if !(want.is_u64() || want == "poison") {
                continue; // type ids: checked by the btf crate's tests
            }
            let matching: Vec<&Value> = relos.iter().filter(|r| describes(e, r)).collect();
            assert!(!matching.is_empty(), "{name}: nothing matches {e}");
            for m in matching {
                let got = if m["outcome"] == "poisoned" {
                    Value::from("poison")
                } else {
                    m["new"].clone()
                };
                assert_eq!(&got, want, "{name}: {e} vs {m}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 100, "only {checked} expected values checked");
}

#[test]
fn dump_json_hex_per_instruction() {
    let r = corebpf(&[
        "relocate",
        &obj("core_existence.bpf.o"),
        "--btf",
        &obj("core_existence.target.bpf.o"),
        "--dump",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let progs = v["targets"][0]["programs"].as_array().unwrap();
    assert_eq!(progs.len(), 1);
    let p = &progs[0];
    let hex = p["hex"].as_array().unwrap();
    assert_eq!(hex.len() as u64, p["insns"].as_u64().unwrap());
    assert!(hex.len() > 50);
    assert!(hex.iter().all(|h| {
        let h = h.as_str().unwrap();
        h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit())
    }));
    // The poisoned read is the invalid helper call 0xbad2310 (imm 195896080 = 0x0bad2310,
    // little-endian in the last 4 bytes).
    assert!(
        hex.iter()
            .any(|h| h.as_str().unwrap() == "850000001023ad0b"),
        "{hex:?}"
    );
    // The text dump shows it too.
    let r = corebpf(&[
        "relocate",
        &obj("core_existence.bpf.o"),
        "--btf",
        &obj("core_existence.target.bpf.o"),
        "--dump",
    ]);
    assert!(
        r.stdout.contains("prog 'core_existence' (sec 'syscall'):"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("=> no match: poisoned (warning:"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("exit"), "{}", r.stdout);
}

#[test]
fn running_kernel_by_default() {
    let r = corebpf(&["relocate", &obj("core_tracing.bpf.o")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r
        .stdout
        .starts_with("object core_tracing: target /sys/kernel/btf/vmlinux\n"));
    assert!(r
        .stdout
        .contains("prog 'trace_exec' (sec 'tracepoint/sched/sched_process_exec')"));
    assert!(
        r.stdout.contains("vmlinux: 40 relocations: "),
        "{}",
        r.stdout
    );
}

#[test]
fn verbose_shows_libbpf_log_lines() {
    let r = corebpf(&[
        "-v",
        "relocate",
        &obj("core_existence.bpf.o"),
        "--btf",
        &obj("core_existence.target.bpf.o"),
    ]);
    assert_eq!(r.code, 0);
    assert!(
        r.stderr
            .contains("sec 'syscall': found 10 CO-RE relocations"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("prog 'core_existence': relo #9: substituting insn #90 w/ invalid insn"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_input_fails() {
    let r = corebpf(&["relocate", "/nonexistent.bpf.o"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("corebpf: /nonexistent.bpf.o"),
        "{}",
        r.stderr
    );
    let r = corebpf(&[
        "relocate",
        &obj("core_tracing.bpf.o"),
        "--btf",
        "/nonexistent.btf",
    ]);
    assert_eq!(r.code, 1);
}
