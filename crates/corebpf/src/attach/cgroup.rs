//! cgroup programs (`cgroup_skb/ingress`, `cgroup/sock_create`, `cgroup/connect4`, ...):
//! a bpf link on the cgroup (`BPF_LINK_CREATE`, Linux 5.7), else `BPF_PROG_ATTACH` with
//! `BPF_F_ALLOW_MULTI`, detached with `BPF_PROG_DETACH` when the link goes.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use corebpf_sys::consts::BPF_F_ALLOW_MULTI;
use corebpf_sys::{AttachTarget, AttachType, LinkCreateAttr, ProgAttachAttr};

use super::bpf_link::BpfLink;
use super::prog_attach::ProgAttachment;
use super::{attach_err, sys_err};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

impl Program {
    /// Attaches a cgroup program to the cgroup open at `cgroup` (a directory fd of cgroup
    /// v2), with the attach type its SEC name gave.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let cg = std::fs::File::open("/sys/fs/cgroup/myapp")?;
    /// let link = obj.program("count_egress").unwrap().attach_cgroup(&cg)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach_cgroup(&self, cgroup: &impl AsFd) -> Result<Link> {
        let attach_type = self.expected_attach_type().ok_or_else(|| {
            attach_err(
                self,
                "cgroup",
                format!(
                    "SEC(\"{}\") says no attach type: use attach_cgroup_with",
                    self.section()
                ),
                None,
            )
        })?;
        self.attach_cgroup_with(cgroup, attach_type)
    }

    /// Attaches a cgroup program with an explicit attach type (for `SEC("cgroup/skb")`
    /// and other names without one).
    pub fn attach_cgroup_with(&self, cgroup: &impl AsFd, attach_type: AttachType) -> Result<Link> {
        let target = format!("cgroup ({attach_type})");
        let attr = LinkCreateAttr::new(self.as_fd(), AttachTarget::Fd(cgroup.as_fd()), attach_type);
        match corebpf_sys::link_create(&attr) {
            Ok(fd) => return Ok(Link::new(self, target, BpfLink(fd))),
            // No cgroup links before 5.7.
            Err(e) if e.raw_errno() == Some(libc::EINVAL) => {
                log::debug!(
                    "prog '{}': cgroup link failed ({e}), using BPF_PROG_ATTACH",
                    self.name()
                );
            }
            Err(e) => return Err(sys_err(self, &target, "BPF_LINK_CREATE (cgroup)", e)),
        }
        let mut pa = ProgAttachAttr::new(
            AttachTarget::Fd(cgroup.as_fd()),
            Some(self.as_fd()),
            attach_type,
        );
        pa.flags = BPF_F_ALLOW_MULTI;
        // Made before attaching, so that nothing fails once the program is attached.
        let attachment = ProgAttachment::new(self, &target, cgroup, attach_type)?;
        corebpf_sys::prog_attach(&pa).map_err(|e| sys_err(self, &target, "BPF_PROG_ATTACH", e))?;
        Ok(Link::new(self, target, attachment))
    }

    /// Opens the cgroup directory `path` (e.g. `/sys/fs/cgroup/myapp`) and attaches to it
    /// as [`Program::attach_cgroup`] does.
    pub fn attach_cgroup_path(&self, path: impl AsRef<Path>) -> Result<Link> {
        let path = path.as_ref();
        let fd: OwnedFd = std::fs::File::open(path)
            .map_err(|e| {
                attach_err(
                    self,
                    &format!("cgroup {}", path.display()),
                    format!("opening the cgroup: {e}"),
                    None,
                )
            })?
            .into();
        let mut link = self.attach_cgroup(&fd)?;
        link.target = format!("cgroup {} ({})", path.display(), link.target);
        Ok(link)
    }
}
