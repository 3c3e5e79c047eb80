//! `vmlinux.h` from kernel BTF with corebpf's own C dump (no bpftool), written once per
//! BTF: regenerated only when the BTF's contents change.

use std::path::{Path, PathBuf};

use corebpf_btf::Btf;

use crate::BuildError;

/// Where `vmlinux.h` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vmlinux {
    /// The running kernel's `/sys/kernel/btf/vmlinux` (the default).
    RunningKernel,
    /// A BTF file (raw BTF, or an ELF with a `.BTF` section such as a `vmlinux`).
    BtfFile(PathBuf),
    /// An existing `vmlinux.h` to use as it is.
    Header(PathBuf),
    /// No `vmlinux.h` (the sources include only system headers).
    None,
}

/// Writes `dir/vmlinux.h` for `source` (if it needs writing) and returns the directory to
/// add to the include path, or `None` for [`Vmlinux::None`].
pub fn prepare(source: &Vmlinux, dir: &Path) -> Result<Option<PathBuf>, BuildError> {
    let io = |what: &Path, e: std::io::Error| BuildError::Io(what.display().to_string(), e);
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let out = dir.join("vmlinux.h");
    let bytes = match source {
        Vmlinux::None => return Ok(None),
        Vmlinux::Header(h) => {
            std::fs::copy(h, &out).map_err(|e| io(h, e))?;
            return Ok(Some(dir.to_path_buf()));
        }
        Vmlinux::RunningKernel => {
            let p = Path::new(corebpf_btf::SYS_BTF_DIR).join("vmlinux");
            std::fs::read(&p).map_err(|e| io(&p, e))?
        }
        Vmlinux::BtfFile(p) => std::fs::read(p).map_err(|e| io(p, e))?,
    };
    let stamp = dir.join("vmlinux.h.btf-hash");
    let hash = format!("{:016x}\n", fnv1a(&bytes));
    if out.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == hash) {
        return Ok(Some(dir.to_path_buf()));
    }
    let btf = match source {
        Vmlinux::BtfFile(p) if bytes.starts_with(b"\x7fELF") => Btf::from_file(p),
        _ => Btf::from_vec(bytes),
    }
    .map_err(BuildError::Btf)?;
    let header = corebpf_btf::cdump::to_c_header(&btf).map_err(BuildError::Btf)?;
    std::fs::write(&out, header).map_err(|e| io(&out, e))?;
    std::fs::write(&stamp, hash).map_err(|e| io(&stamp, e))?;
    Ok(Some(dir.to_path_buf()))
}

/// FNV-1a, 64-bit: enough to tell one kernel's BTF from another's.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
