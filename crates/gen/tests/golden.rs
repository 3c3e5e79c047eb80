//! Golden files: the generator's output for a few testdata objects, compared byte for byte
//! with `testdata/gen/<object>.rs` (`COREBPF_BLESS=1 cargo test -p corebpf-gen --test golden`
//! rewrites them), checked to be rustfmt's formatting; and the errors for what Rust cannot
//! express, on hand-built BTF.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use corebpf_btf::{Btf, BtfBuilder, MemberSpec};
use corebpf_gen::{generate, GenError, Options};
use corebpf_obj::ObjectSpec;

/// The golden objects and the types each names explicitly.
const GOLDEN: &[(&str, &[&str])] = &[
    ("gen_types", &["ring_event"]),
    ("obj_globals", &[]),
    ("obj_maps", &[]),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn options(obj: &str, types: &[&str]) -> Options {
    Options {
        name: None,
        object_path: format!("../bpf/out/clang19/{obj}.bpf.o"),
        types: types.iter().map(|t| t.to_string()).collect(),
    }
}

fn golden_path(obj: &str) -> PathBuf {
    root().join(format!("testdata/gen/{obj}.rs"))
}

#[test]
fn output_matches_golden_files() {
    let bless = std::env::var_os("COREBPF_BLESS").is_some_and(|v| v == "1");
    for (obj, types) in GOLDEN {
        let path = root().join(format!("testdata/bpf/out/clang19/{obj}.bpf.o"));
        let spec = corebpf_obj::Object::from_file(&path).unwrap();
        let text = generate(&spec, &options(obj, types)).unwrap();
        assert_eq!(
            text,
            generate(&spec, &options(obj, types)).unwrap(),
            "deterministic"
        );
        let golden = golden_path(obj);
        if bless {
            std::fs::write(&golden, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        assert!(
            text == want,
            "{obj}: output differs from {} (COREBPF_BLESS=1 rewrites it)",
            golden.display()
        );
    }
}

#[test]
fn golden_files_are_rustfmt_formatted() {
    let Ok(out) = std::process::Command::new("rustfmt")
        .arg("--version")
        .output()
    else {
        return corebpf_testutil::skip("rustfmt not installed");
    };
    assert!(out.status.success());
    for (obj, _) in GOLDEN {
        let out = std::process::Command::new("rustfmt")
            .args(["--edition", "2021", "--check"])
            .arg(golden_path(obj))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{obj}: rustfmt would change it:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// An object whose only map has `value_type` as its value (BTF ids: 1 int, then `extra`
/// types from 2 on).
fn spec_with_value(build: impl FnOnce(&mut BtfBuilder) -> u32) -> ObjectSpec {
    let path = root().join("testdata/bpf/out/clang19/obj_globals.bpf.o");
    let mut spec = corebpf_obj::Object::from_file(path).unwrap();
    let mut b = BtfBuilder::new();
    let value = build(&mut b);
    let btf = Btf::from_vec(b.build()).unwrap();
    spec.maps.retain(|m| !m.is_internal());
    let mut map =
        corebpf_obj::Object::from_file(root().join("testdata/bpf/out/clang19/gen_types.bpf.o"))
            .unwrap()
            .maps
            .into_iter()
            .find(|m| m.name == "by_pid")
            .unwrap();
    map.btf_key_type_id = None;
    map.btf_value_type_id = Some(value);
    spec.maps = vec![map];
    spec.btf = Some(Arc::new(btf));
    spec
}

fn gen_error(spec: &ObjectSpec) -> String {
    let err: GenError = generate(spec, &options("x", &[])).unwrap_err();
    err.to_string()
}

#[test]
fn a_forward_declared_value_is_refused_naming_it() {
    let spec = spec_with_value(|b| b.add_fwd("opaque", false));
    assert_eq!(
        gen_error(&spec),
        "map 'by_pid' value: [1] fwd opaque cannot be expressed in Rust: it is only declared \
         (a forward declaration has no layout)"
    );
}

#[test]
fn a_long_double_is_refused_naming_it() {
    let spec = spec_with_value(|b| {
        let f = b.add_float("long double", 16);
        b.add_struct("s", 16, &[MemberSpec::new("x", f, 0)])
    });
    assert_eq!(
        gen_error(&spec),
        "s.x: [1] float long double cannot be expressed in Rust: a 16-byte float"
    );
}

#[test]
fn an_unknown_type_name_is_refused() {
    let spec =
        corebpf_obj::Object::from_file(root().join("testdata/bpf/out/clang19/obj_globals.bpf.o"))
            .unwrap();
    let err = generate(&spec, &options("obj_globals", &["no_such_type"])).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("type 'no_such_type' is not in the object's BTF")
            && text.contains("struct no_such_type *unused_no_such_type"),
        "{text}"
    );
}
