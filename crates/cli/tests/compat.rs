//! `corebpf compat`: the table across kernels, the verdicts and their reasons, `--json`, the
//! exit code.

mod common;

use common::{corebpf, obj, testdata};

fn btf(v: &str) -> String {
    testdata()
        .join(format!("btf/{v}.btf.gz"))
        .display()
        .to_string()
}

fn args(objects: &[&str], kernels: &[&str], json: bool) -> Vec<String> {
    let mut a = vec!["compat".to_string()];
    a.extend(objects.iter().map(|o| obj(o)));
    for k in kernels {
        a.extend(["--btf".to_string(), btf(k)]);
    }
    if json {
        a.push("--json".into());
    }
    a
}

#[test]
fn table_and_verdicts_across_kernels() {
    let r = corebpf(&args(
        &["obj_sec_names_17.bpf.o"],
        &["6.1", "6.12", "7.2"],
        false,
    ));
    assert_eq!(
        r.code, 1,
        "some program fails somewhere: {}{}",
        r.stdout, r.stderr
    );
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with("attach_type") && l.contains("BPF_TRACE_FSESSION"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let cells: Vec<&str> = row.split_whitespace().rev().take(3).collect();
    assert_eq!(cells, ["yes", "NO", "NO"], "{row}");
    assert!(
        r.stdout
            .contains("6.12: loads with 4 of 14 programs failing: p_uprobe_session, p_uprobe_session_s, p_fsession, p_fsession_s"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("(added in Linux 7.0)"), "{}", r.stdout);
    assert!(r.stdout.contains("7.2: loads\n"), "{}", r.stdout);
}

#[test]
fn json_for_ci() {
    let r = corebpf(&args(
        &["struct_ops_cc.bpf.o", "arena_list.bpf.o"],
        &["6.1", "6.12"],
        true,
    ));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["ok"], false);
    let objects = v["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2);
    for k in objects[0]["kernels"].as_array().unwrap() {
        assert_eq!(k["verdict"], "loads", "{k}");
    }
    let arena_61 = &objects[1]["kernels"][0];
    assert_eq!(arena_61["kernel"], "6.1");
    assert_eq!(arena_61["verdict"], "does_not_load");
    let need = arena_61["needs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "BPF_MAP_TYPE_ARENA")
        .unwrap();
    assert_eq!(need["status"], "no");
    assert_eq!(need["effect"], "object");
    assert_eq!(objects[1]["kernels"][1]["verdict"], "loads");
}

#[test]
fn exit_code_0_when_everything_loads() {
    let r = corebpf(&args(&["struct_ops_cc.bpf.o"], &["6.1", "7.2"], false));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}
