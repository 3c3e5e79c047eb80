//! `BPF_PROG_ATTACH` attachments (cgroups without links, sockmaps): no link fd holds
//! them, so the link keeps the target and the program to `BPF_PROG_DETACH` them.

use std::os::fd::{AsFd, OwnedFd};

use corebpf_sys::{AttachTarget, AttachType, ProgAttachAttr, SysError};

use super::dup;
use crate::link::Attachment;
use crate::program::Program;

/// A program attached with `BPF_PROG_ATTACH`, detached with the same arguments.
pub(crate) struct ProgAttachment {
    target: OwnedFd,
    prog: OwnedFd,
    attach_type: AttachType,
}

impl ProgAttachment {
    /// Records `prog`, already attached to `target` (`target_name` in words) as
    /// `attach_type`, keeping duplicates of both fds.
    pub(crate) fn new(
        prog: &Program,
        target_name: &str,
        target: impl AsFd,
        attach_type: AttachType,
    ) -> crate::Result<ProgAttachment> {
        Ok(ProgAttachment {
            target: dup(prog, target_name, target)?,
            prog: dup(prog, target_name, prog)?,
            attach_type,
        })
    }
}

impl Attachment for ProgAttachment {
    fn kind_name(&self) -> &'static str {
        "BPF_PROG_ATTACH attachment"
    }

    fn detach(self: Box<Self>) -> Result<(), SysError> {
        corebpf_sys::prog_detach(&ProgAttachAttr::new(
            AttachTarget::Fd(self.target.as_fd()),
            Some(self.prog.as_fd()),
            self.attach_type,
        ))
    }

    /// Stays attached without any fd of ours.
    fn forget(self: Box<Self>) {}

    fn into_link_fd(self: Box<Self>) -> Result<OwnedFd, Box<dyn Attachment>> {
        Err(self)
    }
}
