//! Runs the `corebpf` binary's `inspect` on testdata objects and checks its output.

use std::path::PathBuf;
use std::process::Command;

fn obj(dir: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/bpf/out")
        .join(dir)
        .join(name)
}

fn inspect(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_corebpf"))
        .arg("inspect")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn inspect_obj_maps_text() {
    for clang in ["clang14", "clang19"] {
        let p = obj(clang, "obj_maps.bpf.o");
        let (ok, out, err) = inspect(&[p.to_str().unwrap()]);
        assert!(ok, "{err}");
        assert!(out.contains("object: obj_maps"));
        assert!(out.contains("license: GPL"));
        assert!(
            out.contains("obj_maps_touch sec 'xdp' type xdp insns 27 attach_type xdp"),
            "{out}"
        );
        assert!(out.contains("maps: 15"));
        assert!(
            out.contains(
                "m_pinned (btf) type hash key 4 value 4 max_entries 8 flags 0x0 pinning by_name"
            ),
            "{out}"
        );
        assert!(out.contains("m_bloom (btf) type bloom_filter key 0 value 8 max_entries 100"));
        assert!(out.contains("core relocations: 0"));
    }
}

#[test]
fn inspect_disasm_and_json() {
    let p = obj("clang19", "obj_subprogs.bpf.o");
    let (ok, out, err) = inspect(&[p.to_str().unwrap(), "--disasm"]);
    assert!(ok, "{err}");
    assert!(out.contains("call pc+4  ; level1"), "{out}");
    assert!(out.contains("r2 = subprog[pc+7] ll  ; loop_cb"), "{out}");
    assert!(out.contains("call bpf_loop#181"));
    assert!(out.contains("map 'vals'"));

    let (ok, out, err) = inspect(&[p.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["programs"].as_array().unwrap().len(), 3);
    assert_eq!(v["functions"].as_array().unwrap().len(), 9);
    assert_eq!(v["maps"][0]["name"], "vals");
    assert_eq!(v["programs"][0]["type"], "syscall");

    let p = obj("clang19", "core_flavors.bpf.o");
    let (ok, out, _) = inspect(&[p.to_str().unwrap(), "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["core_relocations"]["syscall"], 4);
}

#[test]
fn inspect_every_object() {
    for dir in ["clang14", "clang19", "malformed"] {
        for e in std::fs::read_dir(obj(dir, "")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "o") {
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let (ok, out, err) = inspect(&[p.to_str().unwrap(), "--disasm"]);
            let should_fail = dir == "malformed" && name != "call_mid_function.bpf.o"
                || name == "bad_map_no_type.bpf.o"
                || name.starts_with("bad_struct_ops_");
            assert_eq!(ok, !should_fail, "{dir}/{name}: {out}{err}");
            if should_fail {
                assert!(err.starts_with("corebpf: "), "{err}");
            } else {
                assert!(out.contains("programs: "));
            }
        }
    }
}

#[test]
fn inspect_shows_struct_ops_members() {
    let p = obj("clang19", "struct_ops_unused.bpf.o");
    let (ok, out, err) = inspect(&[p.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("    struct tcp_congestion_ops: init=cc_init ssthresh=cc_ssthresh"),
        "{out}"
    );
    assert!(
        out.contains("(not created by default): init=cc_optional_init"),
        "{out}"
    );
    let (ok, out, _) = inspect(&[p.to_str().unwrap(), "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let maps = v["maps"].as_array().unwrap();
    let main = maps.iter().find(|m| m["name"] == "cc_main").unwrap();
    assert_eq!(main["struct_ops"]["type"], "tcp_congestion_ops");
    assert_eq!(main["struct_ops"]["members"][0]["program"], "cc_init");
}
