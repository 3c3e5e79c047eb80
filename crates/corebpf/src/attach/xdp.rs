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

use super::{dup, expect_type, sys_err};
use crate::error::Result;
use crate::link::{Kind, Link};
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

/// The inode of the calling thread's network namespace.
fn netns_ino(fd: Option<BorrowedFd<'_>>) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    match fd {
        Some(fd) => {
            let f = std::fs::File::from(fd.try_clone_to_owned().ok()?);
            f.metadata().ok().map(|m| m.ino())
        }
        None => std::fs::metadata("/proc/thread-self/ns/net")
            .ok()
            .map(|m| m.ino()),
    }
}

/// Runs `f` in network namespace `netns` (in a helper thread if that is not the calling
/// thread's), so ifindex-based netlink calls reach the right interface.
pub(crate) fn in_netns<T: Send>(
    netns: Option<&OwnedFd>,
    f: impl FnOnce() -> std::result::Result<T, SysError> + Send,
) -> std::result::Result<T, SysError> {
    let Some(ns) = netns else { return f() };
    if netns_ino(Some(ns.as_fd())) == netns_ino(None) {
        return f();
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                SysError::File {
                    path: "setns(CLONE_NEWNET)".into(),
                    source: e.into(),
                }
            })?;
            f()
        })
        .join()
        .unwrap_or_else(|_| {
            Err(SysError::File {
                path: "netns helper thread".into(),
                source: std::io::Error::other("panicked"),
            })
        })
    })
}

/// Detaches a netlink XDP attachment if `prog` is still the attached program.
pub(crate) fn netlink_detach(
    ifindex: i32,
    flags: u32,
    prog: BorrowedFd<'_>,
    netns: Option<&OwnedFd>,
) -> std::result::Result<(), SysError> {
    in_netns(netns, || {
        let mode = flags & (XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE);
        // Atomic: only if our program is still there (someone may have replaced it).
        corebpf_sys::netlink::xdp_attach(ifindex, None, mode | XDP_FLAGS_REPLACE, Some(prog))
    })
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
                Ok(fd) => return Ok(Link::new(self, target, Kind::Bpf(fd))),
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
        corebpf_sys::netlink::xdp_attach(ifindex as i32, Some(self.as_fd()), flags, None)
            .map_err(|e| sys_err(self, &target, "netlink XDP attach", e))?;
        let prog = dup(self, &target, self)?;
        let netns = std::fs::File::open("/proc/thread-self/ns/net")
            .ok()
            .map(OwnedFd::from);
        Ok(Link::new(
            self,
            target,
            Kind::NetlinkXdp {
                ifindex: ifindex as i32,
                flags,
                prog,
                netns,
            },
        ))
    }
}

/// Whether the kernel has XDP links (Linux 5.9), by its release: an `EINVAL` from a kernel
/// that has them is a real error, not a reason to fall back to netlink.
fn xdp_links_exist() -> bool {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    corebpf_obj::parse_kernel_release(rel.trim()).is_some_and(|v| v >= (5 << 16) | (9 << 8))
}
