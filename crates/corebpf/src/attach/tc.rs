//! TC programs through tcx links (`BPF_LINK_CREATE` with `BPF_TCX_INGRESS`/`EGRESS`,
//! Linux 6.6) or, on older kernels or when asked, netlink as libbpf's
//! `bpf_tc_hook_create` + `bpf_tc_attach` do: a `clsact` qdisc on the interface (created
//! if missing, and left in place afterwards) and a direct-action `cls_bpf` filter under
//! it. A netlink attachment remembers its network namespace and removes its filter there
//! when dropped.

use std::os::fd::{AsFd, OwnedFd};

use corebpf_sys::{
    probe_feature, AttachTarget, AttachType, Feature, LinkCreateAttr, LinkCreateOpts, ProgType,
    Relative, SysError,
};

use super::bpf_link::BpfLink;
use super::netns::Netns;
use super::{expect_type, sys_err};
use crate::error::Result;
use crate::link::{Attachment, Link};
use crate::program::Program;

/// Which side of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcDirection {
    /// Packets the interface receives.
    Ingress,
    /// Packets the interface sends.
    Egress,
}

/// Options of [`Program::attach_tc_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcOpts {
    /// Attach through netlink (clsact qdisc + cls_bpf filter) even if the kernel has tcx
    /// links. Netlink attachments are not bpf links: they cannot be pinned.
    pub netlink: bool,
    /// With netlink: the filter's handle (0: 1, as libbpf).
    pub handle: u32,
    /// With netlink: the filter's priority (0: 1, as libbpf). Handle and priority
    /// identify the filter: attaching fails if another filter has them.
    pub priority: u16,
}

/// A cls_bpf filter under a clsact qdisc, added through netlink: removed by ifindex,
/// direction, handle and priority, in the network namespace it was added in.
struct NetlinkTc {
    ifindex: i32,
    ingress: bool,
    handle: u32,
    priority: u16,
    netns: Netns,
}

impl Attachment for NetlinkTc {
    fn kind_name(&self) -> &'static str {
        "TC filter attached through netlink"
    }

    fn detach(self: Box<Self>) -> std::result::Result<(), SysError> {
        let NetlinkTc {
            ifindex,
            ingress,
            handle,
            priority,
            ..
        } = *self;
        self.netns
            .run(|| corebpf_sys::netlink::tc_filter_detach(ifindex, ingress, handle, priority))
    }

    /// Stays on the interface without any fd of ours.
    fn forget(self: Box<Self>) {}

    fn into_link_fd(self: Box<Self>) -> std::result::Result<OwnedFd, Box<dyn Attachment>> {
        Err(self)
    }
}

impl Program {
    /// Attaches a TC program (`SEC("tc")`, `SEC("tcx/ingress")`, ...) to interface
    /// `ifindex` on `direction`: with a tcx link after the programs already there, or
    /// before Linux 6.6 as a cls_bpf filter of handle 1 and priority 1 (see
    /// [`Program::attach_tc_with`]).
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// use corebpf::attach::tc::TcDirection;
    /// let link = obj.program("tc_count").unwrap().attach_tc(3, TcDirection::Ingress)?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_tc(&self, ifindex: u32, direction: TcDirection) -> Result<Link> {
        self.attach_tc_with(ifindex, direction, &TcOpts::default())
    }

    /// [`Program::attach_tc`] with options: netlink even where tcx exists, and the
    /// netlink filter's handle and priority.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// use corebpf::attach::tc::{TcDirection, TcOpts};
    /// let opts = TcOpts { netlink: true, ..Default::default() };
    /// let link = obj.program("tc_count").unwrap().attach_tc_with(3, TcDirection::Egress, &opts)?;
    /// assert!(!link.is_bpf_link());
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_tc_with(
        &self,
        ifindex: u32,
        direction: TcDirection,
        opts: &TcOpts,
    ) -> Result<Link> {
        let (dir, attach_type) = match direction {
            TcDirection::Ingress => ("ingress", AttachType::TcxIngress),
            TcDirection::Egress => ("egress", AttachType::TcxEgress),
        };
        let target = format!("tc {dir} on ifindex {ifindex}");
        expect_type(self, &target, &[ProgType::SchedCls], "attach_tc")?;
        if !opts.netlink && probe_feature(Feature::TcxLink) {
            let mut attr =
                LinkCreateAttr::new(self.as_fd(), AttachTarget::Ifindex(ifindex), attach_type);
            attr.opts = LinkCreateOpts::Mprog {
                relative: Relative::None,
                expected_revision: 0,
            };
            let fd = corebpf_sys::link_create(&attr)
                .map_err(|e| sys_err(self, &target, "BPF_LINK_CREATE (tcx)", e))?;
            return Ok(Link::new(self, target, BpfLink(fd)));
        }
        let ingress = direction == TcDirection::Ingress;
        let handle = if opts.handle == 0 { 1 } else { opts.handle };
        let priority = if opts.priority == 0 { 1 } else { opts.priority };
        let target = format!("{target} (netlink cls_bpf, handle {handle}, priority {priority})");
        let created = corebpf_sys::netlink::tc_clsact_create(ifindex as i32).map_err(|e| {
            // An existing clsact qdisc is not an error (EEXIST): it did not exist, so one
            // there now is this request's, applied before its reply was lost.
            let _ = corebpf_sys::netlink::tc_clsact_destroy(ifindex as i32);
            sys_err(self, &target, "creating the clsact qdisc", e)
        })?;
        corebpf_sys::netlink::tc_filter_attach(
            ifindex as i32,
            ingress,
            self.as_fd(),
            self.name(),
            handle,
            priority,
        )
        .map_err(|e| {
            let undo = UndoFilter {
                ifindex: ifindex as i32,
                ingress,
                handle,
                priority,
            };
            undo.run(self, created, &e);
            let what = if e.raw_errno() == Some(libc::EEXIST) {
                "a filter with this handle and priority exists already (choose others in TcOpts): adding the cls_bpf filter"
            } else {
                "adding the cls_bpf filter"
            };
            sys_err(self, &target, what, e)
        })?;
        let attachment = NetlinkTc {
            ifindex: ifindex as i32,
            ingress,
            handle,
            priority,
            netns: Netns::current(),
        };
        Ok(Link::new(self, target, attachment))
    }
}

/// Where a filter add that failed was asked for.
struct UndoFilter {
    ifindex: i32,
    ingress: bool,
    handle: u32,
    priority: u16,
}

impl UndoFilter {
    /// After a failed filter add: removes the clsact qdisc if this attach created it (and
    /// with it anything under it), else the filter if the kernel added it before the reply
    /// was lost (a failed recv) and it runs `prog`. `EEXIST` is the kernel refusing because
    /// a filter was there before (possibly `prog`, attached earlier): nothing to undo.
    fn run(&self, prog: &Program, created_qdisc: bool, e: &corebpf_sys::SysError) {
        use corebpf_sys::netlink::{tc_clsact_destroy, tc_filter_detach, tc_filter_query};
        if created_qdisc {
            let _ = tc_clsact_destroy(self.ifindex);
            return;
        }
        if e.raw_errno() == Some(libc::EEXIST) {
            return;
        }
        let (ifindex, ingress, handle, priority) =
            (self.ifindex, self.ingress, self.handle, self.priority);
        let ours = prog.id().ok();
        if let Ok(Some(id)) = tc_filter_query(ifindex, ingress, handle, priority) {
            if Some(id) == ours {
                let _ = tc_filter_detach(ifindex, ingress, handle, priority);
            }
        }
    }
}
