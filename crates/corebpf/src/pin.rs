//! Pinning kernel objects (maps, programs, links) in a BPF file system, so they outlive
//! the process and other processes can open them by path. Failures are [`PinError`]s;
//! [`Map::pin`] wraps them in [`MapError::Pin`], [`Link::pin`](crate::link::Link::pin) in
//! [`Error::Pin`](crate::Error::Pin).
//!
//! ```no_run
//! use std::os::fd::AsFd;
//! use corebpf::map::Map;
//! # let map: Map = unimplemented!();
//! corebpf::pin::pin(map.as_fd(), "/sys/fs/bpf/myapp/counts")?;
//! let again = corebpf::pin::open_pinned_map("/sys/fs/bpf/myapp/counts")?;
//! assert_eq!(again.id(), map.id());
//! corebpf::pin::unpin("/sys/fs/bpf/myapp/counts")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use corebpf_sys::{MapType, SysError};

use crate::map::{Map, MapError};

/// `BPF_FS_MAGIC`: the `f_type` statfs reports for a bpffs.
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Where bpffs is conventionally mounted.
pub const DEFAULT_BPFFS: &str = "/sys/fs/bpf";

/// Why pinning, unpinning or a bpffs check failed. Each variant names the path it is
/// about.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The path is not on a BPF file system.
    #[error(
        "{path} is not on a BPF file system (bpffs); mount one with `mount -t bpf bpf /sys/fs/bpf`"
    )]
    NotBpffs {
        /// The path (or its parent directory) checked.
        path: String,
    },
    /// No bpffs is mounted at the path, and mounting one there failed: in a container,
    /// typically for lack of CAP_SYS_ADMIN.
    #[error(
        "{path} is not a BPF file system (bpffs), and mounting one there failed: {error}; \
         mount one with `mount -t bpf bpf {path}` (in a container: bind-mount the host's \
         {path} into it, or allow mounting with CAP_SYS_ADMIN)"
    )]
    BpffsMount {
        /// Where bpffs was to be mounted.
        path: String,
        /// Why creating the directory or mounting failed.
        error: io::Error,
    },
    /// A file system operation (statfs, mount, creating directories, removing a pin)
    /// failed.
    #[error("{path}: {error}")]
    Io {
        /// The path (or the mount command).
        path: String,
        /// The I/O error.
        error: io::Error,
    },
    /// `BPF_OBJ_PIN` failed.
    #[error("{path}: {error}")]
    Sys {
        /// The pin path.
        path: String,
        /// The kernel's answer (command, errno).
        error: SysError,
    },
    /// The path cannot be a pin path.
    #[error("{path}: {reason}")]
    InvalidPath {
        /// The path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A pinned map does not match what was expected.
    #[error(transparent)]
    Incompatible(#[from] Incompatible),
}

impl PinError {
    fn io(path: impl Into<String>, source: io::Error) -> Self {
        PinError::Io {
            path: path.into(),
            error: source,
        }
    }

    /// The errno, for errors that came from the kernel.
    pub fn raw_errno(&self) -> Option<i32> {
        match self {
            PinError::Sys { error: source, .. } => source.raw_errno(),
            PinError::Io { error: source, .. } | PinError::BpffsMount { error: source, .. } => {
                source.raw_os_error()
            }
            _ => None,
        }
    }

    /// The underlying system error, for a failed `BPF_OBJ_PIN`.
    pub fn sys_error(&self) -> Option<&SysError> {
        match self {
            PinError::Sys { error: source, .. } => Some(source),
            _ => None,
        }
    }
}

/// True if `path` (which must exist) is on a BPF file system.
pub fn is_bpffs(path: impl AsRef<Path>) -> Result<bool, PinError> {
    let path = path.as_ref();
    let st = nix::sys::statfs::statfs(path)
        .map_err(|e| PinError::io(path.display().to_string(), e.into()))?;
    Ok(st.filesystem_type().0 as i64 == BPF_FS_MAGIC)
}

/// Makes sure a bpffs is mounted at `/sys/fs/bpf`, mounting one if it is not (said at
/// debug level), and returns that path. If it cannot be mounted (a container without
/// CAP_SYS_ADMIN), the error is [`PinError::BpffsMount`], which says how to provide one.
pub fn ensure_bpffs() -> Result<PathBuf, PinError> {
    let root = Path::new(DEFAULT_BPFFS);
    if root.is_dir() && is_bpffs(root)? {
        return Ok(root.to_path_buf());
    }
    let mounted = mount_bpffs(root);
    // Another thread or process may have mounted it meanwhile: judge by the result.
    if root.is_dir() && is_bpffs(root)? {
        if mounted.is_ok() {
            log::debug!("no bpffs at {DEFAULT_BPFFS}: mounted one");
        }
        return Ok(root.to_path_buf());
    }
    match mounted {
        Ok(()) => Err(PinError::NotBpffs {
            path: DEFAULT_BPFFS.into(),
        }),
        Err(source) => Err(PinError::BpffsMount {
            path: DEFAULT_BPFFS.into(),
            error: source,
        }),
    }
}

/// `mkdir -p <root> && mount -t bpf bpf <root>`.
fn mount_bpffs(root: &Path) -> io::Result<()> {
    std::fs::create_dir_all(root)?;
    nix::mount::mount(
        Some("bpf"),
        root,
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )?;
    Ok(())
}

/// Pins the object `fd` (map, program, link or BTF) at `path`, creating missing parent
/// directories. The parent must be on a bpffs; if `path` is under `/sys/fs/bpf` and no
/// bpffs is mounted there, one is mounted first.
pub fn pin(fd: BorrowedFd<'_>, path: impl AsRef<Path>) -> Result<(), PinError> {
    let path = path.as_ref();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => {
            return Err(PinError::InvalidPath {
                path: path.display().to_string(),
                reason: "a pin path needs a directory on a bpffs",
            })
        }
    };
    if path.starts_with(DEFAULT_BPFFS) {
        ensure_bpffs()?;
    }
    // The directories this pin creates, removed again if it fails.
    let created = parent.ancestors().take_while(|a| !a.exists()).last();
    let r = pin_in(fd, path, parent);
    if let (Err(_), Some(top)) = (&r, created) {
        for dir in parent.ancestors() {
            let _ = std::fs::remove_dir(dir);
            if dir == top {
                break;
            }
        }
    }
    r
}

/// Creates `parent` and pins `fd` at `path` in it, if `parent` is on a bpffs.
fn pin_in(fd: BorrowedFd<'_>, path: &Path, parent: &Path) -> Result<(), PinError> {
    std::fs::create_dir_all(parent).map_err(|e| PinError::io(parent.display().to_string(), e))?;
    if !is_bpffs(parent)? {
        return Err(PinError::NotBpffs {
            path: parent.display().to_string(),
        });
    }
    corebpf_sys::obj_pin(fd, path).map_err(|source| PinError::Sys {
        path: path.display().to_string(),
        error: source,
    })
}

/// The pins a load made (maps pinned by name, not those reused), removed again if the load
/// fails, as libbpf's `bpf_object_load` unpins them.
#[derive(Debug, Default)]
pub(crate) struct CreatedPins(Vec<PathBuf>);

impl CreatedPins {
    /// Records a pin just made.
    pub(crate) fn add(&mut self, path: PathBuf) {
        self.0.push(path);
    }

    /// The load succeeded: the pins stay.
    pub(crate) fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for CreatedPins {
    fn drop(&mut self) {
        for path in self.0.drain(..) {
            if let Err(e) = std::fs::remove_file(&path) {
                log::warn!("removing pin {} of a failed load: {e}", path.display());
            }
        }
    }
}

/// Removes the pin at `path` (the object lives on while other references remain).
pub fn unpin(path: impl AsRef<Path>) -> Result<(), PinError> {
    let path = path.as_ref();
    std::fs::remove_file(path).map_err(|e| PinError::io(path.display().to_string(), e))
}

/// Opens the map pinned at `path` and reads its type, sizes, name and id.
pub fn open_pinned_map(path: impl AsRef<Path>) -> Result<Map, MapError> {
    Map::from_pinned(path)
}

/// What a loader expects of a map it would reuse from a pin (libbpf's
/// `map_is_reuse_compat`): the fields of the map definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedMap {
    /// Map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// `BPF_F_*` flags.
    pub map_flags: u32,
    /// Per-type extra (bloom filter hashes).
    pub map_extra: u64,
}

/// Which field of a pinned map differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pinned map {name} is incompatible: {field} is {pinned}, expected {expected}")]
pub struct Incompatible {
    /// The pinned map's name.
    pub name: String,
    /// The field: `type`, `key_size`, `value_size`, `max_entries`, `map_flags` or `map_extra`.
    pub field: &'static str,
    /// The pinned map's value, formatted.
    pub pinned: String,
    /// The expected value, formatted.
    pub expected: String,
}

/// Checks that a pinned map can stand in for `expected`; the first differing field is
/// reported.
pub fn pinned_map_compatible(map: &Map, expected: &ExpectedMap) -> Result<(), Incompatible> {
    let info = map.info();
    let diff =
        |field: &'static str, pinned: &dyn fmt::Display, exp: &dyn fmt::Display| Incompatible {
            name: map.name().to_string(),
            field,
            pinned: pinned.to_string(),
            expected: exp.to_string(),
        };
    if info.type_ != expected.map_type.as_u32() {
        let pinned = match map.map_type() {
            Some(t) => t.name().to_string(),
            None => info.type_.to_string(),
        };
        return Err(diff("type", &pinned, &expected.map_type));
    }
    let checks: [(&'static str, u64, u64); 5] = [
        ("key_size", info.key_size.into(), expected.key_size.into()),
        (
            "value_size",
            info.value_size.into(),
            expected.value_size.into(),
        ),
        (
            "max_entries",
            info.max_entries.into(),
            expected.max_entries.into(),
        ),
        (
            "map_flags",
            info.map_flags.into(),
            expected.map_flags.into(),
        ),
        ("map_extra", info.map_extra, expected.map_extra),
    ];
    for (field, pinned, exp) in checks {
        if pinned != exp {
            return Err(diff(field, &pinned, &exp));
        }
    }
    Ok(())
}
