//! Raw tracepoints: `BPF_RAW_TRACEPOINT_OPEN` by name (a bpf link).

use std::ffi::CString;
use std::os::fd::AsFd;

use corebpf_sys::ProgType;

use super::bpf_link::BpfLink;
use super::{attach_err, expect_type, sys_err};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

impl Program {
    /// Attaches a `SEC("raw_tp/...")`/`SEC("raw_tracepoint/...")` program to the raw
    /// tracepoint `name` (`sys_enter`, `sched_switch`, ...).
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let link = obj.program("on_sys_enter").unwrap().attach_raw_tracepoint("sys_enter")?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_raw_tracepoint(&self, name: &str) -> Result<Link> {
        let target = format!("raw tracepoint {name}");
        expect_type(
            self,
            &target,
            &[ProgType::RawTracepoint, ProgType::RawTracepointWritable],
            "attach_raw_tracepoint",
        )?;
        let c = CString::new(name)
            .map_err(|_| attach_err(self, &target, "the name contains a NUL byte", None))?;
        let fd = corebpf_sys::raw_tracepoint_open(Some(&c), self.as_fd(), 0).map_err(|e| {
            let hint = if e.is_not_found() {
                format!("no raw tracepoint named '{name}' in this kernel: ")
            } else {
                String::new()
            };
            sys_err(self, &target, &format!("{hint}BPF_RAW_TRACEPOINT_OPEN"), e)
        })?;
        Ok(Link::new(self, target, BpfLink(fd)))
    }
}
