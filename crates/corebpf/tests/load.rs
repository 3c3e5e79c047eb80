//! Loading the `testdata` objects into this kernel and running their programs with
//! `BPF_PROG_TEST_RUN`: every expectation of `testdata/bpf/expected/runs.json`, for objects
//! built by clang 14 and clang 19.

use std::path::PathBuf;

use corebpf::{ObjectBuilder, TestRun};

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn json() -> serde_json::Value {
    let text = std::fs::read_to_string(testdata().join("bpf/expected/runs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn le_u64(b: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
    u64::from_ne_bytes(buf)
}

#[test]
fn every_runnable_program_returns_what_runs_json_says() {
    let runs = json();
    let mut checked = 0;
    for clang in ["clang14", "clang19"] {
        for p in runs["programs"].as_array().unwrap() {
            let object = p["object"].as_str().unwrap();
            let program = p["program"].as_str().unwrap();
            if object == "obj_externs_kconfig.bpf.o" {
                continue; // machine-specific values: see kconfig_externs_match_this_kernel
            }
            let path = testdata().join("bpf/out").join(clang).join(object);
            // Each run with .rodata overrides needs a fresh object; the others share one.
            let mut obj = None;
            for run in p["runs"].as_array().unwrap() {
                let fresh = run.get("rodata").is_some();
                if fresh || obj.is_none() {
                    // Load the whole object (tail-call targets included) as bpftool's loadall
                    // does; objects with a program meant to fail load just this one.
                    let open_with = |only: bool| {
                        let mut open = ObjectBuilder::new().open_file(&path).unwrap();
                        if only {
                            open.load_only(&[program]).unwrap();
                        }
                        if let Some(ro) = run.get("rodata").and_then(|r| r.as_object()) {
                            for (k, v) in ro {
                                let v = v.as_u64().unwrap() as u32;
                                open.set_global(k, &v.to_ne_bytes()).unwrap();
                            }
                        }
                        open.load()
                    };
                    let loaded = open_with(false).or_else(|e| {
                        eprintln!("{clang}/{object}: whole object did not load ({e}); loading '{program}' alone");
                        open_with(true)
                    });
                    obj = Some(loaded.unwrap_or_else(|e| panic!("{clang}/{object}: {e}")));
                }
                let o = obj.as_ref().unwrap();
                let prog = o.program(program).unwrap();
                let data = run
                    .get("data_in")
                    .and_then(|d| d.as_str())
                    .map(hex)
                    .unwrap_or_default();
                let out = prog
                    .test_run(&TestRun {
                        data: &data,
                        ..Default::default()
                    })
                    .unwrap();
                assert_eq!(
                    out.retval as u64,
                    run["retval"].as_u64().unwrap(),
                    "{clang}/{object}/{program}: {}",
                    run.get("what").and_then(|w| w.as_str()).unwrap_or("")
                );
                if let Some(globals) = run.get("globals").and_then(|g| g.as_object()) {
                    for (name, want) in globals {
                        let got = le_u64(&o.read_global(name).unwrap());
                        assert_eq!(
                            got,
                            want.as_u64().unwrap(),
                            "{clang}/{object}: global {name}"
                        );
                    }
                }
                checked += 1;
                if fresh {
                    obj = None;
                }
            }
            if let (Some(maps), Some(o)) = (p.get("maps").and_then(|m| m.as_object()), obj.as_ref())
            {
                for (map, entries) in maps {
                    let m = o.map(map).unwrap_or_else(|| panic!("{object}: map {map}"));
                    for (k, want) in entries.as_object().unwrap() {
                        let key: u32 = k.parse().unwrap();
                        let v = m.lookup(&key.to_ne_bytes(), 0).unwrap().unwrap();
                        assert_eq!(
                            le_u64(&v),
                            want.as_u64().unwrap(),
                            "{clang}/{object}: {map}[{k}]"
                        );
                    }
                }
            }
        }
    }
    assert!(checked >= 30, "{checked} runs checked");
}

#[test]
fn kconfig_externs_match_this_kernel() {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let version = corebpf::obj::parse_kernel_release(release.trim()).unwrap() as u64;
    for clang in ["clang14", "clang19"] {
        let path = testdata()
            .join("bpf/out")
            .join(clang)
            .join("obj_externs_kconfig.bpf.o");
        let config = "CONFIG_BPF_SYSCALL=y\nCONFIG_HZ=300\nCONFIG_BPF_LSM=y\nCONFIG_NET_SCH_SFQ=m\nCONFIG_DEFAULT_HOSTNAME=\"corebpf\"\n";
        let obj = ObjectBuilder::new()
            .kconfig(config)
            .open_file(&path)
            .unwrap()
            .load()
            .unwrap();
        let prog = obj.program("kconfig_read").unwrap();
        assert_eq!(prog.test_run(&TestRun::default()).unwrap().retval, 0);
        let out = obj.read_global("out").unwrap();
        let word = |i: usize| le_u64(&out[i * 8..i * 8 + 8]);
        assert_eq!(word(0), version, "LINUX_KERNEL_VERSION");
        assert_eq!(word(1), 1, "CONFIG_BPF_SYSCALL=y");
        assert_eq!(word(2), 300, "CONFIG_HZ");
        assert_eq!(word(3), 1, "bool y");
        assert_eq!(word(4), 2, "tristate m");
        assert_eq!(word(5), 0, "weak missing");
        assert_eq!(&out[48..56], b"corebpf\0");
    }
}

#[test]
fn verifier_rejection_names_the_message_and_source_line() {
    let path = testdata().join("bpf/out/clang19/bad_verifier.bpf.o");
    let mut open = ObjectBuilder::new().open_file(&path).unwrap();
    open.load_only(&["bad_oob"]).unwrap();
    let err = open.load().unwrap_err();
    let v = err
        .verifier()
        .unwrap_or_else(|| panic!("not a verifier error: {err}"));
    assert!(
        v.message
            .contains("invalid access to map value, value_size=8 off=8 size=8"),
        "{}",
        v.message
    );
    let line = v.source_line.as_deref().unwrap_or("");
    assert!(
        line.contains("BAD_VERIFIER_OOB") && line.contains("bad_verifier.bpf.c:"),
        "{line}"
    );
    let text = err.to_string();
    assert!(
        text.contains("bad_oob") && text.contains("BAD_VERIFIER_OOB"),
        "{text}"
    );
}

#[test]
fn reachable_poisoned_core_relocation_is_explained() {
    let path = testdata().join("bpf/out/clang19/bad_core_poison.bpf.o");
    let mut open = ObjectBuilder::new().open_file(&path).unwrap();
    open.load_only(&["poisoned_reachable"]).unwrap();
    let err = open.load().unwrap_err();
    let v = err.verifier().unwrap_or_else(|| panic!("{err}"));
    assert!(v.log.contains("invalid func unknown#195896080"));
    let core = v
        .core
        .as_deref()
        .unwrap_or_else(|| panic!("no CO-RE explanation: {err}"));
    assert!(
        core.contains("<byte_off>") && core.contains("struct corebpf_nonexist.non_exist"),
        "{core}"
    );
    assert!(
        v.source_line
            .as_deref()
            .unwrap_or("")
            .contains("BAD_CORE_REACHABLE"),
        "{:?}",
        v.source_line
    );
}

/// An expected output: a number, or a type id named by `{"local_type"|"target_type": "struct x"}`
/// looked up in the object's or the target's BTF.
fn expected_value(v: &serde_json::Value, obj: &std::path::Path, target: &std::path::Path) -> u64 {
    use corebpf::btf::{Btf, Kind};
    if let Some(n) = v.as_i64() {
        return n as u64;
    }
    if let Some(n) = v.as_u64() {
        return n;
    }
    let (file, name) = match (v.get("local_type"), v.get("target_type")) {
        (Some(n), _) => (obj, n.as_str().unwrap()),
        (_, Some(n)) => (target, n.as_str().unwrap()),
        _ => panic!("unexpected expectation {v}"),
    };
    let btf = Btf::from_elf(&std::fs::read(file).unwrap()).unwrap();
    let (kind, name) = match name.split_once(' ') {
        Some(("struct", n)) => (Kind::Struct, n),
        Some(("union", n)) => (Kind::Union, n),
        Some(("typedef", n)) => (Kind::Typedef, n),
        Some(("enum", n)) => (Kind::Enum, n),
        _ => (Kind::Int, name),
    };
    btf.find_by_name_kind(name, kind)
        .unwrap_or_else(|| panic!("{name} in {}", file.display())) as u64
}

#[test]
fn core_families_run_with_target_btf_and_the_kernel_confirms_the_offsets() {
    let mut families = 0;
    for entry in std::fs::read_dir(testdata().join("bpf/expected")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with("core_") || !name.ends_with(".json") {
            continue;
        }
        let exp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(run) = exp.get("run") else { continue };
        for clang in ["clang14", "clang19"] {
            let min = exp["min_clang"].as_u64().unwrap_or(14);
            if clang == "clang14" && min > 14 {
                continue;
            }
            let out_dir = testdata().join("bpf/out").join(clang);
            let obj_path = out_dir.join(exp["object"].as_str().unwrap());
            let target = out_dir.join(exp["target"].as_str().unwrap());
            let obj = ObjectBuilder::new()
                .btf_file(&target)
                .open_file(&obj_path)
                .unwrap()
                .load()
                .unwrap_or_else(|e| panic!("{name} {clang}: {e}"));
            let prog = obj.program(exp["program"].as_str().unwrap()).unwrap();
            let mut ctx = hex(run["ctx_in"].as_str().unwrap());
            let size = run["ctx_size"].as_u64().unwrap_or(0) as usize;
            if ctx.len() < size {
                ctx.resize(size, 0);
            }
            let r = prog
                .test_run(&TestRun {
                    ctx: &ctx,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(
                r.retval as u64,
                run["retval"].as_u64().unwrap(),
                "{name} {clang}"
            );
            let out = obj.read_global("out").unwrap();
            for (i, o) in run["out"].as_array().unwrap().iter().enumerate() {
                let o = o.as_array().unwrap();
                if clang == "clang14" && o.get(2).and_then(|m| m.as_u64()).unwrap_or(14) > 14 {
                    continue;
                }
                let want = expected_value(&o[1], &obj_path, &target);
                let got = le_u64(&out[i * 8..i * 8 + 8]);
                assert_eq!(got, want, "{name} {clang}: out[{i}] ({})", o[0]);
            }
        }
        families += 1;
    }
    assert!(families >= 10, "{families} families ran");
}
