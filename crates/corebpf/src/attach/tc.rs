//! TC programs through tcx links (`BPF_LINK_CREATE` with `BPF_TCX_INGRESS`/`EGRESS`,
//! Linux 6.6). Older kernels need a clsact qdisc and a cls_bpf filter over netlink,
//! which corebpf does not implement yet: there the error says so.

use std::os::fd::AsFd;

use corebpf_sys::{
    probe_feature, AttachTarget, AttachType, Feature, LinkCreateAttr, LinkCreateOpts, ProgType,
    Relative,
};

use super::{attach_err, expect_type, sys_err};
use crate::error::Result;
use crate::link::{Kind, Link};
use crate::program::Program;

/// Which side of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcDirection {
    /// Packets the interface receives.
    Ingress,
    /// Packets the interface sends.
    Egress,
}

impl Program {
    /// Attaches a TC program (`SEC("tc")`, `SEC("tcx/ingress")`, ...) to interface
    /// `ifindex` on `direction`, after the programs already there.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// use corebpf::attach::tc::TcDirection;
    /// let link = obj.program("tc_count").unwrap().attach_tc(3, TcDirection::Ingress)?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_tc(&self, ifindex: u32, direction: TcDirection) -> Result<Link> {
        let (dir, attach_type) = match direction {
            TcDirection::Ingress => ("ingress", AttachType::TcxIngress),
            TcDirection::Egress => ("egress", AttachType::TcxEgress),
        };
        let target = format!("tc {dir} on ifindex {ifindex}");
        expect_type(self, &target, &[ProgType::SchedCls], "attach_tc")?;
        if !probe_feature(Feature::TcxLink) {
            return Err(attach_err(
                self,
                &target,
                "not supported yet on this kernel: needs tcx (Linux 6.6); corebpf does not implement netlink clsact/cls_bpf attachment",
                None,
            ));
        }
        let mut attr =
            LinkCreateAttr::new(self.as_fd(), AttachTarget::Ifindex(ifindex), attach_type);
        attr.opts = LinkCreateOpts::Mprog {
            relative: Relative::None,
            expected_revision: 0,
        };
        let fd = corebpf_sys::link_create(&attr)
            .map_err(|e| sys_err(self, &target, "BPF_LINK_CREATE (tcx)", e))?;
        Ok(Link::new(self, target, Kind::Bpf(fd)))
    }
}
