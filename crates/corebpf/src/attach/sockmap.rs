//! `sk_skb` and `sk_msg` programs on a sockmap or sockhash (`BPF_PROG_ATTACH` to the map
//! fd), detached with `BPF_PROG_DETACH` when the link goes.

use std::os::fd::AsFd;

use corebpf_sys::{AttachTarget, AttachType, ProgAttachAttr, ProgType};

use super::prog_attach::ProgAttachment;
use super::{attach_err, expect_type, sys_err};
use crate::error::Result;
use crate::link::Link;
use crate::map::Map;
use crate::program::Program;

impl Program {
    /// Attaches an `sk_skb/stream_verdict`, `sk_skb/stream_parser`, `sk_skb/verdict` or
    /// `sk_msg` program to a sockmap/sockhash, with the attach type its SEC name gave.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let link = obj.program("msg_verdict").unwrap().attach_sockmap(obj.map("socks").unwrap())?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_sockmap(&self, map: &Map) -> Result<Link> {
        let attach_type = self.expected_attach_type().ok_or_else(|| {
            attach_err(
                self,
                &format!("sockmap '{}'", map.name()),
                format!(
                    "SEC(\"{}\") says no attach type: use attach_sockmap_with",
                    self.section()
                ),
                None,
            )
        })?;
        self.attach_sockmap_with(map, attach_type)
    }

    /// Attaches to a sockmap/sockhash with an explicit attach type (for `SEC("sk_skb")`).
    pub fn attach_sockmap_with(&self, map: &Map, attach_type: AttachType) -> Result<Link> {
        let target = format!("sockmap '{}' ({attach_type})", map.name());
        expect_type(
            self,
            &target,
            &[ProgType::SkSkb, ProgType::SkMsg],
            "attach_sockmap",
        )?;
        let pa = ProgAttachAttr::new(
            AttachTarget::Fd(map.as_fd()),
            Some(self.as_fd()),
            attach_type,
        );
        // Made before attaching, so that nothing fails once the program is attached.
        let attachment = ProgAttachment::new(self, &target, map, attach_type)?;
        corebpf_sys::prog_attach(&pa).map_err(|e| sys_err(self, &target, "BPF_PROG_ATTACH", e))?;
        Ok(Link::new(self, target, attachment))
    }
}
