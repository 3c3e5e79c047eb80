//! Iterators (`SEC("iter/task")`, ...): a link made with `BPF_LINK_CREATE`, from which
//! [`Link::open_iter`]/[`Link::read_iter`] create instances whose reads run the program.

use std::os::fd::AsFd;

use corebpf_sys::{AttachTarget, AttachType, IterInfo, LinkCreateAttr, LinkCreateOpts};

use super::bpf_link::BpfLink;
use super::{attach_err, sys_err};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

impl Program {
    /// Attaches an iterator program, with its parameters for map, cgroup or task
    /// iterators (`None`: iterate everything). Read its output with [`Link::read_iter`].
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let link = obj.program("dump_tasks").unwrap().attach_iter(None)?;
    /// for line in String::from_utf8_lossy(&link.read_iter()?).lines() {
    ///     println!("{line}");
    /// }
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_iter(&self, info: Option<IterInfo<'_>>) -> Result<Link> {
        let target = format!("iter {}", self.attach_target().unwrap_or("?"));
        if self.expected_attach_type() != Some(AttachType::TraceIter) {
            return Err(attach_err(
                self,
                &target,
                format!(
                    "attach_iter is for SEC(\"iter/...\") programs, and SEC(\"{}\") is not one",
                    self.section()
                ),
                None,
            ));
        }
        let mut attr = LinkCreateAttr::new(self.as_fd(), AttachTarget::None, AttachType::TraceIter);
        attr.opts = LinkCreateOpts::Iter(info);
        let fd = corebpf_sys::link_create(&attr)
            .map_err(|e| sys_err(self, &target, "BPF_LINK_CREATE (iter)", e))?;
        Ok(Link::new(self, target, BpfLink(fd)))
    }
}
