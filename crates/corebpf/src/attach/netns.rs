//! The network namespace an attachment was made in. Interfaces are named by ifindex
//! within a namespace, so netlink attachments (XDP, TC) remember the calling thread's
//! namespace and detach or replace there, whichever thread drops them.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use corebpf_sys::SysError;

/// The calling thread's network namespace at the time of [`Netns::current`] (`None`
/// inside if `/proc/thread-self/ns/net` could not be opened: calls then run in whatever
/// namespace the calling thread is in).
#[derive(Debug)]
pub(crate) struct Netns(Option<OwnedFd>);

impl Netns {
    /// The calling thread's network namespace.
    pub(crate) fn current() -> Netns {
        Netns(
            std::fs::File::open("/proc/thread-self/ns/net")
                .ok()
                .map(OwnedFd::from),
        )
    }

    /// Runs `f` in this network namespace (in a helper thread if that is not the calling
    /// thread's), so ifindex-based netlink calls reach the right interface.
    pub(crate) fn run<T: Send>(
        &self,
        f: impl FnOnce() -> Result<T, SysError> + Send,
    ) -> Result<T, SysError> {
        let Some(ns) = &self.0 else { return f() };
        if netns_ino(Some(ns.as_fd())) == netns_ino(None) {
            return f();
        }
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                    SysError::File {
                        path: "setns(CLONE_NEWNET)".into(),
                        error: e.into(),
                    }
                })?;
                f()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(SysError::File {
                    path: "netns helper thread".into(),
                    error: std::io::Error::other("panicked"),
                })
            })
        })
    }
}

/// The inode of network namespace `fd`, or of the calling thread's with `None`.
fn netns_ino(fd: Option<BorrowedFd<'_>>) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    match fd {
        Some(fd) => {
            let f = std::fs::File::from(fd.try_clone_to_owned().ok()?);
            f.metadata().ok().map(|m| m.ino())
        }
        None => std::fs::metadata("/proc/thread-self/ns/net")
            .ok()
            .map(|m| m.ino()),
    }
}
