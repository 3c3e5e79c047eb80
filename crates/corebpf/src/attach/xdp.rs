//! XDP on a network interface: a bpf link (`BPF_LINK_CREATE` with the ifindex, Linux 5.9)
//! or, on older kernels or when asked, netlink (`IFLA_XDP`). Interfaces belong to network
//! namespaces: attach from a thread in the interface's namespace. A netlink attachment
//! remembers its namespace and detaches there.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use corebpf_sys::consts::{
    XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_REPLACE, XDP_FLAGS_SKB_MODE,
    XDP_FLAGS_UPDATE_IF_NOEXIST,
};
use corebpf_sys::{AttachTarget, AttachType, LinkCreateAttr, ProgType, SysError};

use super::bpf_link::BpfLink;
use super::netns::Netns;
use super::{dup, expect_type, sys_err};
use crate::error::Result;
use crate::link::{Attachment, Link, UpdateError};
use crate::program::Program;

/// Where XDP runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// The driver's mode if it has one, else generic (the kernel chooses).
    #[default]
    Auto,
    /// Generic XDP on the skb (`XDP_FLAGS_SKB_MODE`), for any interface.
    Skb,
    /// Native, in the driver (`XDP_FLAGS_DRV_MODE`).
    Drv,
    /// Offloaded to the NIC (`XDP_FLAGS_HW_MODE`).
    Hw,
}

impl XdpMode {
    fn flags(self) -> u32 {
        match self {
            XdpMode::Auto => 0,
            XdpMode::Skb => XDP_FLAGS_SKB_MODE,
            XdpMode::Drv => XDP_FLAGS_DRV_MODE,
            XdpMode::Hw => XDP_FLAGS_HW_MODE,
        }
    }
}

/// Options of [`Program::attach_xdp`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdpOpts {
    /// Mode.
    pub mode: XdpMode,
    /// Attach through netlink even if the kernel has XDP links. Netlink attachments are
    /// not bpf links: they cannot be pinned, and they replace whatever program was
    /// attached unless `no_replace` is set.
    pub netlink: bool,
    /// With netlink: fail if a program is attached already (`XDP_FLAGS_UPDATE_IF_NOEXIST`).
    pub no_replace: bool,
}

/// XDP attached through netlink: detached by ifindex, in the network namespace it was
/// attached in, and only if `prog` is still the attached program.
struct NetlinkXdp {
    ifindex: i32,
    flags: u32,
    prog: OwnedFd,
    netns: Netns,
}

impl Attachment for NetlinkXdp {
    fn kind_name(&self) -> &'static str {
        "XDP attached through netlink"
    }

    fn detach(self: Box<Self>) -> std::result::Result<(), SysError> {
        let (ifindex, prog) = (self.ifindex, self.prog.as_fd());
        let mode = self.flags & (XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE);
        self.netns.run(|| {
            // Atomic: only if our program is still there (someone may have replaced it).
            corebpf_sys::netlink::xdp_attach(ifindex, None, mode | XDP_FLAGS_REPLACE, Some(prog))
        })
    }

    /// Stays attached to the interface without any fd of ours.
    fn forget(self: Box<Self>) {}

    /// An atomic `XDP_FLAGS_REPLACE` of our program by `prog`, in the attachment's
    /// network namespace.
    fn update_program(&mut self, prog: BorrowedFd<'_>) -> std::result::Result<(), UpdateError> {
        let new = prog.try_clone_to_owned().map_err(|e| {
            UpdateError::Sys(SysError::File {
                path: "dup(prog fd)".into(),
                error: e,
            })
        })?;
        let (ifindex, old) = (self.ifindex, self.prog.as_fd());
        let replace = self.flags | XDP_FLAGS_REPLACE;
        self.netns
            .run(|| corebpf_sys::netlink::xdp_attach(ifindex, Some(prog), replace, Some(old)))
            .map_err(|source| UpdateError::Failed {
                what: "replacing the XDP program",
                source,
            })?;
        self.prog = new;
        Ok(())
    }

    fn into_link_fd(self: Box<Self>) -> std::result::Result<OwnedFd, Box<dyn Attachment>> {
        Err(self)
    }
}

impl Program {
    /// Attaches an XDP program to interface `ifindex` (see
    /// [`corebpf_sys::netlink::ifindex`] to get it from a name).
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// use corebpf::attach::xdp::XdpOpts;
    /// let ifindex = corebpf::sys::netlink::ifindex("eth0")? as u32;
    /// let link = obj.program("xdp_count").unwrap().attach_xdp(ifindex, &XdpOpts::default())?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_xdp(&self, ifindex: u32, opts: &XdpOpts) -> Result<Link> {
        let target = format!("xdp on ifindex {ifindex}");
        expect_type(self, &target, &[ProgType::Xdp], "attach_xdp")?;
        if !opts.netlink {
            let mut attr = LinkCreateAttr::new(
                self.as_fd(),
                AttachTarget::Ifindex(ifindex),
                AttachType::Xdp,
            );
            attr.flags = opts.mode.flags();
            match corebpf_sys::link_create(&attr) {
                Ok(fd) => return Ok(Link::new(self, target, BpfLink(fd))),
                // Before 5.9 there are no XDP links: netlink then.
                Err(e) if e.raw_errno() == Some(libc::EINVAL) && !xdp_links_exist() => {}
                Err(e) => {
                    let hint = if e.raw_errno() == Some(libc::EBUSY) {
                        "another XDP program is attached (detach it, or replace it with Link::update_program): "
                    } else {
                        ""
                    };
                    return Err(sys_err(self, &target, &format!("{hint}BPF_LINK_CREATE"), e));
                }
            }
        }
        let mut flags = opts.mode.flags();
        if opts.no_replace {
            flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
        }
        let attached =
            corebpf_sys::netlink::xdp_attach(ifindex as i32, Some(self.as_fd()), flags, None)
                .map_err(|e| sys_err(self, &target, "netlink XDP attach", e))
                .and_then(|()| dup(self, &target, self));
        let prog = match attached {
            Ok(prog) => prog,
            // The kernel refused because a program was there before (possibly this one,
            // attached earlier): nothing to undo.
            Err(e) if matches!(e.raw_errno(), Some(libc::EBUSY | libc::EEXIST)) => return Err(e),
            Err(e) => {
                // The kernel may have attached it before the reply was lost (a failed recv),
                // or the dup failed: detach it, only if it is ours.
                let mode = flags & (XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE);
                let replace = mode | XDP_FLAGS_REPLACE;
                let _ = corebpf_sys::netlink::xdp_attach(
                    ifindex as i32,
                    None,
                    replace,
                    Some(self.as_fd()),
                );
                return Err(e);
            }
        };
        let attachment = NetlinkXdp {
            ifindex: ifindex as i32,
            flags,
            prog,
            netns: Netns::current(),
        };
        Ok(Link::new(self, target, attachment))
    }
}

/// Whether the kernel has XDP links (Linux 5.9), by its release: an `EINVAL` from a kernel
/// that has them is a real error, not a reason to fall back to netlink.
fn xdp_links_exist() -> bool {
    crate::kernel::release_version().is_some_and(|v| v >= (5 << 16) | (9 << 8))
}
