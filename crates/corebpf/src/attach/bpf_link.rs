//! A bpf link fd (`BPF_LINK_CREATE`, `BPF_RAW_TRACEPOINT_OPEN`, a pinned link): the
//! kernel undoes the attachment when the last reference to the link (an fd or a pin)
//! goes.

use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd};

use corebpf_sys::SysError;

use crate::link::Attachment;

/// An attachment held by a bpf link fd.
pub(crate) struct BpfLink(pub(crate) OwnedFd);

impl Attachment for BpfLink {
    fn kind_name(&self) -> &'static str {
        "bpf link"
    }

    fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.0.as_fd())
    }

    fn detach(self: Box<Self>) -> Result<(), SysError> {
        drop(self.0);
        Ok(())
    }

    fn forget(self: Box<Self>) {
        // Leaked on purpose: the link lives until the process exits.
        let _ = self.0.into_raw_fd();
    }

    fn into_link_fd(self: Box<Self>) -> Result<OwnedFd, Box<dyn Attachment>> {
        Ok(self.0)
    }
}
