//! Socket filters: `setsockopt(SO_ATTACH_BPF)` and `SO_DETACH_BPF` (nix has neither).

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::SysError;

/// Attaches socket filter program `prog` to `sock` (`SO_ATTACH_BPF`).
pub fn attach_bpf(sock: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<(), SysError> {
    setsockopt_int(
        sock,
        libc::SO_ATTACH_BPF,
        prog.as_raw_fd(),
        "setsockopt(SO_ATTACH_BPF)",
    )
}

/// Detaches the socket filter program from `sock` (`SO_DETACH_BPF`).
pub fn detach_bpf(sock: BorrowedFd<'_>) -> Result<(), SysError> {
    setsockopt_int(sock, libc::SO_DETACH_BPF, 0, "setsockopt(SO_DETACH_BPF)")
}

/// `setsockopt(sock, SOL_SOCKET, opt, &value, sizeof(int))`; a failure is reported as
/// `what` with the OS error.
fn setsockopt_int(
    sock: BorrowedFd<'_>,
    opt: libc::c_int,
    value: libc::c_int,
    what: &'static str,
) -> Result<(), SysError> {
    if let Some(errno) = crate::fault::inject(what) {
        return Err(SysError::File {
            path: what.into(),
            error: std::io::Error::from_raw_os_error(errno),
        });
    }
    // SAFETY: `value` is a live c_int and its exact size is passed; the kernel only reads
    // it. The socket fd is borrowed for the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(SysError::File {
            path: what.into(),
            error: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}
