//! `corebpf gen skeleton`: the same text as the generator's golden file, and clear errors.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corebpf(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_corebpf"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

#[test]
fn gen_skeleton_prints_the_golden_skeleton() {
    let out = corebpf(&[
        "gen",
        "skeleton",
        "testdata/bpf/out/clang19/gen_types.bpf.o",
        "--type",
        "ring_event",
        "--embed",
        "../bpf/out/clang19/gen_types.bpf.o",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = std::fs::read_to_string(root().join("testdata/gen/gen_types.rs")).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout) == golden);
}

#[test]
fn gen_skeleton_writes_a_file_embedding_the_absolute_object_path() {
    let dir = std::env::temp_dir().join(format!("corebpf-gen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("g.rs");
    let obj = "testdata/bpf/out/clang19/obj_globals.bpf.o";
    let out = corebpf(&[
        "gen",
        "skeleton",
        obj,
        "--name",
        "globals",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let abs = root().join(obj).canonicalize().unwrap();
    assert!(text.contains(&format!("include_bytes!({:?})", abs.display().to_string())));
    assert!(text.contains("pub mod globals {") && text.contains("pub struct GlobalsSkel {"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gen_skeleton_names_a_missing_type() {
    let out = corebpf(&[
        "gen",
        "skeleton",
        "testdata/bpf/out/clang19/obj_globals.bpf.o",
        "--type",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "corebpf: testdata/bpf/out/clang19/obj_globals.bpf.o: type 'nope' is not in the \
             object's BTF (a struct, union, enum or typedef of that name;"
        ) && err.contains("`struct nope *unused_nope __attribute__((unused));`"),
        "{err}"
    );
}
