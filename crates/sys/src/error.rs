//! The error type of this crate: every failure names the command (or the file) it is about.

use std::io;

use nix::errno::Errno;

/// Kept here so `corebpf_sys::error::UnknownValue` still names it; it is `corebpf-abi`'s.
pub use corebpf_abi::UnknownValue;

/// `ENOTSUPP`, a kernel-internal errno (524) that BPF commands leak to user space.
pub const ENOTSUPP: i32 = 524;

/// Why a system call or a related operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    /// A `bpf(2)`, `perf_event_open(2)`, `ioctl(2)`, `mmap(2)` or netlink call returned an error.
    #[error("{cmd} failed: {}{}", describe_errno(cmd, *errno), render_log(log.as_deref()))]
    Syscall {
        /// The command, e.g. `"BPF_PROG_LOAD"` or `"perf_event_open"`.
        cmd: &'static str,
        /// The raw errno value returned by the kernel.
        errno: i32,
        /// The verifier (or BTF) log the kernel wrote, when one was requested.
        log: Option<String>,
    },
    /// An argument was refused before any system call was made.
    #[error("{cmd}: invalid argument: {reason}")]
    InvalidInput {
        /// The command the argument was meant for.
        cmd: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A kernel facility this operation needs does not exist on this kernel.
    #[error("{what}: {reason}")]
    Unsupported {
        /// The facility, e.g. `"kprobe PMU"`.
        what: &'static str,
        /// A sentence saying what is missing, e.g. "this kernel has no kprobe support".
        reason: String,
    },
    /// Something named does not exist on this system (a tracepoint, a kernel function):
    /// [`SysError::raw_errno`] is `ENOENT`.
    #[error("{reason}")]
    NotFound {
        /// What kind of thing, e.g. `"tracepoint"`.
        what: &'static str,
        /// A sentence naming it and where it was looked for.
        reason: String,
    },
    /// The kernel refused (`EPERM`) a command made with a BPF token: `reason` names what the
    /// token's delegation lacks (a command, map, program or attach type), or says that it
    /// lacks nothing, so the process lacks a capability in the token's user namespace.
    #[error("{cmd} failed: EPERM (Operation not permitted) with a BPF token: {reason}")]
    TokenRefused {
        /// The command, e.g. `"BPF_PROG_LOAD"`.
        cmd: &'static str,
        /// The raw errno (`EPERM`).
        errno: i32,
        /// What the token lacks.
        reason: String,
    },
    /// Reading a kernel-provided file (sysfs, tracefs, procfs) failed.
    #[error("reading {path}: {error}")]
    File {
        /// The file that could not be read or parsed.
        path: String,
        /// The underlying I/O error (in the message; not also a `source()`).
        error: io::Error,
    },
}

impl SysError {
    /// Builds a [`SysError::Syscall`] from the current `errno`.
    pub(crate) fn last(cmd: &'static str) -> Self {
        Self::from_errno(cmd, io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// Builds a [`SysError::Syscall`] from an explicit errno.
    pub(crate) fn from_errno(cmd: &'static str, errno: i32) -> Self {
        SysError::Syscall {
            cmd,
            errno,
            log: None,
        }
    }

    /// Builds a [`SysError::InvalidInput`].
    pub(crate) fn invalid(cmd: &'static str, reason: impl Into<String>) -> Self {
        SysError::InvalidInput {
            cmd,
            reason: reason.into(),
        }
    }

    /// The command or operation this error is about.
    pub fn cmd(&self) -> &str {
        match self {
            SysError::Syscall { cmd, .. }
            | SysError::InvalidInput { cmd, .. }
            | SysError::TokenRefused { cmd, .. } => cmd,
            SysError::Unsupported { what, .. } | SysError::NotFound { what, .. } => what,
            SysError::File { path, .. } => path,
        }
    }

    /// The raw errno, for errors that came from the kernel.
    pub fn raw_errno(&self) -> Option<i32> {
        match self {
            SysError::Syscall { errno, .. } | SysError::TokenRefused { errno, .. } => Some(*errno),
            SysError::File { error, .. } => error.raw_os_error(),
            SysError::NotFound { .. } => Some(libc::ENOENT),
            _ => None,
        }
    }

    /// The errno as a [`nix::errno::Errno`], for errors that came from the kernel.
    pub fn errno(&self) -> Option<Errno> {
        self.raw_errno().map(Errno::from_raw)
    }

    /// The errno as a [`std::io::Error`], for errors that came from the kernel.
    pub fn io_error(&self) -> Option<io::Error> {
        self.raw_errno().map(io::Error::from_raw_os_error)
    }

    /// The verifier or BTF log attached to this error, if the kernel wrote one.
    pub fn log(&self) -> Option<&str> {
        match self {
            SysError::Syscall { log, .. } => log.as_deref(),
            _ => None,
        }
    }

    /// True when the kernel refused for lack of privilege (`EPERM` or `EACCES`).
    ///
    /// Note that `BPF_PROG_LOAD` also returns `EACCES` when the verifier rejects a
    /// program; [`SysError::log`] tells the two apart (a rejection comes with a log).
    pub fn is_permission(&self) -> bool {
        matches!(self.raw_errno(), Some(e) if e == libc::EPERM || e == libc::EACCES)
    }

    /// True when the kernel answered `ENOENT` (no such element, object or file).
    pub fn is_not_found(&self) -> bool {
        self.raw_errno() == Some(libc::ENOENT)
    }

    /// True when the kernel does not support what was asked (`EINVAL`, `E2BIG`,
    /// `EOPNOTSUPP`, `ENOTSUPP`), or a needed facility is missing altogether.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, SysError::Unsupported { .. })
            || matches!(self.raw_errno(), Some(e) if e == libc::EINVAL || e == libc::E2BIG || e == libc::EOPNOTSUPP || e == ENOTSUPP)
    }

    /// Attaches a log text to a [`SysError::Syscall`].
    pub(crate) fn with_log(mut self, text: Option<String>) -> Self {
        if let SysError::Syscall { log, .. } = &mut self {
            *log = text.filter(|t| !t.trim().is_empty());
        }
        self
    }
}

/// The errno's symbolic name, its strerror text, and what it most likely means for `cmd`.
fn describe_errno(cmd: &str, errno: i32) -> String {
    let name = if errno == ENOTSUPP {
        "ENOTSUPP".to_string()
    } else {
        format!("{:?}", Errno::from_raw(errno))
    };
    let text = if errno == ENOTSUPP {
        "Operation not supported".to_string()
    } else {
        io::Error::from_raw_os_error(errno).to_string()
    };
    let text = text.split(" (os error").next().unwrap_or("").to_string();
    let mut out = format!("{name} ({text})");
    if let Some(hint) = meaning(cmd, errno) {
        out.push_str(": ");
        out.push_str(hint);
    }
    out
}

/// A human explanation of the most likely cause of `errno` for `cmd`.
fn meaning(cmd: &str, errno: i32) -> Option<&'static str> {
    let is_bpf = cmd.starts_with("BPF_");
    Some(match errno {
        libc::EPERM if is_bpf || cmd == "perf_event_open" => {
            "permission denied: the process likely lacks CAP_BPF/CAP_SYS_ADMIN (plus CAP_PERFMON or CAP_NET_ADMIN for some program types), or kernel lockdown or an LSM refused it"
        }
        libc::EPERM => "operation not permitted: missing capability (CAP_NET_ADMIN/CAP_SYS_ADMIN) or lockdown",
        libc::EACCES if cmd == "BPF_PROG_LOAD" => {
            "the verifier rejected the program (see the log), or the caller lacks privilege"
        }
        libc::EACCES => "access denied: missing privilege, or the object is read-only (frozen map or BPF_F_RDONLY fd)",
        libc::EINVAL if cmd == "BPF_PROG_LOAD" => {
            "the kernel rejected an attribute or the program (see the log): wrong program type, attach type, flags or instructions"
        }
        libc::EINVAL if cmd == "BPF_BTF_LOAD" => "the kernel rejected the BTF (see the log)",
        libc::EINVAL => "invalid argument: the kernel does not support this combination of type, sizes and flags",
        libc::E2BIG => "the kernel is too old for a requested attribute (unknown non-zero fields), or a size is too large",
        libc::ENOENT => "no such element, object, id or path",
        libc::EEXIST => "the element or object already exists",
        libc::EBUSY => "the target is busy: something is already attached",
        libc::EBADF => "bad file descriptor: not a BPF object of the expected kind",
        libc::ENOMEM => "out of memory: on kernels before 5.11 the RLIMIT_MEMLOCK limit may be too low",
        libc::ENOSPC if cmd == "BPF_PROG_LOAD" || cmd == "BPF_BTF_LOAD" => {
            "the log buffer is too small for the kernel's log"
        }
        libc::ENOSPC => "no space: the map is full or an output buffer is too small",
        libc::EFAULT => "bad address passed to the kernel",
        ENOTSUPP if cmd == "BPF_MAP_LOOKUP_AND_DELETE_ELEM" => {
            "this kernel supports lookup-and-delete only on queue and stack maps (hash maps from 5.14)"
        }
        libc::EOPNOTSUPP | ENOTSUPP => "operation not supported by this kernel or for this object type",
        libc::ENODEV => "no such device (interface index) or PMU",
        libc::ENXIO => "no such device or address",
        libc::ESRCH => "no such process or attach target",
        libc::EAGAIN => "resource temporarily unavailable, retry",
        libc::EINTR => "interrupted by a signal",
        _ => return None,
    })
}

/// Renders a log for Display: on a new line, indented, when present.
fn render_log(log: Option<&str>) -> String {
    match log {
        Some(text) if !text.trim().is_empty() => {
            let mut out = String::from("\nkernel log:\n");
            for line in text.trim_end().lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            out.truncate(out.trim_end().len());
            out
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eperm_display_names_command_and_capabilities() {
        let e = SysError::from_errno("BPF_MAP_CREATE", libc::EPERM);
        let s = e.to_string();
        assert!(s.starts_with("BPF_MAP_CREATE failed: EPERM"), "{s}");
        assert!(
            s.contains("CAP_BPF/CAP_SYS_ADMIN") && s.contains("lockdown"),
            "{s}"
        );
        assert!(e.is_permission());
        assert_eq!(e.errno(), Some(Errno::EPERM));
    }

    #[test]
    fn log_is_rendered_indented() {
        let e = SysError::from_errno("BPF_PROG_LOAD", libc::EACCES)
            .with_log(Some("0: (bf) r0 = r2\nR2 !read_ok\n".into()));
        let s = e.to_string();
        assert!(s.contains("verifier rejected"), "{s}");
        assert!(s.ends_with("\n  0: (bf) r0 = r2\n  R2 !read_ok"), "{s}");
        assert_eq!(e.log(), Some("0: (bf) r0 = r2\nR2 !read_ok\n"));
    }

    #[test]
    fn lookup_and_delete_enotsupp_names_the_kernel_version() {
        let e = SysError::from_errno("BPF_MAP_LOOKUP_AND_DELETE_ELEM", ENOTSUPP);
        let s = e.to_string();
        assert!(
            s.contains("ENOTSUPP") && s.contains("hash maps from 5.14"),
            "{s}"
        );
        assert!(e.is_unsupported());
    }

    #[test]
    fn enotsupp_is_named() {
        let e = SysError::from_errno("BPF_PROG_LOAD", ENOTSUPP);
        assert!(e.to_string().contains("ENOTSUPP"), "{e}");
        assert!(e.is_unsupported());
    }
}
