//! Several attachments as one link (a sampling program on every CPU): detached, or
//! forgotten, together.

use std::os::fd::OwnedFd;

use corebpf_sys::SysError;

use crate::link::{Attachment, Link};

/// The attachments of several links, held as one.
pub(crate) struct Group(Vec<Box<dyn Attachment>>);

impl Group {
    /// Takes the attachments out of `links`.
    pub(crate) fn new(links: Vec<Link>) -> Group {
        Group(
            links
                .into_iter()
                .filter_map(Link::into_attachment)
                .collect(),
        )
    }
}

impl Attachment for Group {
    fn kind_name(&self) -> &'static str {
        "group of attachments"
    }

    /// Detaches every member, reporting the first failure.
    fn detach(self: Box<Self>) -> Result<(), SysError> {
        let mut first = Ok(());
        for a in self.0 {
            let r = a.detach();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    fn forget(self: Box<Self>) {
        for a in self.0 {
            a.forget();
        }
    }

    fn into_link_fd(self: Box<Self>) -> Result<OwnedFd, Box<dyn Attachment>> {
        Err(self)
    }
}
