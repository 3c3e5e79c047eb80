//! `BpfBuild::link`: the two C files of `testdata/bpf/link/` compiled and linked into one
//! object (and its skeleton), which parses with every program linkable; a conflict between
//! the files is a `BuildError::Link` naming the symbol.

use std::path::PathBuf;

use corebpf_build::{BpfBuild, BuildError, Vmlinux};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("corebpf-build-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn build(out: &PathBuf, sources: &[&str]) -> BpfBuild {
    let mut b = BpfBuild::new()
        .vmlinux(Vmlinux::None)
        .include(testdata().join("include"))
        .out_dir(out)
        .quiet();
    for s in sources {
        b = b.source(testdata().join("bpf/link").join(s));
    }
    b
}

#[test]
fn compiles_and_links_several_sources() {
    let out = temp_dir("link");
    let objs = build(&out, &["link_main.bpf.c", "link_lib.bpf.c"])
        .link("app")
        .skeleton()
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(objs, [out.join("app.bpf.o")]);
    let spec = corebpf_obj::ObjectSpec::from_file(&objs[0]).unwrap();
    let mut progs: Vec<&str> = spec.programs.iter().map(|p| p.name.as_str()).collect();
    progs.sort();
    assert_eq!(progs, ["lib_prog", "main_map", "main_prog", "main_weak"]);
    for i in 0..spec.programs.len() {
        spec.link_program(i).unwrap();
    }
    let skel = std::fs::read_to_string(out.join("app.skel.rs")).unwrap();
    assert!(
        skel.contains("shared_map"),
        "the skeleton is the linked object's"
    );
    assert!(!out.join("link_main.skel.rs").exists());
}

#[test]
fn link_conflicts_are_build_errors() {
    let out = temp_dir("link-conflict");
    let e = build(&out, &["link_lib.bpf.c", "link_bad_dup.bpf.c"])
        .link("bad")
        .compile()
        .unwrap_err();
    assert!(matches!(e, BuildError::Link(_)), "{e:?}");
    assert!(e.to_string().contains("'lib_add'"), "{e}");
}
