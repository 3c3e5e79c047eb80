//! Helpers shared by the object-model tests.
#![allow(dead_code)]

use std::path::PathBuf;

use corebpf_obj::{Object, ObjectSpec};

/// The two compilers testdata has objects of.
pub const CLANGS: [&str; 2] = ["clang14", "clang19"];

/// `testdata/bpf/out/<dir>/<file>`.
pub fn path(dir: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/bpf/out")
        .join(dir)
        .join(file)
}

/// Parses `testdata/bpf/out/<clang>/<name>.bpf.o`.
pub fn parse(clang: &str, name: &str) -> ObjectSpec {
    let p = path(clang, &format!("{name}.bpf.o"));
    Object::from_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
