//! Finding the compiler and strip tool, and the flags a BPF compilation for the build's
//! target needs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::BuildError;

/// The clang to use: `$CLANG` or `$BPF_CLANG` if set, else `clang` on `PATH`, else the
/// newest versioned `clang-N` (Debian and Ubuntu install those).
pub fn find_clang() -> Result<PathBuf, BuildError> {
    for var in ["BPF_CLANG", "CLANG"] {
        if let Some(p) = std::env::var_os(var) {
            return Ok(PathBuf::from(p));
        }
    }
    let mut names = vec!["clang".to_string()];
    names.extend((14..=25).rev().map(|v| format!("clang-{v}")));
    names
        .iter()
        .find_map(|n| in_path(n))
        .ok_or(BuildError::NoClang)
}

/// `name` found in a `PATH` directory.
pub fn in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The `llvm-strip` of `clang`'s LLVM: `llvm-strip-N` next to `clang-N`, else
/// `llvm-strip` on `PATH` (or `$LLVM_STRIP`). `None` if there is none.
pub fn find_strip(clang: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LLVM_STRIP") {
        return Some(PathBuf::from(p));
    }
    let name = clang.file_name()?.to_string_lossy().into_owned();
    let versioned = name.strip_prefix("clang").map(|v| format!("llvm-strip{v}"));
    let dir = clang.parent().filter(|d| !d.as_os_str().is_empty());
    versioned
        .iter()
        .flat_map(|n| [dir.map(|d| d.join(n)), in_path(n)])
        .flatten()
        .find(|p| p.is_file())
        .or_else(|| in_path("llvm-strip"))
}

/// `__TARGET_ARCH_<arch>` for `bpf_tracing.h`, from cargo's target architecture
/// (`CARGO_CFG_TARGET_ARCH`) or, outside a build script, this machine's.
pub fn target_arch_define() -> Result<String, BuildError> {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or(std::env::consts::ARCH.into());
    let bpf = match arch.as_str() {
        "x86_64" | "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv64" => "riscv",
        "s390x" => "s390",
        "powerpc64" | "powerpc" => "powerpc",
        "loongarch64" => "loongarch",
        "mips" | "mips64" => "mips",
        "sparc64" => "sparc",
        other => return Err(BuildError::UnknownArch(other.into())),
    };
    Ok(format!("-D__TARGET_ARCH_{bpf}"))
}

/// The system's multiarch include directory (`/usr/include/x86_64-linux-gnu`), which
/// `-target bpf` does not search but `<linux/types.h>` needs for `<asm/types.h>`.
pub fn multiarch_include() -> Option<PathBuf> {
    let out = Command::new("gcc").arg("-print-multiarch").output().ok()?;
    let triple = String::from_utf8(out.stdout).ok()?.trim().to_string();
    let dir = Path::new("/usr/include").join(triple);
    dir.is_dir().then_some(dir)
}

/// Whether `<bpf/bpf_helpers.h>` (libbpf's headers) is in `/usr/include`,
/// `/usr/local/include` or one of `dirs`.
pub fn has_libbpf_headers(dirs: &[PathBuf]) -> bool {
    dirs.iter()
        .map(PathBuf::as_path)
        .chain([Path::new("/usr/include"), Path::new("/usr/local/include")])
        .any(|d| d.join("bpf/bpf_helpers.h").is_file())
}
