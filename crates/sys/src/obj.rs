//! Object commands shared by programs, maps, BTF and links: pinning (`BPF_OBJ_PIN`,
//! `BPF_OBJ_GET`), ids (`BPF_*_GET_NEXT_ID`, `BPF_*_GET_FD_BY_ID`) and `BPF_ENABLE_STATS`.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::attr;
use crate::consts::{Cmd, StatsType};
use crate::error::SysError;
use crate::sys::{path_cstring, sys_bpf, sys_bpf_fd};

/// `BPF_OBJ_PIN`: pins a program, map, link or BTF object at `path` in a bpffs.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> Result<(), SysError> {
    let cmd = Cmd::ObjPin;
    let c = path_cstring(cmd, path)?;
    let mut a = attr::ObjAttr {
        pathname: c.as_ptr() as usize as u64,
        bpf_fd: fd.as_raw_fd() as u32,
        ..Default::default()
    };
    // SAFETY: `pathname` is a NUL-terminated string alive for the call.
    unsafe { sys_bpf(cmd, &mut a) }
        .map(|_| ())
        .map_err(|e| annotate_path(e, path))
}

/// `BPF_OBJ_GET`: opens a pinned object; `file_flags` is 0, `BPF_F_RDONLY` or `BPF_F_WRONLY`.
pub fn obj_get(path: &Path, file_flags: u32) -> Result<OwnedFd, SysError> {
    let cmd = Cmd::ObjGet;
    let c = path_cstring(cmd, path)?;
    let mut a = attr::ObjAttr {
        pathname: c.as_ptr() as usize as u64,
        file_flags,
        ..Default::default()
    };
    // SAFETY: `pathname` is a NUL-terminated string alive for the call.
    unsafe { sys_bpf_fd(cmd, &mut a) }.map_err(|e| annotate_path(e, path))
}

/// Adds the path to a pin error's log slot so it shows in Display.
fn annotate_path(e: SysError, path: &Path) -> SysError {
    e.with_log(Some(format!("path: {}", path.display())))
}

/// Which kind of object an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjKind {
    /// A program.
    Prog,
    /// A map.
    Map,
    /// A BTF object.
    Btf,
    /// A link.
    Link,
}

impl ObjKind {
    fn next_id_cmd(self) -> Cmd {
        match self {
            ObjKind::Prog => Cmd::ProgGetNextId,
            ObjKind::Map => Cmd::MapGetNextId,
            ObjKind::Btf => Cmd::BtfGetNextId,
            ObjKind::Link => Cmd::LinkGetNextId,
        }
    }

    fn fd_by_id_cmd(self) -> Cmd {
        match self {
            ObjKind::Prog => Cmd::ProgGetFdById,
            ObjKind::Map => Cmd::MapGetFdById,
            ObjKind::Btf => Cmd::BtfGetFdById,
            ObjKind::Link => Cmd::LinkGetFdById,
        }
    }
}

/// `BPF_{PROG,MAP,BTF,LINK}_GET_NEXT_ID`: the next id after `start` (0: the first), or
/// `None` at the end.
pub fn get_next_id(kind: ObjKind, start: u32) -> Result<Option<u32>, SysError> {
    let mut a = attr::GetIdAttr {
        id: start,
        ..Default::default()
    };
    // SAFETY: no pointers.
    match unsafe { sys_bpf(kind.next_id_cmd(), &mut a) } {
        Ok(_) => Ok(Some(a.next_id)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// All ids of a kind of object currently in the kernel.
pub fn all_ids(kind: ObjKind) -> Result<Vec<u32>, SysError> {
    let mut ids = Vec::new();
    let mut cur = 0;
    while let Some(next) = get_next_id(kind, cur)? {
        ids.push(next);
        cur = next;
    }
    Ok(ids)
}

/// `BPF_{PROG,MAP,BTF,LINK}_GET_FD_BY_ID`; `open_flags` is 0 or `BPF_F_RDONLY`/`WRONLY`
/// (maps only).
pub fn get_fd_by_id(kind: ObjKind, id: u32, open_flags: u32) -> Result<OwnedFd, SysError> {
    let mut a = attr::GetIdAttr {
        id,
        open_flags,
        ..Default::default()
    };
    // SAFETY: no pointers; the command returns a new fd.
    unsafe { sys_bpf_fd(kind.fd_by_id_cmd(), &mut a) }
}

/// `BPF_PROG_GET_FD_BY_ID`.
pub fn prog_get_fd_by_id(id: u32) -> Result<OwnedFd, SysError> {
    get_fd_by_id(ObjKind::Prog, id, 0)
}

/// `BPF_MAP_GET_FD_BY_ID`.
pub fn map_get_fd_by_id(id: u32, open_flags: u32) -> Result<OwnedFd, SysError> {
    get_fd_by_id(ObjKind::Map, id, open_flags)
}

/// `BPF_BTF_GET_FD_BY_ID`.
pub fn btf_get_fd_by_id(id: u32) -> Result<OwnedFd, SysError> {
    get_fd_by_id(ObjKind::Btf, id, 0)
}

/// `BPF_LINK_GET_FD_BY_ID`.
pub fn link_get_fd_by_id(id: u32) -> Result<OwnedFd, SysError> {
    get_fd_by_id(ObjKind::Link, id, 0)
}

/// `BPF_ENABLE_STATS`: statistics are collected while the returned fd is open.
pub fn enable_stats(kind: StatsType) -> Result<OwnedFd, SysError> {
    let mut a = attr::TwoU32Attr {
        a: kind.as_u32(),
        b: 0,
    };
    // SAFETY: no pointers; the command returns a new fd.
    unsafe { sys_bpf_fd(Cmd::EnableStats, &mut a) }
}
