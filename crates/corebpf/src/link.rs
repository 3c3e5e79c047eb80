//! [`Link`]: what every `Program::attach_*` returns. It keeps the program attached while
//! it lives and detaches it when dropped, whatever the mechanism behind it:
//!
//! | attachment | dropped |
//! |---|---|
//! | a bpf link (`BPF_LINK_CREATE`, `BPF_RAW_TRACEPOINT_OPEN`) | link fd closed |
//! | a perf event with a bpf link or `PERF_EVENT_IOC_SET_BPF` | disabled, closed |
//! | a tracefs `kprobe_events`/`uprobe_events` probe | event closed, then the probe removed |
//! | XDP through netlink | detached from the interface (if still ours) |
//! | TC through netlink (cls_bpf filter) | filter removed (the clsact qdisc stays) |
//! | `BPF_PROG_ATTACH` (cgroups without links, sockmaps) | `BPF_PROG_DETACH` |
//! | `SO_ATTACH_BPF` on a socket | `SO_DETACH_BPF` |
//!
//! Only bpf links can be pinned ([`Link::pin`]): a pinned link stays attached after the
//! process exits, until its pin is removed, and [`Link::from_pinned`] opens it again.
//!
//! ```no_run
//! # let obj: corebpf::Object = todo!();
//! let prog = obj.program("on_getpid").unwrap();
//! let link = prog.attach_tracepoint("syscalls", "sys_enter_getpid")?;
//! println!("link id {}", link.info()?.id);
//! drop(link); // detached
//! # Ok::<(), corebpf::Error>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::path::Path;

use corebpf_sys::info::LinkDetails;
use corebpf_sys::{AttachTarget, AttachType, LinkType, ProgAttachAttr, SysError};

use crate::attach::tracefs::TracefsProbe;
use crate::error::{Error, Result};
use crate::program::Program;

/// What the kernel says about a bpf link ([`Link::info`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The link's id.
    pub id: u32,
    /// The attached program's id.
    pub prog_id: u32,
    /// The link type (raw `enum bpf_link_type`).
    pub link_type_raw: u32,
    /// The link type, if corebpf knows it.
    pub link_type: Option<LinkType>,
    /// The per-type part (tracepoint name, cgroup id, ifindex, ...).
    pub details: LinkDetails,
}

/// How a [`Link`] holds its attachment.
pub(crate) enum Kind {
    /// A bpf link fd.
    Bpf(OwnedFd),
    /// A perf event (kprobe, uprobe, tracepoint, sampling event) carrying the program,
    /// through a bpf link (`link`) or `PERF_EVENT_IOC_SET_BPF`, maybe on a tracefs probe.
    Perf {
        link: Option<OwnedFd>,
        event: OwnedFd,
        probe: Option<TracefsProbe>,
    },
    /// XDP attached through netlink: detached by ifindex, in the netns it was attached in.
    NetlinkXdp {
        ifindex: i32,
        flags: u32,
        prog: OwnedFd,
        netns: Option<OwnedFd>,
    },
    /// A cls_bpf filter under a clsact qdisc, added through netlink: removed by ifindex,
    /// direction, handle and priority, in the netns it was added in.
    NetlinkTc {
        ifindex: i32,
        ingress: bool,
        handle: u32,
        priority: u16,
        netns: Option<OwnedFd>,
    },
    /// `BPF_PROG_ATTACH` to a cgroup or map: `BPF_PROG_DETACH` with the same arguments.
    ProgAttach {
        target: OwnedFd,
        prog: OwnedFd,
        attach_type: AttachType,
    },
    /// `SO_ATTACH_BPF`: the socket (a duplicate fd), to detach from.
    Socket { sock: OwnedFd },
    /// Several attachments as one (a sampling program on every CPU).
    Group(Vec<Link>),
    /// Already detached or forgotten.
    Gone,
}

/// An attached program. Dropping it detaches the program (see the [module docs](self));
/// [`Link::forget`] keeps it attached instead.
pub struct Link {
    pub(crate) kind: Kind,
    pub(crate) prog: String,
    pub(crate) target: String,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("prog", &self.prog)
            .field("target", &self.target)
            .field("kind", &self.kind_name())
            .finish()
    }
}

impl Link {
    pub(crate) fn new(prog: &Program, target: impl Into<String>, kind: Kind) -> Link {
        Link {
            kind,
            prog: prog.name().to_string(),
            target: target.into(),
        }
    }

    /// The program's name (for a link from [`Link::from_pinned`]: `prog id N`).
    pub fn program_name(&self) -> &str {
        &self.prog
    }

    /// What the program is attached to, in words (`tracepoint syscalls/sys_enter_getpid`).
    pub fn target(&self) -> &str {
        &self.target
    }

    fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Bpf(_) => "bpf link",
            Kind::Perf { link: Some(_), .. } => "perf event with a bpf link",
            Kind::Perf { link: None, .. } => "perf event (PERF_EVENT_IOC_SET_BPF)",
            Kind::NetlinkXdp { .. } => "XDP attached through netlink",
            Kind::NetlinkTc { .. } => "TC filter attached through netlink",
            Kind::ProgAttach { .. } => "BPF_PROG_ATTACH attachment",
            Kind::Socket { .. } => "socket filter (SO_ATTACH_BPF)",
            Kind::Group(_) => "group of attachments",
            Kind::Gone => "detached attachment",
        }
    }

    fn err(&self, reason: impl Into<String>, source: Option<SysError>) -> Error {
        Error::Attach {
            prog: self.prog.clone(),
            target: self.target.clone(),
            reason: reason.into(),
            source,
        }
    }

    /// The bpf link fd, if this attachment is a bpf link.
    pub fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.kind {
            Kind::Bpf(fd) => Some(fd.as_fd()),
            Kind::Perf { link: Some(fd), .. } => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// Whether this attachment is a bpf link (can be pinned, has [`Link::info`]).
    pub fn is_bpf_link(&self) -> bool {
        self.link_fd().is_some()
    }

    fn need_link_fd(&self, what: &str) -> Result<BorrowedFd<'_>> {
        self.link_fd().ok_or_else(|| {
            self.err(
                format!(
                    "{what} needs a bpf link, and this is a {} (the kernel has no link for it)",
                    self.kind_name()
                ),
                None,
            )
        })
    }

    /// The kernel's information about the link (`BPF_OBJ_GET_INFO_BY_FD`).
    pub fn info(&self) -> Result<LinkInfo> {
        let fd = self.need_link_fd("link info")?;
        let (info, details) = corebpf_sys::link_details(fd)
            .map_err(|e| self.err(format!("reading link info: {e}"), Some(e)))?;
        Ok(LinkInfo {
            id: info.id,
            prog_id: info.prog_id,
            link_type_raw: info.type_,
            link_type: info.link_type(),
            details,
        })
    }

    /// Pins the link at `path` on a bpffs (parent directories are created): it then stays
    /// attached after this `Link` is dropped and the process exits, until the pin is
    /// removed ([`crate::pin::unpin`]). Only bpf links can be pinned.
    ///
    /// ```no_run
    /// # let link: corebpf::link::Link = todo!();
    /// link.pin("/sys/fs/bpf/myapp/getpid_link")?;
    /// let again = corebpf::link::Link::from_pinned("/sys/fs/bpf/myapp/getpid_link")?;
    /// assert_eq!(again.info()?.id, link.info()?.id);
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        let fd = self.need_link_fd("pinning")?;
        crate::pin::pin(fd, path.as_ref())
            .map_err(|e| self.err(format!("pinning at {}: {e}", path.as_ref().display()), None))
    }

    /// Opens a link pinned at `path`. Dropping the returned `Link` leaves the link
    /// attached as long as the pin exists.
    pub fn from_pinned(path: impl AsRef<Path>) -> Result<Link> {
        let path = path.as_ref();
        let fd = corebpf_sys::obj_get(path, 0).map_err(|e| Error::Attach {
            prog: "?".into(),
            target: format!("pinned link {}", path.display()),
            reason: format!("opening: {e}"),
            source: Some(e),
        })?;
        let mut link = Link {
            kind: Kind::Bpf(fd),
            prog: "?".into(),
            target: format!("pinned link {}", path.display()),
        };
        let info = link.info()?;
        link.prog = format!("prog id {}", info.prog_id);
        Ok(link)
    }

    /// Replaces the attached program by `prog` without a gap (`BPF_LINK_UPDATE`; for XDP
    /// attached through netlink, an atomic `XDP_FLAGS_REPLACE`).
    pub fn update_program(&mut self, prog: &Program) -> Result<()> {
        if let Kind::NetlinkXdp {
            ifindex,
            flags,
            prog: old,
            netns,
        } = &mut self.kind
        {
            let (ifindex, flags) = (*ifindex, *flags);
            let new = prog.as_fd().try_clone_to_owned().map_err(|e| {
                Error::Sys(SysError::File {
                    path: "dup(prog fd)".into(),
                    source: e,
                })
            })?;
            let replace = flags | corebpf_sys::consts::XDP_FLAGS_REPLACE;
            let r = crate::attach::xdp::in_netns(netns.as_ref(), || {
                corebpf_sys::netlink::xdp_attach(
                    ifindex,
                    Some(prog.as_fd()),
                    replace,
                    Some(old.as_fd()),
                )
            });
            return match r {
                Ok(()) => {
                    *old = new;
                    self.prog = prog.name().to_string();
                    Ok(())
                }
                Err(e) => Err(self.err(format!("replacing the XDP program: {e}"), Some(e))),
            };
        }
        let fd = self.need_link_fd("replacing the program")?;
        corebpf_sys::link_update(fd, prog.as_fd(), None)
            .map_err(|e| self.err(format!("BPF_LINK_UPDATE: {e}"), Some(e)))?;
        self.prog = prog.name().to_string();
        Ok(())
    }

    /// Detaches now, reporting failure (dropping detaches too, silently).
    pub fn detach(mut self) -> Result<()> {
        let kind = std::mem::replace(&mut self.kind, Kind::Gone);
        detach_kind(kind).map_err(|e| self.err(format!("detaching: {e}"), Some(e)))
    }

    /// Keeps the program attached for good: a bpf link or perf event stays attached until
    /// the process exits (its fd is leaked on purpose, or pin it first to outlive the
    /// process); netlink XDP and TC, `BPF_PROG_ATTACH` and socket attachments stay until
    /// someone detaches them (or the interface, cgroup or socket goes away).
    pub fn forget(mut self) {
        forget_kind(std::mem::replace(&mut self.kind, Kind::Gone));
    }

    /// The bpf link fd, leaving the link attached as long as the fd (or a pin) lives.
    /// Fails, giving the link back, if this attachment is not a bpf link or also holds a
    /// tracefs probe or perf event that the fd alone would not keep tidy.
    pub fn into_fd(mut self) -> std::result::Result<OwnedFd, Link> {
        match std::mem::replace(&mut self.kind, Kind::Gone) {
            Kind::Bpf(fd) => Ok(fd),
            // The link holds its own reference to the perf event.
            Kind::Perf {
                link: Some(link),
                event: _,
                probe: None,
            } => Ok(link),
            other => {
                self.kind = other;
                Err(self)
            }
        }
    }

    /// For an iterator link ([`Program::attach_iter`]): a new iterator instance
    /// (`BPF_ITER_CREATE`), a file whose reads run the program. Each call starts over.
    pub fn open_iter(&self) -> Result<File> {
        let fd = self.need_link_fd("an iterator")?;
        let it = corebpf_sys::iter_create(fd)
            .map_err(|e| self.err(format!("BPF_ITER_CREATE: {e}"), Some(e)))?;
        Ok(File::from(it))
    }

    /// For an iterator link: runs the iterator once and returns all it wrote.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let link = obj.program("dump_tasks").unwrap().attach_iter(None)?;
    /// let text = String::from_utf8_lossy(&link.read_iter()?).into_owned();
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn read_iter(&self) -> Result<Vec<u8>> {
        let mut f = self.open_iter()?;
        let mut out = Vec::new();
        f.read_to_end(&mut out).map_err(|e| {
            let sys = SysError::File {
                path: "bpf iterator".into(),
                source: e,
            };
            self.err(format!("reading the iterator: {sys}"), Some(sys))
        })?;
        Ok(out)
    }
}

/// Undoes one attachment.
fn detach_kind(kind: Kind) -> std::result::Result<(), SysError> {
    match kind {
        Kind::Bpf(fd) => {
            drop(fd);
            Ok(())
        }
        Kind::Perf { link, event, probe } => {
            let r = match link {
                Some(l) => {
                    drop(l);
                    Ok(())
                }
                None => corebpf_sys::perf::perf_event_disable(event.as_fd()),
            };
            drop(event);
            // The probe can be removed only once no perf event uses it.
            if let Some(p) = probe {
                p.remove()?;
            }
            r
        }
        Kind::NetlinkXdp {
            ifindex,
            flags,
            prog,
            netns,
        } => crate::attach::xdp::netlink_detach(ifindex, flags, prog.as_fd(), netns.as_ref()),
        Kind::NetlinkTc {
            ifindex,
            ingress,
            handle,
            priority,
            netns,
        } => crate::attach::xdp::in_netns(netns.as_ref(), || {
            corebpf_sys::netlink::tc_filter_detach(ifindex, ingress, handle, priority)
        }),
        Kind::ProgAttach {
            target,
            prog,
            attach_type,
        } => corebpf_sys::prog_detach(&ProgAttachAttr::new(
            AttachTarget::Fd(target.as_fd()),
            Some(prog.as_fd()),
            attach_type,
        )),
        Kind::Socket { sock } => crate::attach::socket::detach(sock.as_fd()),
        Kind::Group(links) => {
            let mut first = Ok(());
            for mut l in links {
                let r = detach_kind(std::mem::replace(&mut l.kind, Kind::Gone));
                if first.is_ok() {
                    first = r;
                }
            }
            first
        }
        Kind::Gone => Ok(()),
    }
}

/// Leaves one attachment in place, leaking the fds that hold it.
fn forget_kind(kind: Kind) {
    match kind {
        Kind::Bpf(fd) => {
            let _ = fd.into_raw_fd();
        }
        Kind::Perf { link, event, probe } => {
            if let Some(l) = link {
                let _ = l.into_raw_fd();
            }
            let _ = event.into_raw_fd();
            if let Some(p) = probe {
                p.keep();
            }
        }
        Kind::Group(links) => {
            for l in links {
                l.forget();
            }
        }
        // These stay attached without any fd of ours.
        Kind::NetlinkXdp { .. }
        | Kind::NetlinkTc { .. }
        | Kind::ProgAttach { .. }
        | Kind::Socket { .. }
        | Kind::Gone => {}
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let kind = std::mem::replace(&mut self.kind, Kind::Gone);
        if let Err(e) = detach_kind(kind) {
            log::warn!(
                "prog '{}': detaching from {} failed: {e}",
                self.prog,
                self.target
            );
        }
    }
}
