//! Link commands: `BPF_LINK_CREATE` (with the per-attach-type options),
//! `BPF_LINK_UPDATE`, `BPF_LINK_DETACH`, `BPF_RAW_TRACEPOINT_OPEN` and `BPF_ITER_CREATE`.

use std::ffi::{c_char, CStr};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::attr::{self, LinkCreateExtra};
use crate::consts::{AttachType, Cmd};
use crate::error::SysError;
use crate::map::fd_u32;
use crate::probe::{probe_feature, Feature};
use crate::prog::{AttachTarget, Relative};
use crate::sys::{len_u32, ptr_of, sys_bpf, sys_bpf_fd};

/// Parameters of an iterator link (`union bpf_iter_link_info`).
#[derive(Debug, Clone, Copy)]
pub enum IterInfo<'a> {
    /// Iterate a map's elements.
    Map {
        /// The map.
        map_fd: BorrowedFd<'a>,
    },
    /// Iterate cgroups.
    Cgroup {
        /// `enum bpf_cgroup_iter_order`.
        order: u32,
        /// Starting cgroup fd (or absent, with `cgroup_id`).
        cgroup_fd: Option<BorrowedFd<'a>>,
        /// Starting cgroup id.
        cgroup_id: u64,
    },
    /// Iterate one task (or process) only.
    Task {
        /// Thread id.
        tid: u32,
        /// Process id.
        pid: u32,
        /// Pidfd.
        pid_fd: Option<BorrowedFd<'a>>,
    },
}

impl IterInfo<'_> {
    /// The 16-byte `union bpf_iter_link_info`.
    fn encode(&self) -> [u64; 2] {
        match self {
            IterInfo::Map { map_fd } => [map_fd.as_raw_fd() as u32 as u64, 0],
            IterInfo::Cgroup {
                order,
                cgroup_fd,
                cgroup_id,
            } => [
                (*order as u64) | ((fd_u32(*cgroup_fd) as u64) << 32),
                *cgroup_id,
            ],
            IterInfo::Task { tid, pid, pid_fd } => [
                (*tid as u64) | ((*pid as u64) << 32),
                fd_u32(*pid_fd) as u64,
            ],
        }
    }
}

/// The per-attach-type part of `BPF_LINK_CREATE`.
#[derive(Debug, Clone, Copy, Default)]
pub enum LinkCreateOpts<'a> {
    /// Nothing beyond target and attach type (XDP, cgroup, netns, sk_lookup, ...).
    #[default]
    None,
    /// `target_btf_id` (e.g. freplace/fentry to a BPF program target).
    TargetBtfId(u32),
    /// Iterator parameters (`BPF_TRACE_ITER`).
    Iter(Option<IterInfo<'a>>),
    /// `BPF_PERF_EVENT`: the cookie `bpf_get_attach_cookie()` returns.
    PerfEvent {
        /// Attach cookie.
        bpf_cookie: u64,
    },
    /// fentry/fexit/fmod_ret/lsm/raw_tp links with a cookie.
    Tracing {
        /// BTF id of the target (0 for the program's own).
        target_btf_id: u32,
        /// Attach cookie.
        cookie: u64,
    },
    /// `BPF_TRACE_KPROBE_MULTI` / `BPF_TRACE_KPROBE_SESSION`: symbols or addresses.
    KprobeMulti {
        /// `BPF_F_KPROBE_MULTI_RETURN`.
        flags: u32,
        /// Symbol names (exclusive with `addrs`).
        syms: &'a [&'a CStr],
        /// Addresses (exclusive with `syms`).
        addrs: &'a [u64],
        /// Cookies, one per probe, or empty.
        cookies: &'a [u64],
    },
    /// `BPF_TRACE_UPROBE_MULTI` / `BPF_TRACE_UPROBE_SESSION`.
    UprobeMulti {
        /// Path of the binary.
        path: &'a CStr,
        /// File offsets.
        offsets: &'a [u64],
        /// Reference counter (semaphore) offsets, one per probe, or empty.
        ref_ctr_offsets: &'a [u64],
        /// Cookies, one per probe, or empty.
        cookies: &'a [u64],
        /// `BPF_F_UPROBE_MULTI_RETURN`.
        flags: u32,
        /// Restrict to this process (0: all).
        pid: u32,
    },
    /// `BPF_NETFILTER`.
    Netfilter {
        /// Protocol family (`NFPROTO_*`).
        pf: u32,
        /// Hook number.
        hooknum: u32,
        /// Priority.
        priority: i32,
        /// Flags.
        flags: u32,
    },
    /// `BPF_TCX_*`, `BPF_NETKIT_*` and mprog cgroup links: position and revision.
    Mprog {
        /// Anchor.
        relative: Relative<'a>,
        /// Expected revision, 0 for any.
        expected_revision: u64,
    },
}

/// Arguments of `BPF_LINK_CREATE`.
#[derive(Debug, Clone, Copy)]
pub struct LinkCreateAttr<'a> {
    /// The program (or struct_ops map).
    pub prog: BorrowedFd<'a>,
    /// Target object.
    pub target: AttachTarget<'a>,
    /// Attach type.
    pub attach_type: AttachType,
    /// Link flags (`BPF_F_BEFORE`/`AFTER` for mprog, `XDP_FLAGS_*` for XDP).
    pub flags: u32,
    /// Per-attach-type options.
    pub opts: LinkCreateOpts<'a>,
}

impl<'a> LinkCreateAttr<'a> {
    /// A link of `prog` to `target` with `attach_type` and no options.
    pub fn new(prog: BorrowedFd<'a>, target: AttachTarget<'a>, attach_type: AttachType) -> Self {
        LinkCreateAttr {
            prog,
            target,
            attach_type,
            flags: 0,
            opts: LinkCreateOpts::None,
        }
    }
}

fn same_len_or_empty(what: &str, got: usize, want: usize) -> Result<(), SysError> {
    if got != 0 && got != want {
        return Err(SysError::invalid(
            Cmd::LinkCreate.kernel_name(),
            format!("{what} has {got} entries, expected {want} or none"),
        ));
    }
    Ok(())
}

/// `BPF_LINK_CREATE`.
///
/// Link kinds that arrived after links themselves fail on older kernels with a bare
/// `EINVAL` (or `EOPNOTSUPP` when configured out). When that happens for one of them and the feature probe confirms that the
/// kernel lacks it, the error is [`SysError::Unsupported`] naming the missing feature,
/// the kernel version that added it and the alternative:
///
/// | attach type | feature | since | without it |
/// |---|---|---|---|
/// | `BPF_PERF_EVENT` | [`Feature::PerfLink`] | 5.15 | `PERF_EVENT_IOC_SET_BPF` ([`crate::perf::perf_event_set_bpf`]) |
/// | `BPF_TCX_INGRESS`/`EGRESS` | [`Feature::TcxLink`] | 6.6 | `cls_bpf` through netlink (tc) |
/// | `BPF_TRACE_KPROBE_MULTI` | [`Feature::KprobeMultiLink`] | 5.18 (and fprobe) | one kprobe perf event per function |
/// | `BPF_TRACE_UPROBE_MULTI` | [`Feature::UprobeMultiLink`] | 6.6 | one uprobe perf event per offset |
///
/// Any other failure is returned as the kernel's errno ([`SysError::Syscall`]).
pub fn link_create(spec: &LinkCreateAttr<'_>) -> Result<OwnedFd, SysError> {
    link_create_raw(spec).map_err(|e| {
        let errno = match e.raw_errno() {
            Some(libc::EINVAL) => "EINVAL",
            Some(libc::EOPNOTSUPP) => "EOPNOTSUPP",
            _ => return e,
        };
        let (feature, since, instead) = match spec.attach_type {
            AttachType::PerfEvent => (
                Feature::PerfLink,
                "5.15",
                "attach with PERF_EVENT_IOC_SET_BPF instead",
            ),
            AttachType::TcxIngress | AttachType::TcxEgress => (
                Feature::TcxLink,
                "6.6",
                "attach a cls_bpf filter through netlink instead",
            ),
            AttachType::TraceKprobeMulti => (
                Feature::KprobeMultiLink,
                "5.18, with CONFIG_FPROBE",
                "attach one kprobe perf event per function instead",
            ),
            AttachType::TraceUprobeMulti => (
                Feature::UprobeMultiLink,
                "6.6",
                "attach one uprobe perf event per offset instead",
            ),
            _ => return e,
        };
        if probe_feature(feature) {
            return e;
        }
        SysError::Unsupported {
            what: Cmd::LinkCreate.kernel_name(),
            reason: format!(
                "{errno}: this kernel has no {} (Linux {since}); {instead}",
                feature.description()
            ),
        }
    })
}

/// `BPF_LINK_CREATE` as is, without the feature check of [`link_create`] (which the
/// feature probes themselves use).
pub(crate) fn link_create_raw(spec: &LinkCreateAttr<'_>) -> Result<OwnedFd, SysError> {
    let cmd = Cmd::LinkCreate;
    let mut flags = spec.flags;
    let mut storage = ExtraStorage::default();
    let extra = encode_extra(cmd, spec.opts, &mut flags, &mut storage)?;
    let mut a = attr::LinkCreateAttr {
        prog_fd: spec.prog.as_raw_fd() as u32,
        target: spec.target.raw(),
        attach_type: spec.attach_type.as_u32(),
        flags,
        extra,
    };
    // SAFETY: every pointer in `extra` refers to borrowed slices/strings of `spec` or to
    // `storage` (`iter_info`/`sym_ptrs`), all alive until after the call, with matching
    // counts.
    unsafe { sys_bpf_fd(cmd, &mut a) }
}

/// Owned storage that pointers in [`LinkCreateExtra`] refer to; it must outlive the
/// syscall.
#[derive(Default)]
struct ExtraStorage {
    iter_info: [u64; 2],
    sym_ptrs: Vec<*const c_char>,
}

/// The per-attach-type part of the attribute (zeroed where `opts` sets nothing); mprog
/// options also set their `BPF_F_BEFORE`/`AFTER`/`ID` bits in `flags`.
fn encode_extra(
    cmd: Cmd,
    opts: LinkCreateOpts<'_>,
    flags: &mut u32,
    storage: &mut ExtraStorage,
) -> Result<LinkCreateExtra, SysError> {
    // Zeroed first, then one variant written: the bytes past that variant stay zero.
    let mut extra = LinkCreateExtra::default();
    match opts {
        LinkCreateOpts::None | LinkCreateOpts::Iter(None) => {}
        LinkCreateOpts::TargetBtfId(id) => extra.target_btf_id = id,
        LinkCreateOpts::Iter(Some(info)) => extra.iter = iter_extra(info, &mut storage.iter_info),
        LinkCreateOpts::PerfEvent { bpf_cookie } => {
            extra.perf_event = attr::LinkPerfEventExtra { bpf_cookie }
        }
        LinkCreateOpts::Tracing {
            target_btf_id,
            cookie,
        } => {
            extra.tracing = attr::LinkTracingExtra {
                target_btf_id,
                _pad: 0,
                cookie,
            }
        }
        LinkCreateOpts::KprobeMulti {
            flags: kflags,
            syms,
            addrs,
            cookies,
        } => {
            extra.kprobe_multi =
                kprobe_multi_extra(cmd, kflags, syms, addrs, cookies, &mut storage.sym_ptrs)?;
        }
        LinkCreateOpts::UprobeMulti {
            path,
            offsets,
            ref_ctr_offsets,
            cookies,
            flags: uflags,
            pid,
        } => {
            extra.uprobe_multi =
                uprobe_multi_extra(cmd, path, offsets, ref_ctr_offsets, cookies, uflags, pid)?;
        }
        LinkCreateOpts::Netfilter {
            pf,
            hooknum,
            priority,
            flags: nflags,
        } => {
            extra.netfilter = attr::LinkNetfilterExtra {
                pf,
                hooknum,
                priority,
                flags: nflags,
            }
        }
        LinkCreateOpts::Mprog {
            relative,
            expected_revision,
        } => {
            let relative = relative.raw(flags);
            extra.mprog = attr::LinkMprogExtra {
                relative,
                _pad: 0,
                expected_revision,
            };
        }
    }
    Ok(extra)
}

/// Iterator parameters: encoded into `iter_info`, which the attribute points to.
fn iter_extra(info: IterInfo<'_>, iter_info: &mut [u64; 2]) -> attr::LinkIterExtra {
    *iter_info = info.encode();
    attr::LinkIterExtra {
        iter_info: iter_info.as_ptr() as usize as u64,
        iter_info_len: 16,
        _pad: 0,
    }
}

/// `kprobe_multi` options: symbols or addresses (exactly one of them), cookies for all
/// or none. The symbol pointers go to `sym_ptrs`.
fn kprobe_multi_extra(
    cmd: Cmd,
    flags: u32,
    syms: &[&CStr],
    addrs: &[u64],
    cookies: &[u64],
    sym_ptrs: &mut Vec<*const c_char>,
) -> Result<attr::LinkKprobeMultiExtra, SysError> {
    if syms.is_empty() == addrs.is_empty() {
        return Err(SysError::invalid(
            cmd.kernel_name(),
            "kprobe_multi needs either syms or addrs",
        ));
    }
    let cnt = syms.len().max(addrs.len());
    same_len_or_empty("cookies", cookies.len(), cnt)?;
    *sym_ptrs = syms.iter().map(|s| s.as_ptr()).collect();
    Ok(attr::LinkKprobeMultiExtra {
        flags,
        cnt: len_u32(cmd, "kprobe_multi count", cnt)?,
        syms: ptr_of(sym_ptrs),
        addrs: ptr_of(addrs),
        cookies: ptr_of(cookies),
    })
}

/// `uprobe_multi` options: at least one offset; reference counter offsets and cookies
/// for all offsets or none.
fn uprobe_multi_extra(
    cmd: Cmd,
    path: &CStr,
    offsets: &[u64],
    ref_ctr_offsets: &[u64],
    cookies: &[u64],
    flags: u32,
    pid: u32,
) -> Result<attr::LinkUprobeMultiExtra, SysError> {
    if offsets.is_empty() {
        return Err(SysError::invalid(
            cmd.kernel_name(),
            "uprobe_multi needs offsets",
        ));
    }
    same_len_or_empty("ref_ctr_offsets", ref_ctr_offsets.len(), offsets.len())?;
    same_len_or_empty("cookies", cookies.len(), offsets.len())?;
    Ok(attr::LinkUprobeMultiExtra {
        path: path.as_ptr() as usize as u64,
        offsets: ptr_of(offsets),
        ref_ctr_offsets: ptr_of(ref_ctr_offsets),
        cookies: ptr_of(cookies),
        cnt: len_u32(cmd, "uprobe_multi count", offsets.len())?,
        flags,
        pid,
        _pad: 0,
    })
}

/// `BPF_LINK_UPDATE`: replaces the link's program (only if it is `old_prog` when given,
/// via `BPF_F_REPLACE`).
pub fn link_update(
    link: BorrowedFd<'_>,
    new_prog: BorrowedFd<'_>,
    old_prog: Option<BorrowedFd<'_>>,
) -> Result<(), SysError> {
    let mut a = attr::LinkUpdateAttr {
        link_fd: link.as_raw_fd() as u32,
        new_prog_fd: new_prog.as_raw_fd() as u32,
        flags: if old_prog.is_some() {
            crate::consts::BPF_F_REPLACE
        } else {
            0
        },
        old_prog_fd: fd_u32(old_prog),
    };
    // SAFETY: no pointers.
    unsafe { sys_bpf(Cmd::LinkUpdate, &mut a) }.map(|_| ())
}

/// `BPF_LINK_DETACH`: detaches the link from its hook; the fd stays valid (defunct).
pub fn link_detach(link: BorrowedFd<'_>) -> Result<(), SysError> {
    let mut a = attr::TwoU32Attr {
        a: link.as_raw_fd() as u32,
        b: 0,
    };
    // SAFETY: no pointers.
    unsafe { sys_bpf(Cmd::LinkDetach, &mut a) }.map(|_| ())
}

/// `BPF_RAW_TRACEPOINT_OPEN`: attaches a raw tracepoint program (name `None` for
/// programs loaded with an attach BTF id, e.g. `tp_btf`/fentry). Returns a link fd.
pub fn raw_tracepoint_open(
    name: Option<&CStr>,
    prog: BorrowedFd<'_>,
    cookie: u64,
) -> Result<OwnedFd, SysError> {
    let mut a = attr::RawTracepointAttr {
        name: name.map_or(0, |n| n.as_ptr() as usize as u64),
        prog_fd: prog.as_raw_fd() as u32,
        _pad: 0,
        cookie,
    };
    // SAFETY: `name` is null or a NUL-terminated string alive for the call.
    unsafe { sys_bpf_fd(Cmd::RawTracepointOpen, &mut a) }
}

/// `BPF_ITER_CREATE`: a readable fd that runs the iterator link's program on `read`.
pub fn iter_create(link: BorrowedFd<'_>) -> Result<OwnedFd, SysError> {
    let mut a = attr::TwoU32Attr {
        a: link.as_raw_fd() as u32,
        b: 0,
    };
    // SAFETY: no pointers; the command returns a new fd.
    unsafe { sys_bpf_fd(Cmd::IterCreate, &mut a) }
}
