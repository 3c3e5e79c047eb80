//! The raw `bpf(2)` system call and small helpers shared by the command modules.

use std::ffi::CString;
use std::mem::size_of;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use crate::consts::{Cmd, BPF_OBJ_NAME_LEN};
use crate::error::SysError;

/// Calls `bpf(cmd, attr, sizeof(*attr))` and returns the non-negative result.
///
/// # Safety
/// Every pointer stored (as `u64`) in `attr` must be null or valid for the kernel to read
/// or write as many bytes as the accompanying size/count fields say, for the duration of
/// the call; `attr` must be a `#[repr(C)]` attr layout with no uninitialized bytes.
pub(crate) unsafe fn sys_bpf<T>(cmd: Cmd, attr: &mut T) -> Result<i64, SysError> {
    if let Some(errno) = crate::fault::inject(cmd.kernel_name()) {
        return Err(SysError::from_errno(cmd.kernel_name(), errno));
    }
    // SAFETY: `attr` is a live, exclusively borrowed, fully initialized buffer of exactly
    // `size_of::<T>()` bytes; the pointers inside it are valid per this fn's contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd.as_u32() as libc::c_long,
            attr as *mut T as *mut libc::c_void,
            size_of::<T>() as libc::c_long,
        )
    };
    if ret < 0 {
        Err(SysError::last(cmd.kernel_name()))
    } else {
        Ok(ret as i64)
    }
}

/// Like [`sys_bpf`] for commands that return a new file descriptor, which is wrapped in
/// an [`OwnedFd`] at once.
///
/// # Safety
/// As for [`sys_bpf`]; additionally `cmd` must be a command whose success value is a new
/// file descriptor owned by the caller.
pub(crate) unsafe fn sys_bpf_fd<T>(cmd: Cmd, attr: &mut T) -> Result<OwnedFd, SysError> {
    // SAFETY: forwarded contract.
    let fd = unsafe { sys_bpf(cmd, attr)? };
    let fd =
        i32::try_from(fd).map_err(|_| SysError::invalid(cmd.kernel_name(), "fd out of range"))?;
    // SAFETY: on success the kernel returned a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    crate::fault::created(cmd, std::os::fd::AsFd::as_fd(&fd));
    Ok(fd)
}

/// The address of a slice's data as the kernel's `__aligned_u64` pointer, or 0 if empty.
pub(crate) fn ptr_of<T>(s: &[T]) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.as_ptr() as usize as u64
    }
}

/// The address of a mutable slice's data, or 0 if empty.
pub(crate) fn mut_ptr_of<T>(s: &mut [T]) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.as_mut_ptr() as usize as u64
    }
}

/// A `u32` length or count, or an `InvalidInput` error naming `cmd` and `what`.
pub(crate) fn len_u32(cmd: Cmd, what: &str, len: usize) -> Result<u32, SysError> {
    u32::try_from(len)
        .map_err(|_| SysError::invalid(cmd.kernel_name(), format!("{what} too large ({len})")))
}

/// Encodes an object name for `map_name`/`prog_name`: at most 15 bytes, characters
/// other than ASCII alphanumerics, `_` and `.` (which the kernel refuses) become `_`.
pub fn obj_name(name: &str) -> [u8; BPF_OBJ_NAME_LEN] {
    let mut out = [0u8; BPF_OBJ_NAME_LEN];
    for (dst, b) in out.iter_mut().zip(name.bytes().take(BPF_OBJ_NAME_LEN - 1)) {
        *dst = if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
            b
        } else {
            b'_'
        };
    }
    out
}

/// Decodes a NUL-padded kernel name field.
pub(crate) fn name_from_bytes(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A path as a C string, or an `InvalidInput` error naming `cmd`.
pub(crate) fn path_cstring(cmd: Cmd, path: &Path) -> Result<CString, SysError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        SysError::invalid(
            cmd.kernel_name(),
            format!("path {} contains a NUL byte", path.display()),
        )
    })
}

/// Turns a log buffer written by the kernel into text (up to the first NUL).
pub(crate) fn log_text(buf: &[u8]) -> Option<String> {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if end == 0 {
        None
    } else {
        Some(String::from_utf8_lossy(&buf[..end]).into_owned())
    }
}

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`), cached.
pub fn possible_cpus() -> Result<usize, SysError> {
    use std::sync::OnceLock;
    static CPUS: OnceLock<Result<usize, String>> = OnceLock::new();
    const PATH: &str = "/sys/devices/system/cpu/possible";
    let r = CPUS.get_or_init(|| {
        let text = std::fs::read_to_string(PATH).map_err(|e| e.to_string())?;
        parse_cpu_list(&text).ok_or_else(|| format!("cannot parse {text:?}"))
    });
    r.clone().map_err(|msg| SysError::File {
        path: PATH.to_string(),
        error: std::io::Error::other(msg),
    })
}

/// Parses a kernel CPU list such as `0-3,5,7-8` and returns the highest index + 1.
pub(crate) fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut max = None;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let hi = match part.split_once('-') {
            Some((_, hi)) => hi.trim().parse::<usize>().ok()?,
            None => part.trim().parse::<usize>().ok()?,
        };
        max = Some(max.map_or(hi, |m: usize| m.max(hi)));
    }
    max.map(|m| m + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_and_truncated() {
        assert_eq!(&obj_name("my-map")[..7], b"my_map\0");
        let long = obj_name("a_very_long_program_name");
        assert_eq!(&long[..15], b"a_very_long_pro");
        assert_eq!(long[15], 0);
        assert_eq!(name_from_bytes(&long), "a_very_long_pro");
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(2));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3,5,7-8"), Some(9));
        assert_eq!(parse_cpu_list("x"), None);
    }
}
