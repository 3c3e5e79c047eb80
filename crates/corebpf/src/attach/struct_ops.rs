//! Registering struct_ops maps (libbpf's `bpf_map__attach_struct_ops`): writing a
//! `.struct_ops` map's value registers the ops with the kernel subsystem (a TCP congestion
//! control, a sched_ext scheduler) and deleting it unregisters them; a `.struct_ops.link`
//! map (`BPF_F_LINK`) is registered by a bpf link (`BPF_LINK_CREATE` with
//! `BPF_STRUCT_OPS`), unregistered when the link goes, and [`Link::update_map`] swaps in
//! another map of the same ops type without a gap.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use corebpf_sys::consts::BPF_F_LINK;
use corebpf_sys::{
    link_create, AttachTarget, AttachType, LinkCreateAttr, MapFd, MapType, SysError,
};

use super::bpf_link::BpfLink;
use crate::error::{Error, Result};
use crate::link::{Attachment, Link};
use crate::map::Map;
use crate::object::Object;

/// A `.struct_ops` map registered by writing its value: unregistered by deleting it.
struct Registered(MapFd);

impl Attachment for Registered {
    fn kind_name(&self) -> &'static str {
        "struct_ops map registration"
    }

    fn detach(self: Box<Self>) -> std::result::Result<(), SysError> {
        corebpf_sys::map_delete_elem(&self.0, &0u32.to_ne_bytes()).map(|_| ())
    }

    fn forget(self: Box<Self>) {
        // The registration stays; the map fd is closed (the kernel keeps the map while the
        // ops are registered).
    }

    fn into_link_fd(self: Box<Self>) -> std::result::Result<OwnedFd, Box<dyn Attachment>> {
        Err(self)
    }
}

fn so_err(map: &Map, reason: impl Into<String>, source: Option<SysError>) -> Error {
    Error::StructOps {
        map: map.name().to_string(),
        reason: reason.into(),
        error: source,
    }
}

impl Map {
    /// Registers this struct_ops map (loaded from an object) with the kernel: its ops
    /// become usable (a congestion control selectable by name, a scheduler running tasks)
    /// until the returned [`Link`] drops. A `.struct_ops.link` map gets a bpf link (which
    /// can be pinned, or [updated](Link::update_map) to another map); a `.struct_ops` map
    /// is registered by writing its value and unregistered by deleting it.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let link = obj.map("corebpf_cc").unwrap().attach_struct_ops()?;
    /// // sockets may now use setsockopt(TCP_CONGESTION, "corebpf_cc")
    /// drop(link); // unregistered
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_struct_ops(&self) -> Result<Link> {
        let value = self.struct_ops_value().ok_or_else(|| {
            so_err(
                self,
                "not a struct_ops map loaded from an object (no value to register)",
                None,
            )
        })?;
        let target = format!("struct_ops {}", value.type_name);
        let linked = self.info().map_flags & BPF_F_LINK != 0;
        // What unregisters is made before registering: nothing may fail in between, or the
        // ops would stay registered with nothing left to unregister them.
        let unregister = if linked { None } else { Some(self.dup_fd()?) };
        self.write_struct_ops_value(linked)?;
        if let Some(fd) = unregister {
            return Ok(Link::from_parts(self.name(), target, Registered(fd)));
        }
        let attr = LinkCreateAttr::new(self.as_fd(), AttachTarget::None, AttachType::StructOps);
        let fd = link_create(&attr)
            .map_err(|e| so_err(self, format!("creating its bpf link: {e}"), Some(e)))?;
        log::debug!("map '{}': registered through a bpf link", self.name());
        Ok(Link::from_parts(self.name(), target, BpfLink(fd)))
    }

    /// For a struct_ops map loaded from an object: its ops type (`tcp_congestion_ops`) and
    /// its function pointer members with the programs they point to.
    pub fn struct_ops_members(&self) -> Option<(&str, Vec<(&str, &str)>)> {
        let v = self.struct_ops_value()?;
        let members = v
            .funcs
            .iter()
            .map(|(m, p)| (m.as_str(), p.as_str()))
            .collect();
        Some((v.type_name.as_str(), members))
    }

    /// Writes the value with the programs' fds. A `.struct_ops.link` map already written
    /// (it registered or was swapped into a link before) says EBUSY: its value never
    /// changes once written, so that is fine, as libbpf has it.
    fn write_struct_ops_value(&self, linked: bool) -> Result<()> {
        let value = self.struct_ops_value().map(|v| v.value.as_slice());
        let value = value.unwrap_or_default();
        match self.update(&0u32.to_ne_bytes(), value, 0) {
            Ok(()) => Ok(()),
            Err(e) if linked && e.raw_errno() == Some(libc::EBUSY) => Ok(()),
            Err(e) if e.raw_errno() == Some(libc::EBUSY) => Err(so_err(
                self,
                "a .struct_ops map registers only once (the kernel does not reuse it after \
                 it was unregistered): load the object again, or use a .struct_ops.link map",
                Some(SysError::Syscall {
                    cmd: "BPF_MAP_UPDATE_ELEM",
                    errno: libc::EBUSY,
                    log: None,
                }),
            )),
            Err(e) => Err(so_err(
                self,
                format!("writing its value (which registers it): {e}"),
                e.raw_errno().map(|errno| SysError::Syscall {
                    cmd: "BPF_MAP_UPDATE_ELEM",
                    errno,
                    log: None,
                }),
            )),
        }
    }

    /// A second handle on this map (no `bpf(2)` call: the info is copied).
    fn dup_fd(&self) -> Result<MapFd> {
        self.map_fd().try_clone().map_err(|e| {
            let errno = e.raw_os_error().unwrap_or(0);
            let source = SysError::Syscall {
                cmd: "dup",
                errno,
                log: None,
            };
            so_err(self, format!("duplicating its fd: {e}"), Some(source))
        })
    }
}

impl Link {
    /// Swaps the struct_ops map behind this link (from [`Map::attach_struct_ops`] on a
    /// `.struct_ops.link` map) for `map`, another `.struct_ops.link` map of the same ops
    /// type: the kernel replaces the registered ops atomically (libbpf's
    /// `bpf_link__update_map`; a TCP congestion control keeps its name across the swap).
    pub fn update_map(&mut self, map: &Map) -> Result<()> {
        if map.info().map_type() != Some(MapType::StructOps) || map.struct_ops_value().is_none() {
            return Err(so_err(
                map,
                "not a struct_ops map loaded from an object",
                None,
            ));
        }
        if map.info().map_flags & BPF_F_LINK == 0 {
            return Err(so_err(
                map,
                "only a .struct_ops.link map (BPF_F_LINK) can replace another in a link",
                None,
            ));
        }
        let link = self.struct_ops_link_fd(map)?;
        map.write_struct_ops_value(true)?;
        corebpf_sys::link_update(link, map.as_fd(), None)
            .map_err(|e| so_err(map, format!("BPF_LINK_UPDATE: {e}"), Some(e)))?;
        self.prog = map.name().to_string();
        Ok(())
    }

    fn struct_ops_link_fd(&self, map: &Map) -> Result<BorrowedFd<'_>> {
        self.link_fd().ok_or_else(|| {
            so_err(
                map,
                format!(
                    "the link of '{}' is no bpf link (a .struct_ops map is registered \
                     without one)",
                    self.prog
                ),
                None,
            )
        })
    }
}

impl Object {
    /// Registers struct_ops map `name` (see [`Map::attach_struct_ops`]).
    pub fn attach_struct_ops(&self, name: &str) -> Result<Link> {
        self.map(name)
            .ok_or_else(|| Error::NotFound {
                what: "map",
                name: name.to_string(),
                object: self.name().to_string(),
            })?
            .attach_struct_ops()
    }

    /// Registers every struct_ops map the object created, in map order, as a libbpf
    /// skeleton's `attach` does.
    pub(crate) fn attach_struct_ops_all(&self) -> Result<Vec<Link>> {
        self.maps()
            .filter(|(_, m)| m.struct_ops_value().is_some())
            .map(|(_, m)| m.attach_struct_ops())
            .collect()
    }
}
