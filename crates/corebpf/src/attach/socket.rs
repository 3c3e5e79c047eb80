//! Socket filters on any socket (`SO_ATTACH_BPF`): UDP/TCP sockets, or a raw
//! `AF_PACKET` socket bound to an interface as in the classic `sockex1` example.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use corebpf_sys::socket::{attach_bpf, detach_bpf};
use corebpf_sys::{ProgType, SysError};

use super::{dup, expect_type, sys_err};
use crate::error::Result;
use crate::link::{Attachment, Link};
use crate::program::Program;

/// A socket filter attached with `SO_ATTACH_BPF`: the socket (a duplicate fd), to detach
/// from.
struct SocketFilter {
    sock: OwnedFd,
}

impl Attachment for SocketFilter {
    fn kind_name(&self) -> &'static str {
        "socket filter (SO_ATTACH_BPF)"
    }

    fn detach(self: Box<Self>) -> std::result::Result<(), SysError> {
        detach_bpf(self.sock.as_fd())
    }

    /// Stays attached as long as the socket lives, without our duplicate.
    fn forget(self: Box<Self>) {}

    fn into_link_fd(self: Box<Self>) -> std::result::Result<OwnedFd, Box<dyn Attachment>> {
        Err(self)
    }
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
        attach_bpf(sock.as_fd(), self.as_fd())
            .map_err(|e| sys_err(self, &target, "attaching", e))?;
        let sock = dup(self, &target, sock)?;
        Ok(Link::new(self, target, SocketFilter { sock }))
    }
}
