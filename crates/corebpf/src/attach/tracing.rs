//! BTF-typed tracing programs (`tp_btf`, `fentry`, `fexit`, `fmod_ret`, `lsm`): their
//! target was fixed at load (the attach BTF id), so attaching needs no argument.
//! `BPF_LINK_CREATE` where the kernel takes it (5.13+ for these types), else
//! `BPF_RAW_TRACEPOINT_OPEN` with no name, as libbpf does.

use std::os::fd::AsFd;

use corebpf_sys::{AttachTarget, AttachType, LinkCreateAttr, LinkCreateOpts, ProgType};

use super::bpf_link::BpfLink;
use super::{attach_err, sys_err};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

impl Program {
    /// Attaches a `tp_btf`, `fentry`, `fexit`, `fmod_ret`, `fsession` (Linux 7.0) or `lsm`
    /// program (and their `.s` variants) to the kernel function, tracepoint or LSM hook
    /// named at load.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// // SEC("fentry/do_sys_openat2")
    /// let link = obj.program("on_open").unwrap().attach_tracing()?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_tracing(&self) -> Result<Link> {
        self.attach_tracing_with_cookie(0)
    }

    /// [`Program::attach_tracing`] with a cookie for `bpf_get_attach_cookie()` (needs
    /// tracing links with cookies, Linux 6.0).
    pub fn attach_tracing_with_cookie(&self, cookie: u64) -> Result<Link> {
        let what = match self.expected_attach_type() {
            Some(AttachType::TraceRawTp) => "tp_btf",
            Some(AttachType::TraceFentry) => "fentry",
            Some(AttachType::TraceFexit) => "fexit",
            Some(AttachType::ModifyReturn) => "fmod_ret",
            Some(AttachType::TraceFsession) => "fsession",
            Some(AttachType::LsmMac) => "lsm",
            _ => "",
        };
        let target = format!("{what} {}", self.attach_target().unwrap_or("?"));
        let attach_type = match self.expected_attach_type() {
            Some(t) if !what.is_empty()
                && matches!(self.prog_type(), ProgType::Tracing | ProgType::Lsm) =>
            {
                t
            }
            _ => {
                return Err(attach_err(
                    self,
                    &target,
                    format!(
                        "attach_tracing is for tp_btf/fentry/fexit/fmod_ret/lsm programs, and SEC(\"{}\") is not one",
                        self.section()
                    ),
                    None,
                ))
            }
        };
        if attach_type == AttachType::LsmMac && bpf_lsm_inactive() {
            return Err(attach_err(
                self,
                &target,
                "the BPF LSM is not active on this kernel (/sys/kernel/security/lsm does not list bpf: add it to lsm= on the kernel command line)",
                None,
            ));
        }
        let mut attr = LinkCreateAttr::new(self.as_fd(), AttachTarget::None, attach_type);
        if cookie != 0 {
            attr.opts = LinkCreateOpts::Tracing {
                target_btf_id: 0,
                cookie,
            };
        }
        match corebpf_sys::link_create(&attr) {
            Ok(fd) => Ok(Link::new(self, target, BpfLink(fd))),
            // Kernels before 5.13 have no LINK_CREATE for these: raw_tracepoint_open(NULL).
            Err(e) if e.raw_errno() == Some(libc::EINVAL) && cookie == 0 => {
                let fd = corebpf_sys::raw_tracepoint_open(None, self.as_fd(), 0)
                    .map_err(|e| sys_err(self, &target, "BPF_RAW_TRACEPOINT_OPEN", e))?;
                Ok(Link::new(self, target, BpfLink(fd)))
            }
            Err(e) => Err(sys_err(self, &target, "BPF_LINK_CREATE", e)),
        }
    }
}

/// True if securityfs says the BPF LSM is not among the active LSMs: an LSM program would
/// attach but never run. Unknown (securityfs not mounted) counts as active.
fn bpf_lsm_inactive() -> bool {
    std::fs::read_to_string("/sys/kernel/security/lsm")
        .is_ok_and(|l| !l.split(',').any(|m| m.trim() == "bpf"))
}
