//! Host-side helpers: where things live, running commands, installing missing tools.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The harness's download and build cache: `$COREBPF_VM_CACHE`, or `<workspace>/target/vm-cache`.
///
/// It is under the workspace's default `target/` (whatever `CARGO_TARGET_DIR` says) so that CI,
/// which caches `target/`, keeps the downloaded kernels between runs.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("COREBPF_VM_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_root().join("target").join("vm-cache"),
    }
}

/// Runs `cmd`, failing with its stderr when it exits non-zero; returns its stdout.
pub fn run_output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `cmd` with its output shown, failing when it exits non-zero.
pub fn run_status(cmd: &mut Command) -> Result<(), String> {
    let st = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !st.success() {
        return Err(format!("{cmd:?} failed ({st})"));
    }
    Ok(())
}

/// Finds an executable named `name` in `$PATH` and the sbin directories (which a non-root
/// `$PATH` may lack).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// Whether the Debian package `pkg` is installed.
fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Installs the Debian packages among `pkgs` that are missing, with `apt-get` (running
/// `apt-get update` first if the plain install fails, as on a fresh machine).
pub fn ensure_packages(pkgs: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = pkgs.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "xtask: installing missing Debian packages: {}",
        missing.join(" ")
    );
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if install() {
        return Ok(());
    }
    run_status(Command::new("apt-get").arg("update"))?;
    if install() {
        Ok(())
    } else {
        Err(format!(
            "apt-get install {} failed (are you root?)",
            missing.join(" ")
        ))
    }
}

/// The host tools the harness needs, as Debian packages.
pub const HOST_PACKAGES: &[&str] = &["qemu-system-x86", "busybox-static", "iproute2", "xz-utils"];
