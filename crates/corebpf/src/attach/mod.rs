//! Attaching programs: one module per kind of attach point, each adding
//! `Program::attach_*` methods that return a [`Link`].
//!
//! | program | method | module |
//! |---|---|---|
//! | kprobe/kretprobe, ksyscall | [`Program::attach_kprobe`], [`Program::attach_kretprobe`], [`Program::attach_kprobe_with`], [`Program::attach_ksyscall`] | [`kprobe`] |
//! | uprobe/uretprobe | [`Program::attach_uprobe`], [`Program::attach_uprobe_offset`] | [`uprobe`] |
//! | usdt | [`Program::attach_usdt`] | [`usdt`] |
//! | kprobe.multi/kretprobe.multi/kprobe.session, uprobe.multi/uretprobe.multi/uprobe.session | [`Program::attach_kprobe_multi`], [`Program::attach_kprobes`], [`Program::attach_uprobe_multi`] | [`multi`] |
//! | tracepoint | [`Program::attach_tracepoint`] | [`tracepoint`] |
//! | raw tracepoint | [`Program::attach_raw_tracepoint`] | [`raw_tp`] |
//! | tp_btf, fentry, fexit, fmod_ret, lsm | [`Program::attach_tracing`] | [`tracing`] |
//! | iter | [`Program::attach_iter`] | [`iter`] |
//! | XDP | [`Program::attach_xdp`] | [`xdp`] |
//! | TC (tcx) | [`Program::attach_tc`] | [`tc`] |
//! | netkit | [`Program::attach_netkit`] | [`netkit`] |
//! | socket filter | [`Program::attach_socket`] | [`socket`] |
//! | cgroup programs | [`Program::attach_cgroup`], [`Program::attach_cgroup_path`] | [`cgroup`] |
//! | sk_skb, sk_msg | [`Program::attach_sockmap`] | [`sockmap`] |
//! | perf_event | [`Program::attach_perf_event`], [`Program::attach_cpu_clock`] | [`perf_event`] |
//! | struct_ops (a map of programs) | [`Map::attach_struct_ops`](crate::map::Map::attach_struct_ops), [`Link::update_map`](crate::Link::update_map) | [`struct_ops`] |
//! | any with a full SEC name | [`Program::attach`], [`Object::attach_all`](crate::Object::attach_all) | [`auto`] |
//!
//! [`Program::attach_kprobe`]: crate::Program::attach_kprobe
//! [`Program::attach_kretprobe`]: crate::Program::attach_kretprobe
//! [`Program::attach_kprobe_with`]: crate::Program::attach_kprobe_with
//! [`Program::attach_ksyscall`]: crate::Program::attach_ksyscall
//! [`Program::attach_uprobe`]: crate::Program::attach_uprobe
//! [`Program::attach_uprobe_offset`]: crate::Program::attach_uprobe_offset
//! [`Program::attach_usdt`]: crate::Program::attach_usdt
//! [`Program::attach_kprobe_multi`]: crate::Program::attach_kprobe_multi
//! [`Program::attach_kprobes`]: crate::Program::attach_kprobes
//! [`Program::attach_uprobe_multi`]: crate::Program::attach_uprobe_multi
//! [`Program::attach_tracepoint`]: crate::Program::attach_tracepoint
//! [`Program::attach_raw_tracepoint`]: crate::Program::attach_raw_tracepoint
//! [`Program::attach_tracing`]: crate::Program::attach_tracing
//! [`Program::attach_iter`]: crate::Program::attach_iter
//! [`Program::attach_xdp`]: crate::Program::attach_xdp
//! [`Program::attach_tc`]: crate::Program::attach_tc
//! [`Program::attach_netkit`]: crate::Program::attach_netkit
//! [`Program::attach_socket`]: crate::Program::attach_socket
//! [`Program::attach_cgroup`]: crate::Program::attach_cgroup
//! [`Program::attach_cgroup_path`]: crate::Program::attach_cgroup_path
//! [`Program::attach_sockmap`]: crate::Program::attach_sockmap
//! [`Program::attach_perf_event`]: crate::Program::attach_perf_event
//! [`Program::attach_cpu_clock`]: crate::Program::attach_cpu_clock
//! [`Program::attach`]: crate::Program::attach
//!
//! Each way of holding a program attached is a type next to the code that makes it,
//! implementing the crate-private `Attachment` trait that [`Link`] calls to detach it,
//! forget it or replace its program: a bpf link fd (`bpf_link`), a perf event and its
//! tracefs probe (`perf`, shared by kprobes, uprobes, tracepoints and sampling events),
//! netlink XDP ([`xdp`]), a netlink cls_bpf filter ([`tc`]), `BPF_PROG_ATTACH`
//! (`prog_attach`, for [`cgroup`] and [`sockmap`]), `SO_ATTACH_BPF` ([`socket`]) and
//! several links as one (`group`). Netlink attachments detach in the network namespace
//! they were made in (`netns`).
//!
//! [`Link`]: crate::link::Link

pub mod auto;
pub(crate) mod bpf_link;
pub mod cgroup;
mod group;
pub mod iter;
pub mod kprobe;
pub mod multi;
pub mod netkit;
mod netns;
mod perf;
pub mod perf_event;
mod prog_attach;
pub mod raw_tp;
pub mod socket;
pub mod sockmap;
pub mod struct_ops;
pub mod tc;
pub mod tracefs;
pub mod tracepoint;
pub mod tracing;
pub mod uprobe;
pub mod usdt;
pub mod xdp;

use std::os::fd::{AsFd, OwnedFd};

use corebpf_sys::SysError;

use crate::error::Error;
use crate::program::Program;

/// An [`Error::Attach`] about `prog` and `target`.
pub(crate) fn attach_err(
    prog: &Program,
    target: &str,
    reason: impl Into<String>,
    source: Option<SysError>,
) -> Error {
    Error::Attach {
        prog: prog.name().to_string(),
        target: target.to_string(),
        reason: reason.into(),
        error: source,
    }
}

/// An [`Error::Attach`] carrying the system error, with `what` failed as the reason.
pub(crate) fn sys_err(prog: &Program, target: &str, what: &str, e: SysError) -> Error {
    attach_err(prog, target, format!("{what}: {e}"), Some(e))
}

/// Duplicates an fd (for attachments that must undo themselves later).
pub(crate) fn dup(prog: &Program, target: &str, fd: impl AsFd) -> crate::Result<OwnedFd> {
    fd.as_fd().try_clone_to_owned().map_err(|e| {
        let e = SysError::File {
            path: "dup".into(),
            error: e,
        };
        sys_err(prog, target, "duplicating an fd", e)
    })
}

/// Checks that `prog` has one of the program types in `types`.
pub(crate) fn expect_type(
    prog: &Program,
    target: &str,
    types: &[corebpf_sys::ProgType],
    method: &str,
) -> crate::Result<()> {
    if types.contains(&prog.prog_type()) {
        return Ok(());
    }
    let names: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    Err(attach_err(
        prog,
        target,
        format!(
            "{method} needs a program of type {}, and SEC(\"{}\") made it {}",
            names.join(" or "),
            prog.section(),
            prog.prog_type()
        ),
        None,
    ))
}
