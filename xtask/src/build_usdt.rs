//! The USDT test binaries (`testdata/usdt/src` -> `testdata/usdt/out`), built with gcc as a
//! step of `cargo xtask build-bpf`: `usdt_prog` (an executable with `<sys/sdt.h>` probes) and
//! `libcorebpf_usdt.so` (a shared library it links with `$ORIGIN` rpath). They are committed
//! because the QEMU guests that run the tests have no compiler.
//!
//! Reproducible: gcc runs from the workspace root on relative paths, with
//! `-ffile-prefix-map`, no debug info and no build id. Needs `<sys/sdt.h>` (Debian:
//! systemtap-sdt-dev).

use std::fs;
use std::path::Path;
use std::process::Command;

/// Source and output directories, relative to the workspace root.
const SRC: &str = "testdata/usdt/src";
const OUT: &str = "testdata/usdt/out";

/// One output: its name, whether it is the shared library, and its sources.
const BINARIES: &[(&str, bool, &[&str])] = &[
    (
        "libcorebpf_usdt.so",
        true,
        &["usdt_lib.c", "usdt_lib_sema.c"],
    ),
    ("usdt_prog", false, &["usdt_prog.c", "usdt_sema.c"]),
];

fn gcc(root: &Path, out_dir: &Path, name: &str, shared: bool, srcs: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("gcc");
    cmd.current_dir(root)
        .args(["-O2", "-g0", "-Wall", "-Wl,--build-id=none"])
        .arg(format!("-ffile-prefix-map={}=.", root.display()));
    if shared {
        cmd.args(["-fPIC", "-shared"]);
    }
    cmd.arg("-o").arg(out_dir.join(name));
    for s in srcs {
        cmd.arg(format!("{SRC}/{s}"));
    }
    if !shared {
        cmd.arg("-L")
            .arg(out_dir)
            .args(["-lcorebpf_usdt", "-Wl,-rpath,$ORIGIN"]);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run gcc (needed for {SRC}): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Builds the USDT test binaries into `OUT`, or with `check` into a temporary directory,
/// returning the committed ones that differ.
pub fn build(root: &Path, check: bool) -> Result<Vec<String>, String> {
    let committed = root.join(OUT);
    let out_dir = if check {
        std::env::temp_dir().join(format!("corebpf-build-usdt-{}", std::process::id()))
    } else {
        committed.clone()
    };
    fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut differ = Vec::new();
    for (name, shared, srcs) in BINARIES {
        gcc(root, &out_dir, name, *shared, srcs)?;
        if check && fs::read(committed.join(name)).ok() != fs::read(out_dir.join(name)).ok() {
            differ.push(format!("{OUT}/{name}"));
        }
    }
    if check {
        let _ = fs::remove_dir_all(&out_dir);
    } else {
        eprintln!("built {} USDT test binaries in {OUT}", BINARIES.len());
    }
    Ok(differ)
}
