//! Builds the guest's initramfs: busybox with its applet links, the real `ip`/`tc` from
//! iproute2 (busybox's `ip` ignores `peer name`), the test executables with their shared
//! libraries, `testdata/`, the kernel modules, and the generated `/init` script.
//!
//! Guest layout:
//! - `/tests/<package>/<exe>`: test executables; each runs with its package directory on the
//!   host (`<workspace>/crates/<package>`, recreated empty in the guest) as working directory;
//! - `/testdata`: a copy of the workspace's `testdata/` (`$COREBPF_TESTDATA`), also linked at
//!   `<workspace>/testdata`, so paths built from `env!("CARGO_MANIFEST_DIR")` resolve too;
//! - `/lib/modules/vm/<name>.ko` and `/etc/vm/modules` (load order);
//! - `/etc/vm/config`: shell variables for `/init` (mode, test list, test arguments).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::bins::TestBin;
use super::cpio::Archive;
use super::host::{run_output, which, workspace_root};
use super::modules::Module;

/// What the guest does after booting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the smoke checks only.
    Smoke,
    /// Run the smoke checks, then the test executables.
    Test,
    /// Copy `/sys/kernel/btf/vmlinux` out on the third serial port.
    Btf,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke",
            Mode::Test => "test",
            Mode::Btf => "btf",
        }
    }
}

/// The generated `/init`. It reports on `/dev/ttyS1` (the status port) with one line per event:
/// `boot <release>`, `smoke ok|fail <check>`, `module fail <name>`, `test <name> <status>`,
/// `btf <size>`, and finally `done <status>`, then powers off.
const INIT: &str = include_str!("init.sh");

/// Builds the initramfs for `mode` and writes it to `out`.
pub fn build(
    out: &Path,
    mode: Mode,
    modules: &[Module],
    tests: &[TestBin],
    test_args: &[String],
) -> Result<(), String> {
    let mut a = Archive::new();
    for d in [
        "dev",
        "proc",
        "sys",
        "tmp",
        "run",
        "root",
        "etc/vm",
        "lib/modules/vm",
    ] {
        a.dir(d);
    }
    add_busybox(&mut a)?;
    for tool in ["ip", "tc"] {
        let path = which(tool).ok_or_else(|| format!("host has no `{tool}` (install iproute2)"))?;
        // Over busybox's applet links, wherever they are, and in /usr/sbin first in PATH.
        for dst in ["/usr/sbin", "/sbin", "/bin", "/usr/bin"] {
            let p = format!("{dst}/{tool}");
            if dst == "/usr/sbin" || a.contains(&p) {
                add_executable(&mut a, &path, &p)?;
            }
        }
    }
    let mut order = String::new();
    for m in modules {
        a.file(
            &format!("/lib/modules/vm/{}.ko", m.name),
            m.data.clone(),
            0o644,
        );
        order.push_str(&m.name);
        order.push('\n');
    }
    a.file("/etc/vm/modules", order.into_bytes(), 0o644);

    let root = workspace_root();
    let testdata = root.join("testdata");
    if mode == Mode::Test && testdata.is_dir() {
        add_tree(&mut a, &testdata, "/testdata")?;
        a.symlink(&testdata.to_string_lossy(), "/testdata");
    }
    let mut list = String::new();
    for t in tests {
        let dst = format!("/tests/{}", t.name);
        add_executable_data(&mut a, &t.path, &dst, without_debug_info(&t.path)?)?;
        a.dir(&t.manifest_dir.to_string_lossy());
        list.push_str(&format!(
            "{} {} {}\n",
            t.name,
            dst,
            t.manifest_dir.display()
        ));
    }
    a.file("/etc/vm/tests", list.into_bytes(), 0o644);

    let args: Vec<String> = test_args.iter().map(|s| shell_quote(s)).collect();
    let config = format!("MODE={}\nset -- {}\n", mode.name(), args.join(" "));
    a.file("/etc/vm/config", config.into_bytes(), 0o644);
    a.file("/init", INIT.as_bytes().to_vec(), 0o755);

    let mut f = std::io::BufWriter::new(
        fs::File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?,
    );
    a.write_to(&mut f)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    std::io::Write::flush(&mut f).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(())
}

/// Quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Adds the static busybox and one symlink per applet (`busybox --list-full`).
fn add_busybox(a: &mut Archive) -> Result<(), String> {
    let bb = which("busybox").ok_or("host has no busybox (install busybox-static)")?;
    add_executable(a, &bb, "/bin/busybox")?;
    let list = run_output(Command::new(&bb).arg("--list-full"))?;
    for applet in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if applet != "bin/busybox" {
            a.symlink(applet, "/bin/busybox");
        }
    }
    Ok(())
}

/// Adds the executable `src` at `dst` with the shared libraries `ldd` lists for it and the
/// dynamic loader, each at the path `ldd` prints (static executables have none).
fn add_executable(a: &mut Archive, src: &Path, dst: &str) -> Result<(), String> {
    let data = fs::read(src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
    add_executable_data(a, src, dst, data)
}

/// A test executable's bytes without DWARF (`objcopy --strip-debug`; symbols stay, so
/// backtraces still name functions). Debug test builds carry ~35 MB of DWARF each: 30 of
/// them made a 1 GB initramfs that a 3 GB guest could not unpack.
fn without_debug_info(src: &Path) -> Result<Vec<u8>, String> {
    let tmp = std::env::temp_dir().join(format!(
        "corebpf-vm-{}-{}",
        std::process::id(),
        src.file_name().unwrap_or_default().to_string_lossy()
    ));
    let stripped = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(src)
        .arg(&tmp)
        .status()
        .map_err(|e| format!("cannot run objcopy (install binutils): {e}"))?;
    if !stripped.success() {
        return Err(format!("objcopy --strip-debug {} failed", src.display()));
    }
    let data = fs::read(&tmp).map_err(|e| format!("cannot read {}: {e}", tmp.display()));
    let _ = fs::remove_file(&tmp);
    data
}

/// [`add_executable`] with the executable's bytes already read (or rewritten).
fn add_executable_data(
    a: &mut Archive,
    src: &Path,
    dst: &str,
    data: Vec<u8>,
) -> Result<(), String> {
    a.file(dst, data, 0o755);
    // ldd exits non-zero for static executables: then there is nothing to add.
    let Ok(out) = Command::new("ldd").arg(src).output() else {
        return Err("cannot run ldd".into());
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let lib = match line.split_once("=>") {
            Some((_, rhs)) => rhs.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/')),
        };
        let Some(lib) = lib.filter(|l| l.starts_with('/')) else {
            continue;
        };
        if a.contains(lib) {
            continue;
        }
        let data =
            fs::read(lib).map_err(|e| format!("cannot read {lib} (for {}): {e}", src.display()))?;
        a.file(lib, data, 0o755);
    }
    if String::from_utf8_lossy(&out.stdout).contains("not found") {
        return Err(format!("ldd {}: missing libraries", src.display()));
    }
    Ok(())
}

/// Adds the files under `src` below `dst`, following symlinks.
fn add_tree(a: &mut Archive, src: &Path, dst: &str) -> Result<(), String> {
    a.dir(dst);
    let mut entries: Vec<PathBuf> = fs::read_dir(src)
        .map_err(|e| format!("cannot read {}: {e}", src.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let target = format!("{dst}/{name}");
        if p.is_dir() {
            add_tree(a, &p, &target)?;
        } else if p.is_file() {
            let data = fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            a.file(&target, data, 0o644);
        }
    }
    Ok(())
}
