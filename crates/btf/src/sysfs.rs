//! Kernel BTF from sysfs: `/sys/kernel/btf/vmlinux` and module BTF, and BTF files on disk.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::data::{Data, Mapping};
use crate::scan::Check;
use crate::{Btf, BtfError, Result};

/// Where the running kernel publishes its BTF.
pub const SYS_BTF_DIR: &str = "/sys/kernel/btf";

fn io_err(path: &Path, e: std::io::Error) -> BtfError {
    BtfError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Reads a whole file into a vector sized by its metadata (one allocation, no regrowth).
fn read_file(path: &Path) -> Result<(File, Vec<u8>)> {
    let mut f = File::open(path).map_err(|e| io_err(path, e))?;
    let len = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut buf = Vec::with_capacity(len + 1);
    f.read_to_end(&mut buf).map_err(|e| io_err(path, e))?;
    Ok((f, buf))
}

/// Opens a sysfs BTF file: mapped read-only where the kernel allows it (no copy at all),
/// read into memory otherwise.
fn sysfs_data(path: &Path) -> Result<Data> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let len = f.metadata().map_err(|e| io_err(path, e))?.len() as usize;
    if let Some(m) = Mapping::map(&f, len) {
        return Ok(Data::Mapped(m));
    }
    let (_, buf) = read_file(path)?;
    Ok(Data::Owned(buf.into_boxed_slice()))
}

impl Btf {
    /// The running kernel's BTF, `/sys/kernel/btf/vmlinux`, named `vmlinux`.
    ///
    /// The kernel validated this BTF when it booted, so parsing checks record bounds and kinds
    /// but not every reference; ids and string offsets are still range-checked on access.
    /// Use [`Btf::validate`] for the full check.
    pub fn from_sys_fs() -> Result<Btf> {
        let path = Path::new(SYS_BTF_DIR).join("vmlinux");
        Btf::from_data_checked(sysfs_data(&path)?, None, "vmlinux", Check::Bounds)
    }

    /// A kernel module's split BTF, `/sys/kernel/btf/<module>`, on top of `vmlinux`.
    pub fn from_sys_fs_module(module: &str, vmlinux: Arc<Btf>) -> Result<Btf> {
        if module.contains('/') || module == "vmlinux" {
            return Err(BtfError::Io {
                path: module.into(),
                reason: "not a module name".into(),
            });
        }
        let path = Path::new(SYS_BTF_DIR).join(module);
        Btf::from_data_checked(sysfs_data(&path)?, Some(vmlinux), module, Check::Bounds)
    }

    /// Names of the kernel modules that publish BTF (every entry of `/sys/kernel/btf` but
    /// `vmlinux`), sorted.
    pub fn sys_fs_modules() -> Result<Vec<String>> {
        let dir = Path::new(SYS_BTF_DIR);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| io_err(dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n != "vmlinux")
            .collect();
        names.sort();
        Ok(names)
    }

    /// A BTF file: raw BTF or an ELF file with a `.BTF` section. Logs call it `vmlinux`, as
    /// libbpf does for a user-given target BTF.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Btf> {
        let path = path.as_ref();
        let (_, buf) = read_file(path)?;
        let btf = if buf.starts_with(b"\x7fELF") {
            Btf::from_elf(&buf)?
        } else {
            Btf::from_vec(buf)?
        };
        Ok(btf.with_name("vmlinux"))
    }

    /// Split BTF from a file on top of `base` (a module's BTF copied out of sysfs).
    pub fn from_file_split(path: impl AsRef<Path>, base: Arc<Btf>, name: &str) -> Result<Btf> {
        let path = path.as_ref();
        let (_, buf) = read_file(path)?;
        Btf::from_data(Data::Owned(buf.into_boxed_slice()), Some(base), name)
    }
}
