//! `corebpf load`, `prog run` and `map show|dump|pin` against this kernel (needs root).

mod common;

use std::path::Path;

use common::{corebpf, fixture, obj, testdata, TempDir};
use serde_json::Value;

#[test]
fn load_reports_ids() {
    let r = corebpf(&["load", &obj("run_xdp_ethertype.bpf.o")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r
        .stdout
        .contains("object 'run_xdp_ethertype': 1 of 1 programs loaded"));
    let prog = r
        .stdout
        .lines()
        .find(|l| l.starts_with("prog xdp_ethertype: "))
        .unwrap();
    assert!(prog.contains("sec 'xdp' type xdp id "), "{prog}");
    assert!(prog.contains(" insns 29 loaded in "), "{prog}");
    let map = r
        .stdout
        .lines()
        .find(|l| l.starts_with("map counts: "))
        .unwrap();
    assert!(map.contains("type array id "), "{map}");

    let r = corebpf(&["load", &obj("run_xdp_ethertype.bpf.o"), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["ok"], true);
    let p = &v["programs"][0];
    assert_eq!(p["name"], "xdp_ethertype");
    assert_eq!(p["section"], "xdp");
    assert_eq!(p["type"], "xdp");
    assert_eq!(p["ok"], true);
    assert_eq!(p["error"], Value::Null);
    assert_eq!(p["insns"], 29);
    assert!(p["id"].as_u64().unwrap() > 0);
    assert!(p["load_time_us"].is_u64());
    assert_eq!(v["maps"][0]["name"], "counts");
    assert!(v["maps"][0]["id"].as_u64().unwrap() > 0);
}

/// `--threads 1` loads one program after another, `--threads 2` on two threads: the
/// same programs, in the same order, either way; `--threads 0` is a usage error.
#[test]
fn threads_change_how_not_what() {
    let programs = |threads: &str| {
        let r = corebpf(&[
            "load",
            &obj("many_progs.bpf.o"),
            "--json",
            "--threads",
            threads,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v = r.json();
        let progs = v["programs"].as_array().unwrap().clone();
        progs
            .iter()
            .map(|p| {
                assert_eq!(p["ok"], true, "{p}");
                (p["name"].to_string(), p["insns"].as_u64().unwrap())
            })
            .collect::<Vec<_>>()
    };
    let serial = programs("1");
    assert_eq!(serial.len(), 16);
    assert_eq!(serial[0].0, "\"many_0\"");
    assert_eq!(programs("2"), serial);
    let r = corebpf(&["load", &obj("many_progs.bpf.o"), "--threads", "0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn verifier_failure_has_message_and_source_line() {
    let r = corebpf(&["load", &obj("bad_verifier.bpf.o"), "--prog", "bad_oob"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("prog bad_oob: sec 'syscall' type syscall FAILED: "),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("invalid access to map value, value_size=8 off=8 size=8"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("source: bad_verifier.bpf.c:26:"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("BAD_VERIFIER_OOB"), "{}", r.stderr);

    let r = corebpf(&["load", &obj("bad_verifier.bpf.o"), "--json"]);
    assert_eq!(r.code, 1);
    let p = &r.json()["programs"][0];
    assert_eq!(p["ok"], false);
    let err = p["error"].as_str().unwrap();
    assert!(
        err.contains("BAD_VERIFIER_OOB") && !err.contains("verifier log"),
        "{err}"
    );
    assert!(p["verifier_log"].as_str().unwrap().contains("processed"));
}

/// Loading both programs fails; each is then loaded alone, so the good one is reported
/// loaded and the bad one with its own error.
#[test]
fn one_failing_program_does_not_hide_another() {
    let o = fixture("two_progs_one_bad.bpf.o");
    let r = corebpf(&["load", &o, "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let progs = v["programs"].as_array().unwrap();
    let good = progs.iter().find(|p| p["name"] == "good").unwrap();
    let bad = progs.iter().find(|p| p["name"] == "bad").unwrap();
    assert_eq!(good["ok"], true);
    assert_eq!(good["loaded_alone"], true);
    assert_eq!(bad["ok"], false);
    assert!(bad["error"].as_str().unwrap().contains("BAD_OOB"), "{bad}");
    // Only the good one: exit 0.
    let r = corebpf(&["load", &o, "--prog", "good"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("1 of 1 programs loaded"));
}

#[test]
fn usage_errors_exit_2() {
    let r = corebpf(&["load", &obj("bad_verifier.bpf.o"), "--prog", "nope"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no program named 'nope'") && r.stderr.contains("bad_oob"));
    let r = corebpf(&["load"]);
    assert_eq!(r.code, 2);
    let r = corebpf(&[
        "prog",
        "run",
        &obj("run_xdp_ethertype.bpf.o"),
        "xdp_ethertype",
        "--data-in",
        "xyz",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = corebpf(&["map", "show"]);
    assert_eq!(r.code, 2);
}

/// A frame of `testdata/bpf/expected/runs.json` for `xdp_ethertype`.
fn frame(what: &str) -> (String, u64) {
    let runs: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata().join("bpf/expected/runs.json")).unwrap(),
    )
    .unwrap();
    let p = runs["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["program"] == "xdp_ethertype")
        .unwrap();
    let run = p["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["what"].as_str().unwrap().starts_with(what))
        .unwrap();
    (
        run["data_in"].as_str().unwrap().to_string(),
        run["retval"].as_u64().unwrap(),
    )
}

#[test]
fn prog_run_xdp_ethertype() {
    let o = obj("run_xdp_ethertype.bpf.o");
    let (ipv4, want) = frame("IPv4");
    assert_eq!(want, 2);
    let r = corebpf(&["prog", "run", &o, "xdp_ethertype", "--data-in", &ipv4]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("retval: 2\nduration: "),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("data out"),
        "XDP_PASS leaves the frame: {}",
        r.stdout
    );

    let (arp, want) = frame("ARP");
    assert_eq!(want, 1);
    // From a file this time, run 10 times, as JSON.
    let dir = TempDir::new("prog-run");
    let f = dir.path().join("arp.bin");
    std::fs::write(&f, common_hex(&arp)).unwrap();
    let r = corebpf(&[
        "prog",
        "run",
        &o,
        "xdp_ethertype",
        "--data-in",
        f.to_str().unwrap(),
        "--repeat",
        "10",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["retval"], 1);
    assert_eq!(v["repeat"], 10);
    assert_eq!(v["data_out"], arp);
}

#[test]
fn prog_run_a_syscall_program_once() {
    // SEC("syscall") programs refuse a repeat count: the default single run must work.
    if !corebpf::sys::probe_prog_type(corebpf::sys::ProgType::Syscall) {
        let r = corebpf(&["prog", "run", &obj("run_map_in_map.bpf.o"), "map_in_map"]);
        assert_ne!(r.code, 0);
        assert!(r.stderr.contains("5.14"), "{}", r.stderr);
        return;
    }
    let r = corebpf(&["prog", "run", &obj("run_map_in_map.bpf.o"), "map_in_map"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("retval: 33\n"), "{}", r.stdout);
}

fn common_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn pin_then_map_show_dump_pin() {
    let bpffs = Path::new("/sys/fs/bpf");
    let dir = TempDir::under(bpffs, "pin");
    let pin = dir.path().join("obj");
    let r = corebpf(&[
        "load",
        &obj("run_xdp_ethertype.bpf.o"),
        "--pin",
        pin.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let id = v["maps"][0]["id"].as_u64().unwrap();
    assert!(pin.join("xdp_ethertype").exists());
    let map = pin.join("counts");
    assert_eq!(v["maps"][0]["pinned"], map.display().to_string());

    // The map outlives the command: show it by path and by id.
    let r = corebpf(&["map", "show", "--pinned", map.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        format!("{id}: array  name counts  flags 0x0\n\tkey 4B  value 8B  max_entries 3\n")
    );
    let r = corebpf(&["map", "show", "--id", &id.to_string(), "--json"]);
    let v = r.json();
    assert_eq!(
        (v["name"].as_str(), v["type"].as_str()),
        (Some("counts"), Some("array"))
    );
    assert_eq!(
        (v["key_size"].as_u64(), v["value_size"].as_u64()),
        (Some(4), Some(8))
    );
    assert_eq!(v["max_entries"], 3);

    let r = corebpf(&["map", "dump", "--pinned", map.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "key: 00 00 00 00  value: 00 00 00 00 00 00 00 00\n\
         key: 01 00 00 00  value: 00 00 00 00 00 00 00 00\n\
         key: 02 00 00 00  value: 00 00 00 00 00 00 00 00\n\
         Found 3 elements\n"
    );
    let r = corebpf(&["map", "dump", "--id", &id.to_string(), "--json"]);
    let v = r.json();
    assert_eq!(v[2]["key"], "02000000");
    assert_eq!(v[2]["value"], "0000000000000000");

    let again = dir.path().join("again");
    let r = corebpf(&[
        "map",
        "pin",
        "--id",
        &id.to_string(),
        again.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = corebpf(&["map", "show", "--pinned", again.to_str().unwrap(), "--json"]);
    assert_eq!(r.json()["id"], id);

    let r = corebpf(&[
        "map",
        "show",
        "--pinned",
        dir.path().join("nope").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1);
}
