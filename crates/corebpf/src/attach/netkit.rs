//! netkit programs (`SEC("netkit/primary")`, `SEC("netkit/peer")`) on a netkit device: a
//! bpf link (`BPF_LINK_CREATE` on the ifindex with the program's expected attach type,
//! Linux 6.7), as libbpf's `bpf_program__attach_netkit`. Like tcx, the SEC name names no
//! device, so `attach_all` leaves netkit programs out.

use std::os::fd::AsFd;

use corebpf_sys::{AttachTarget, AttachType, LinkCreateAttr, LinkCreateOpts, ProgType, Relative};

use super::bpf_link::BpfLink;
use super::{attach_err, expect_type, sys_err};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;
use crate::verifier::kernel_older_than;

impl Program {
    /// Attaches a netkit program to the netkit device `ifindex`, on the side its SEC name
    /// says (`netkit/primary`: the primary device, `netkit/peer`: its peer), after the
    /// programs already there.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// // SEC("netkit/primary")
    /// let link = obj.program("nk_policy").unwrap().attach_netkit(7)?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_netkit(&self, ifindex: u32) -> Result<Link> {
        let side = match self.expected_attach_type() {
            Some(AttachType::NetkitPrimary) => "primary",
            Some(AttachType::NetkitPeer) => "peer",
            _ => "?",
        };
        let target = format!("netkit {side} on ifindex {ifindex}");
        expect_type(self, &target, &[ProgType::SchedCls], "attach_netkit")?;
        let Some(attach_type) = self.expected_attach_type().filter(|_| side != "?") else {
            return Err(attach_err(
                self,
                &target,
                format!(
                    "attach_netkit needs a SEC(\"netkit/primary\") or SEC(\"netkit/peer\") program, and SEC(\"{}\") is neither",
                    self.section()
                ),
                None,
            ));
        };
        let mut attr =
            LinkCreateAttr::new(self.as_fd(), AttachTarget::Ifindex(ifindex), attach_type);
        attr.opts = LinkCreateOpts::Mprog {
            relative: Relative::None,
            expected_revision: 0,
        };
        let fd = corebpf_sys::link_create(&attr).map_err(|e| {
            let what = match e.raw_errno() {
                Some(libc::EINVAL) if kernel_older_than("6.7") => {
                    "this kernel has no netkit links (Linux 6.7): BPF_LINK_CREATE (netkit)"
                }
                Some(libc::EINVAL | libc::ENXIO | libc::ENODEV) => {
                    "is the ifindex a netkit device (CONFIG_NETKIT)? BPF_LINK_CREATE (netkit)"
                }
                _ => "BPF_LINK_CREATE (netkit)",
            };
            sys_err(self, &target, what, e)
        })?;
        Ok(Link::new(self, target, BpfLink(fd)))
    }
}
