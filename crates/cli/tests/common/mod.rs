//! Helpers shared by the CLI tests: run the real `corebpf` binary, find testdata.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `corebpf ARGS`.
pub fn corebpf<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_corebpf"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run corebpf");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The workspace's `testdata/`.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A clang-19 test object.
pub fn obj(name: &str) -> String {
    testdata()
        .join("bpf/out/clang19")
        .join(name)
        .display()
        .to_string()
}

/// A fixture of this crate (`tests/data/`).
pub fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        Self::under(&std::env::temp_dir(), tag)
    }

    /// A fresh directory under `base` (e.g. a bpffs for pins).
    pub fn under(base: &Path, tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = base.join(format!("corebpf-cli-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Decompresses `testdata/btf/<version>.btf.gz` into `dir`.
pub fn gunzip_btf(version: &str, dir: &Path) -> String {
    let gz = std::fs::read(testdata().join(format!("btf/{version}.btf.gz"))).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw).unwrap();
    let p = dir.join(format!("{version}.btf"));
    std::fs::write(&p, raw).unwrap();
    p.display().to_string()
}

/// Whether `bpftool` is installed. Without it a comparison with bpftool cannot run: the
/// test fails, unless `COREBPF_ALLOW_SKIP=1` allows the skip (the one skip policy).
pub fn have_bpftool() -> bool {
    let ok = Command::new("bpftool")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        corebpf_testutil::skip("no bpftool to compare with (apt-get install bpftool)");
    }
    ok
}
