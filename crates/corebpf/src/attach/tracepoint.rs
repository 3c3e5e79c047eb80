//! Tracepoints: a perf event on the tracepoint's id (from tracefs), carrying the program.

use corebpf_sys::ProgType;

use super::perf::attach_perf_event_fd;
use super::{expect_type, sys_err, tracefs};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

impl Program {
    /// Attaches a `SEC("tracepoint/...")`/`SEC("tp/...")` program to tracepoint
    /// `category/name` (as in `/sys/kernel/tracing/events/<category>/<name>`).
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let link = obj.program("on_getpid").unwrap()
    ///     .attach_tracepoint("syscalls", "sys_enter_getpid")?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_tracepoint(&self, category: &str, name: &str) -> Result<Link> {
        let target = format!("tracepoint {category}/{name}");
        expect_type(self, &target, &[ProgType::Tracepoint], "attach_tracepoint")?;
        let id = tracefs::tracepoint_id(category, name)
            .map_err(|e| sys_err(self, &target, "finding the tracepoint", e))?;
        let event = corebpf_sys::perf::perf_event_open_tracepoint(id)
            .map_err(|e| sys_err(self, &target, "opening the tracepoint perf event", e))?;
        attach_perf_event_fd(self, target, event, None, 0).map_err(explain_ctx_too_big)
    }
}

/// The kernel refuses (EACCES) a tracepoint program that reads past the tracepoint's
/// record, e.g. one written for `raw_syscalls/sys_enter`'s context attached to
/// `syscalls/sys_enter_getpid`: say so, as EACCES alone reads like a privilege problem.
fn explain_ctx_too_big(e: crate::Error) -> crate::Error {
    match e {
        crate::Error::Attach {
            prog,
            target,
            reason,
            error: Some(error),
        } if error.raw_errno() == Some(libc::EACCES) => crate::Error::Attach {
            reason: format!(
                "{reason} (for a tracepoint, EACCES means the program reads its context past \
                 the end of this tracepoint's record: check that its context type matches \
                 the tracepoint's format file)"
            ),
            prog,
            target,
            error: Some(error),
        },
        other => other,
    }
}
