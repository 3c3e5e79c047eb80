//! Socket filters on any socket (`SO_ATTACH_BPF`): UDP/TCP sockets, or a raw
//! `AF_PACKET` socket bound to an interface as in the classic `sockex1` example.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use corebpf_sys::{ProgType, SysError};

use super::{dup, expect_type, sys_err};
use crate::error::Result;
use crate::link::{Kind, Link};
use crate::program::Program;

fn setsockopt_int(
    sock: BorrowedFd<'_>,
    opt: libc::c_int,
    value: libc::c_int,
    what: &'static str,
) -> std::result::Result<(), SysError> {
    // SAFETY: `value` is a live c_int and its exact size is passed; the socket fd is
    // borrowed for the call. nix has no SO_ATTACH_BPF/SO_DETACH_BPF option.
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
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// `SO_DETACH_BPF`.
pub(crate) fn detach(sock: BorrowedFd<'_>) -> std::result::Result<(), SysError> {
    setsockopt_int(sock, libc::SO_DETACH_BPF, 0, "setsockopt(SO_DETACH_BPF)")
}

impl Program {
    /// Attaches a socket filter (`SEC("socket")`) to `sock`. The link holds a duplicate
    /// of the socket fd, to detach from when dropped.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let link = obj.program("count_bytes").unwrap().attach_socket(&sock)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach_socket(&self, sock: &impl AsFd) -> Result<Link> {
        let target = format!("socket fd {}", sock.as_fd().as_raw_fd());
        expect_type(self, &target, &[ProgType::SocketFilter], "attach_socket")?;
        setsockopt_int(
            sock.as_fd(),
            libc::SO_ATTACH_BPF,
            self.as_fd().as_raw_fd(),
            "setsockopt(SO_ATTACH_BPF)",
        )
        .map_err(|e| sys_err(self, &target, "attaching", e))?;
        let sock = dup(self, &target, sock)?;
        Ok(Link::new(self, target, Kind::Socket { sock }))
    }
}
