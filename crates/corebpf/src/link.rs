//! [`Link`]: what every `Program::attach_*` returns. It keeps the program attached while
//! it lives and detaches it when dropped, whatever the mechanism behind it:
//!
//! | attachment | dropped | held by (in `attach/`) |
//! |---|---|---|
//! | a bpf link (`BPF_LINK_CREATE`, `BPF_RAW_TRACEPOINT_OPEN`) | link fd closed | `bpf_link.rs` |
//! | a perf event with a bpf link or `PERF_EVENT_IOC_SET_BPF` | disabled, closed | `perf.rs` |
//! | a tracefs `kprobe_events`/`uprobe_events` probe | event closed, then the probe removed | `perf.rs` |
//! | XDP through netlink | detached from the interface (if still ours) | `xdp.rs` |
//! | TC through netlink (cls_bpf filter) | filter removed (the clsact qdisc stays) | `tc.rs` |
//! | `BPF_PROG_ATTACH` (cgroups without links, sockmaps) | `BPF_PROG_DETACH` | `prog_attach.rs` |
//! | `SO_ATTACH_BPF` on a socket | `SO_DETACH_BPF` | `socket.rs` |
//! | several of these as one (a sampling program on every CPU) | each detached | `group.rs` |
//!
//! Each kind implements the crate-private `Attachment` trait next to the code that
//! creates it; a `Link` holds one and adds the program name and target that its errors
//! and logs report.
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
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use corebpf_sys::info::LinkDetails;
use corebpf_sys::{LinkType, SysError};

use crate::attach::bpf_link::BpfLink;
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

/// One way of holding a program attached (see the table in the module docs),
/// implemented next to the `attach_*` code that creates it. A [`Link`] owns one and asks
/// it to detach, to stay attached for good, or to replace its program.
pub(crate) trait Attachment: Send + Sync {
    /// What this is, in words, for `Debug` and errors (`bpf link`, ...).
    fn kind_name(&self) -> &'static str;

    /// The bpf link fd, if the kernel has a link for this attachment.
    fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Undoes the attachment.
    fn detach(self: Box<Self>) -> std::result::Result<(), SysError>;

    /// Leaves the attachment in place for good, leaking the fds that hold it (if any).
    fn forget(self: Box<Self>);

    /// Replaces the attached program by `prog` without a gap: by default
    /// `BPF_LINK_UPDATE` on the bpf link, for attachments that have one.
    fn update_program(&mut self, prog: BorrowedFd<'_>) -> std::result::Result<(), UpdateError> {
        let fd = self.link_fd().ok_or(UpdateError::NeedsLink)?;
        corebpf_sys::link_update(fd, prog, None).map_err(|source| UpdateError::Failed {
            what: "BPF_LINK_UPDATE",
            source,
        })
    }

    /// The bpf link fd alone, if it keeps the attachment whole (nothing else to tidy
    /// up); otherwise the attachment, unchanged.
    fn into_link_fd(self: Box<Self>) -> std::result::Result<OwnedFd, Box<dyn Attachment>>;
}

/// Why [`Attachment::update_program`] failed.
pub(crate) enum UpdateError {
    /// This attachment cannot replace its program (it is not a bpf link).
    NeedsLink,
    /// The kernel refused: `what` was being done.
    Failed {
        /// The step, in words (`BPF_LINK_UPDATE`).
        what: &'static str,
        /// The kernel's answer.
        source: SysError,
    },
    /// Keeping track of the new program failed (duplicating its fd).
    Sys(SysError),
}

/// An attached program. Dropping it detaches the program (see the [module docs](self));
/// [`Link::forget`] keeps it attached instead.
///
/// `Send` and `Sync`: a link can be dropped (detached) on another thread than the one
/// that attached it; the netlink attachments re-enter their network namespace to detach.
pub struct Link {
    /// `None` only while `detach`, `forget` or `into_fd` take the link apart.
    attachment: Option<Box<dyn Attachment>>,
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
    /// A link of `prog` to `target` (in words), held by `attachment`.
    pub(crate) fn new(
        prog: &Program,
        target: impl Into<String>,
        attachment: impl Attachment + 'static,
    ) -> Link {
        Link {
            attachment: Some(Box::new(attachment)),
            prog: prog.name().to_string(),
            target: target.into(),
        }
    }

    /// A link named `prog` (a program, or a struct_ops map) to `target`, held by
    /// `attachment`.
    pub(crate) fn from_parts(
        prog: &str,
        target: impl Into<String>,
        attachment: impl Attachment + 'static,
    ) -> Link {
        Link {
            attachment: Some(Box::new(attachment)),
            prog: prog.to_string(),
            target: target.into(),
        }
    }

    /// The attachment, taken out of the link (which then drops as a no-op): for
    /// attachments made of several links.
    pub(crate) fn into_attachment(mut self) -> Option<Box<dyn Attachment>> {
        self.attachment.take()
    }

    /// The program's name (for a link from [`Link::from_pinned`]: `prog id N`; for a
    /// registered struct_ops map: the map's name).
    pub fn program_name(&self) -> &str {
        &self.prog
    }

    /// What the program is attached to, in words (`tracepoint syscalls/sys_enter_getpid`).
    pub fn target(&self) -> &str {
        &self.target
    }

    fn kind_name(&self) -> &'static str {
        self.attachment
            .as_ref()
            .map_or("detached attachment", |a| a.kind_name())
    }

    fn err(&self, reason: impl Into<String>, source: Option<SysError>) -> Error {
        Error::Attach {
            prog: self.prog.clone(),
            target: self.target.clone(),
            reason: reason.into(),
            error: source,
        }
    }

    /// The bpf link fd, if this attachment is a bpf link.
    pub fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        self.attachment.as_ref()?.link_fd()
    }

    /// Whether this attachment is a bpf link (can be pinned, has [`Link::info`]).
    pub fn is_bpf_link(&self) -> bool {
        self.link_fd().is_some()
    }

    /// The error for `what` on an attachment that is no bpf link.
    fn needs_link(&self, what: &str) -> Error {
        self.err(
            format!(
                "{what} needs a bpf link, and this is a {} (the kernel has no link for it)",
                self.kind_name()
            ),
            None,
        )
    }

    fn need_link_fd(&self, what: &str) -> Result<BorrowedFd<'_>> {
        self.link_fd().ok_or_else(|| self.needs_link(what))
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
    /// removed ([`crate::pin::unpin`]). Only bpf links can be pinned; a failure to pin is
    /// an [`Error::Pin`] carrying the [`PinError`](crate::pin::PinError).
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
        let path = path.as_ref();
        crate::pin::pin(fd, path).map_err(|source| Error::Pin {
            what: format!(
                "program '{}': pinning its link to {} at {}",
                self.prog,
                self.target,
                path.display()
            ),
            error: source,
        })
    }

    /// Opens a link pinned at `path`. Dropping the returned `Link` leaves the link
    /// attached as long as the pin exists.
    pub fn from_pinned(path: impl AsRef<Path>) -> Result<Link> {
        let path = path.as_ref();
        let fd = corebpf_sys::obj_get(path, 0).map_err(|e| Error::Attach {
            prog: "?".into(),
            target: format!("pinned link {}", path.display()),
            reason: format!("opening: {e}"),
            error: Some(e),
        })?;
        let mut link = Link {
            attachment: Some(Box::new(BpfLink(fd))),
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
        let r = match self.attachment.as_mut() {
            Some(a) => a.update_program(prog.as_fd()),
            None => Err(UpdateError::NeedsLink),
        };
        match r {
            Ok(()) => {
                self.prog = prog.name().to_string();
                Ok(())
            }
            Err(UpdateError::NeedsLink) => Err(self.needs_link("replacing the program")),
            Err(UpdateError::Failed { what, source }) => {
                Err(self.err(format!("{what}: {source}"), Some(source)))
            }
            Err(UpdateError::Sys(e)) => Err(Error::Sys(e)),
        }
    }

    /// Detaches now, reporting failure (dropping detaches too, silently).
    pub fn detach(mut self) -> Result<()> {
        let Some(a) = self.attachment.take() else {
            return Ok(());
        };
        a.detach()
            .map_err(|e| self.err(format!("detaching: {e}"), Some(e)))
    }

    /// Keeps the program attached for good: a bpf link or perf event stays attached until
    /// the process exits (its fd is leaked on purpose, or pin it first to outlive the
    /// process); netlink XDP and TC, `BPF_PROG_ATTACH` and socket attachments stay until
    /// someone detaches them (or the interface, cgroup or socket goes away).
    pub fn forget(mut self) {
        if let Some(a) = self.attachment.take() {
            a.forget();
        }
    }

    /// The bpf link fd, leaving the link attached as long as the fd (or a pin) lives.
    /// Fails, giving the link back, if this attachment is not a bpf link or also holds a
    /// tracefs probe or perf event that the fd alone would not keep tidy.
    pub fn into_fd(mut self) -> std::result::Result<OwnedFd, Link> {
        let Some(a) = self.attachment.take() else {
            return Err(self);
        };
        match a.into_link_fd() {
            Ok(fd) => Ok(fd),
            Err(a) => {
                self.attachment = Some(a);
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
                error: e,
            };
            self.err(format!("reading the iterator: {sys}"), Some(sys))
        })?;
        Ok(out)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let Some(a) = self.attachment.take() else {
            return;
        };
        if let Err(e) = a.detach() {
            log::warn!(
                "prog '{}': detaching from {} failed: {e}",
                self.prog,
                self.target
            );
        }
    }
}
