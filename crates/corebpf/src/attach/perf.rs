//! A program on an open perf event (kprobe, uprobe, tracepoint, sampling event): a bpf
//! link on the event where the kernel has perf links (5.15+), else
//! `PERF_EVENT_IOC_SET_BPF` and enable; maybe on a tracefs probe that goes with it.

use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd};

use corebpf_sys::{
    link_create, probe_feature, AttachTarget, AttachType, Feature, LinkCreateAttr, LinkCreateOpts,
    SysError,
};

use super::tracefs::TracefsProbe;
use super::{attach_err, sys_err};
use crate::link::{Attachment, Link};
use crate::program::Program;

/// A perf event carrying a program, through a bpf link (`link`) or
/// `PERF_EVENT_IOC_SET_BPF`, maybe on a tracefs probe of ours.
pub(crate) struct PerfAttachment {
    link: Option<OwnedFd>,
    event: OwnedFd,
    probe: Option<TracefsProbe>,
}

impl Attachment for PerfAttachment {
    fn kind_name(&self) -> &'static str {
        match self.link {
            Some(_) => "perf event with a bpf link",
            None => "perf event (PERF_EVENT_IOC_SET_BPF)",
        }
    }

    fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        self.link.as_ref().map(|l| l.as_fd())
    }

    /// Closes the link (or disables the event), closes the event, then removes the
    /// probe: a probe can be removed only once no perf event uses it.
    fn detach(self: Box<Self>) -> Result<(), SysError> {
        let PerfAttachment { link, event, probe } = *self;
        let r = match link {
            Some(l) => {
                drop(l);
                Ok(())
            }
            None => corebpf_sys::perf::perf_event_disable(event.as_fd()),
        };
        drop(event);
        if let Some(p) = probe {
            p.remove()?;
        }
        r
    }

    fn forget(self: Box<Self>) {
        let PerfAttachment { link, event, probe } = *self;
        if let Some(l) = link {
            let _ = l.into_raw_fd();
        }
        let _ = event.into_raw_fd();
        if let Some(p) = probe {
            p.keep();
        }
    }

    /// The link alone, when there is no probe to remove: it holds its own reference to
    /// the perf event.
    fn into_link_fd(self: Box<Self>) -> Result<OwnedFd, Box<dyn Attachment>> {
        match *self {
            PerfAttachment {
                link: Some(link),
                event: _,
                probe: None,
            } => Ok(link),
            other => Err(Box::new(other)),
        }
    }
}

/// Puts `prog` on an open perf event (kprobe, uprobe, tracepoint, sampling event): a bpf
/// link where the kernel has perf links (5.15+), else `PERF_EVENT_IOC_SET_BPF` and enable.
/// `probe` is the tracefs probe behind the event, removed when the link goes.
pub(crate) fn attach_perf_event_fd(
    prog: &Program,
    target: String,
    event: OwnedFd,
    probe: Option<TracefsProbe>,
    cookie: u64,
) -> crate::Result<Link> {
    if probe_feature(Feature::PerfLink) {
        let mut attr = LinkCreateAttr::new(
            prog.as_fd(),
            AttachTarget::Fd(event.as_fd()),
            AttachType::PerfEvent,
        );
        attr.opts = LinkCreateOpts::PerfEvent { bpf_cookie: cookie };
        let link = link_create(&attr)
            .map_err(|e| sys_err(prog, &target, "BPF_LINK_CREATE (perf event)", e))?;
        let link = Some(link);
        return Ok(Link::new(
            prog,
            target,
            PerfAttachment { link, event, probe },
        ));
    }
    if cookie != 0 {
        return Err(attach_err(
            prog,
            &target,
            "a bpf cookie needs perf links (Linux 5.15), which this kernel lacks",
            None,
        ));
    }
    corebpf_sys::perf::perf_event_set_bpf(event.as_fd(), prog.as_fd())
        .map_err(|e| sys_err(prog, &target, "PERF_EVENT_IOC_SET_BPF", e))?;
    corebpf_sys::perf::perf_event_enable(event.as_fd())
        .map_err(|e| sys_err(prog, &target, "PERF_EVENT_IOC_ENABLE", e))?;
    let link = None;
    Ok(Link::new(
        prog,
        target,
        PerfAttachment { link, event, probe },
    ))
}
