//! Program commands: `BPF_PROG_LOAD` (with verifier log handling), `BPF_PROG_TEST_RUN`,
//! `BPF_PROG_ATTACH`/`BPF_PROG_DETACH`, `BPF_PROG_QUERY` and `BPF_PROG_BIND_MAP`.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::attr;
use crate::consts::{AttachType, Cmd, ProgType, BPF_F_ID, BPF_F_TOKEN_FD, BPF_OBJ_NAME_LEN};
use crate::error::SysError;
use crate::map::fd_u32;
use crate::sys::{len_u32, log_text, mut_ptr_of, obj_name, ptr_of, sys_bpf, sys_bpf_fd};

/// Smallest log buffer the kernel accepts.
pub const LOG_BUF_MIN: usize = 128;
/// Size of the first internal log buffer used when retrying a failed load.
const LOG_BUF_START: usize = 256 * 1024;
/// Largest internal log buffer.
const LOG_BUF_MAX: usize = 64 * 1024 * 1024;

/// What to load with `BPF_PROG_LOAD`. Unset fields are zero/absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProgLoadAttr<'a> {
    /// Program type.
    pub prog_type: ProgType,
    /// Instructions as raw bytes: 8 bytes per `struct bpf_insn`, native byte order.
    pub insns: &'a [u8],
    /// License string, e.g. `c"GPL"`.
    pub license: &'a CStr,
    /// Object name; truncated to 15 bytes, invalid characters become `_`.
    pub name: &'a str,
    /// Kernel version (only checked by very old kernels for kprobes).
    pub kern_version: u32,
    /// `BPF_F_*` program flags (`BPF_F_SLEEPABLE`, `BPF_F_XDP_HAS_FRAGS`, ...).
    pub prog_flags: u32,
    /// Offload or dev-bound device.
    pub prog_ifindex: u32,
    /// Expected attach type.
    pub expected_attach_type: Option<AttachType>,
    /// The raw `expected_attach_type` when `expected_attach_type` is `None`: for a
    /// struct_ops program, the index of its member in the kernel's ops struct.
    pub expected_attach_raw: u32,
    /// BTF object the func/line info refer to.
    pub prog_btf_fd: Option<BorrowedFd<'a>>,
    /// `struct bpf_func_info` records, raw.
    pub func_info: &'a [u8],
    /// Size of one func info record (8 today).
    pub func_info_rec_size: u32,
    /// `struct bpf_line_info` records, raw.
    pub line_info: &'a [u8],
    /// Size of one line info record (16 today).
    pub line_info_rec_size: u32,
    /// BTF type id of the attach target (fentry/fexit/lsm/iter/struct_ops/freplace).
    pub attach_btf_id: u32,
    /// Program to attach to (freplace, or fentry on a BPF program).
    pub attach_prog_fd: Option<BorrowedFd<'a>>,
    /// Module BTF object holding `attach_btf_id` (absent: vmlinux).
    pub attach_btf_obj_fd: Option<BorrowedFd<'a>>,
    /// Map (and BTF) fds referenced by `BPF_PSEUDO_MAP_IDX`/`_IDX_VALUE` and kfunc calls.
    /// The kernel reads the entries the instructions index; every index used must be in
    /// bounds.
    pub fd_array: &'a [RawFd],
    /// Verifier log level (`BPF_LOG_LEVEL1`, ...). 0: log only on failure.
    pub log_level: u32,
    /// BPF token to load the program with; sets `BPF_F_TOKEN_FD` (Linux 6.9).
    pub token: Option<BorrowedFd<'a>>,
}

/// Builds the raw attr, validating sizes.
fn raw_prog_load(spec: &ProgLoadAttr<'_>) -> Result<attr::ProgLoadAttr, SysError> {
    let cmd = Cmd::ProgLoad;
    let bad = |r: String| SysError::invalid(cmd.kernel_name(), r);
    if spec.insns.is_empty() || spec.insns.len() % 8 != 0 {
        return Err(bad(format!(
            "instructions must be a non-empty multiple of 8 bytes, got {}",
            spec.insns.len()
        )));
    }
    let records = |what: &str, data: &[u8], rec: u32| -> Result<u32, SysError> {
        if data.is_empty() {
            return Ok(0);
        }
        if rec == 0 || data.len() % rec as usize != 0 {
            return Err(bad(format!(
                "{what} is {} bytes, not a multiple of its record size {rec}",
                data.len()
            )));
        }
        len_u32(cmd, what, data.len() / rec as usize)
    };
    let func_info_cnt = records("func_info", spec.func_info, spec.func_info_rec_size)?;
    let line_info_cnt = records("line_info", spec.line_info, spec.line_info_rec_size)?;
    if spec.attach_prog_fd.is_some() && spec.attach_btf_obj_fd.is_some() {
        return Err(bad(
            "attach_prog_fd and attach_btf_obj_fd are exclusive".into()
        ));
    }
    let mut name = [0u8; BPF_OBJ_NAME_LEN];
    if !spec.name.is_empty() {
        name = obj_name(spec.name);
    }
    Ok(attr::ProgLoadAttr {
        prog_type: spec.prog_type.as_u32(),
        insn_cnt: len_u32(cmd, "instruction count", spec.insns.len() / 8)?,
        insns: ptr_of(spec.insns),
        license: spec.license.as_ptr() as usize as u64,
        kern_version: spec.kern_version,
        prog_flags: spec.prog_flags
            | if spec.token.is_some() {
                BPF_F_TOKEN_FD
            } else {
                0
            },
        prog_token_fd: spec.token.map_or(0, |f| f.as_raw_fd()),
        prog_name: name,
        prog_ifindex: spec.prog_ifindex,
        expected_attach_type: spec
            .expected_attach_type
            .map_or(spec.expected_attach_raw, AttachType::as_u32),
        prog_btf_fd: fd_u32(spec.prog_btf_fd),
        func_info_rec_size: if func_info_cnt > 0 {
            spec.func_info_rec_size
        } else {
            0
        },
        func_info: ptr_of(spec.func_info),
        func_info_cnt,
        line_info_rec_size: if line_info_cnt > 0 {
            spec.line_info_rec_size
        } else {
            0
        },
        line_info: ptr_of(spec.line_info),
        line_info_cnt,
        attach_btf_id: spec.attach_btf_id,
        attach_prog_fd: fd_u32(spec.attach_prog_fd.or(spec.attach_btf_obj_fd)),
        fd_array: ptr_of(spec.fd_array),
        ..Default::default()
    })
}

/// How many times `BPF_PROG_LOAD` is tried while the kernel answers `EAGAIN` (libbpf's
/// `PROG_LOAD_ATTEMPTS`): the verifier gives up with `EAGAIN` when a signal is pending.
const PROG_LOAD_ATTEMPTS: u32 = 5;

/// One `BPF_PROG_LOAD` with the given log buffer (tried up to [`PROG_LOAD_ATTEMPTS`] times
/// while it fails with `EAGAIN`, as libbpf does).
fn load_once(
    a: &attr::ProgLoadAttr,
    log: Option<(&mut [u8], u32)>,
) -> (Result<OwnedFd, SysError>, u32) {
    let mut a = *a;
    if let Some((buf, level)) = log {
        if let Some(first) = buf.first_mut() {
            *first = 0;
        }
        a.log_level = level;
        a.log_size = buf.len().min(u32::MAX as usize >> 2) as u32;
        a.log_buf = mut_ptr_of(buf);
    }
    let mut attempts = 1;
    loop {
        // SAFETY: the attr's pointers come from `ProgLoadAttr` borrows (insns, license,
        // func/line info, fd_array, with counts derived from their lengths) and the log
        // buffer, all alive for this call.
        let r = unsafe { sys_bpf_fd(Cmd::ProgLoad, &mut a) };
        match r {
            Err(ref e) if e.raw_errno() == Some(libc::EAGAIN) && attempts < PROG_LOAD_ATTEMPTS => {
                attempts += 1
            }
            r => return (r, a.log_true_size),
        }
    }
}

/// Loads with growing internal log buffers until the log fits; returns the error with
/// the log text.
fn load_with_internal_log(a: &attr::ProgLoadAttr, level: u32) -> Result<OwnedFd, SysError> {
    let mut size = LOG_BUF_START;
    loop {
        let mut buf = vec![0u8; size];
        let (r, true_size) = load_once(a, Some((&mut buf, level)));
        match r {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_errno() == Some(libc::ENOSPC) && size < LOG_BUF_MAX => {
                size = (true_size as usize).max(size * 4).min(LOG_BUF_MAX);
            }
            Err(e) => return Err(e.with_log(log_text(&buf))),
        }
    }
}

/// One load without any log or retry (for feature probes).
pub(crate) fn load_quiet(spec: &ProgLoadAttr<'_>) -> Result<OwnedFd, SysError> {
    load_once(&raw_prog_load(spec)?, None).0
}

/// A failed load made with a token: `EPERM` explained by what the token lacks.
fn token_refused(spec: &ProgLoadAttr<'_>, a: &attr::ProgLoadAttr, e: SysError) -> SysError {
    let prog = Some((spec.prog_type, a.expected_attach_type));
    crate::token::refused(e, spec.token, Cmd::ProgLoad, None, prog)
}

/// `BPF_PROG_LOAD`.
///
/// The verifier log:
/// - `log` given and `spec.log_level > 0`: one load with that buffer and level; the
///   log is in the buffer afterwards, whatever the outcome.
/// - `log` given and `spec.log_level == 0`: a load without log; if it fails, a second
///   load with level 1 into `log`.
/// - no `log`: a load without log (or with an internal buffer if `spec.log_level > 0`);
///   if it fails, loads again with internal buffers that grow until the log fits.
///
/// On failure, the error carries the log text ([`SysError::log`]).
pub fn prog_load(spec: &ProgLoadAttr<'_>, log: Option<&mut [u8]>) -> Result<OwnedFd, SysError> {
    let a = raw_prog_load(spec)?;
    prog_load_raw(&a, spec.log_level, log).map_err(|e| token_refused(spec, &a, e))
}

/// [`prog_load`] of a built attr.
fn prog_load_raw(
    a: &attr::ProgLoadAttr,
    log_level: u32,
    log: Option<&mut [u8]>,
) -> Result<OwnedFd, SysError> {
    match log {
        Some(buf) => {
            if buf.len() < LOG_BUF_MIN {
                return Err(SysError::invalid(
                    Cmd::ProgLoad.kernel_name(),
                    format!("log buffer must be at least {LOG_BUF_MIN} bytes"),
                ));
            }
            if log_level == 0 {
                if let (Ok(fd), _) = load_once(a, None) {
                    return Ok(fd);
                }
            }
            let level = log_level.max(1);
            let (r, _) = load_once(a, Some((&mut *buf, level)));
            r.map_err(|e| e.with_log(log_text(buf)))
        }
        None if log_level > 0 => load_with_internal_log(a, log_level),
        None => match load_once(a, None).0 {
            Ok(fd) => Ok(fd),
            // Not logged: loads run on the loader's worker threads, whose logs would
            // interleave; the caller reports the outcome in program order.
            Err(first) => match load_with_internal_log(a, 1) {
                Ok(fd) => Ok(fd),
                Err(e) if e.log().is_some() => Err(e),
                Err(_) => Err(first),
            },
        },
    }
}

/// Input and output buffers for `BPF_PROG_TEST_RUN`.
#[derive(Debug, Default)]
pub struct TestRunOpts<'a> {
    /// Packet (or other) input data.
    pub data_in: &'a [u8],
    /// Buffer for the output data; the kernel writes at most its length.
    pub data_out: Option<&'a mut [u8]>,
    /// Input context (e.g. `struct __sk_buff`, `struct xdp_md`).
    pub ctx_in: &'a [u8],
    /// Buffer for the output context.
    pub ctx_out: Option<&'a mut [u8]>,
    /// Number of runs (0 or 1: once).
    pub repeat: u32,
    /// `BPF_F_TEST_RUN_ON_CPU`, `BPF_F_TEST_XDP_LIVE_FRAMES`.
    pub flags: u32,
    /// CPU to run on with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
    /// Batch size for XDP live frames.
    pub batch_size: u32,
}

/// What `BPF_PROG_TEST_RUN` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value.
    pub retval: u32,
    /// Average run time in nanoseconds.
    pub duration_ns: u32,
    /// Size of the output data (may exceed the buffer: then the call fails with ENOSPC).
    pub data_size_out: u32,
    /// Size of the output context.
    pub ctx_size_out: u32,
}

/// `BPF_PROG_TEST_RUN` (a.k.a. `BPF_PROG_RUN`).
pub fn prog_test_run(
    prog: BorrowedFd<'_>,
    opts: TestRunOpts<'_>,
) -> Result<TestRunResult, SysError> {
    let cmd = Cmd::ProgTestRun;
    let TestRunOpts {
        data_in,
        data_out,
        ctx_in,
        ctx_out,
        repeat,
        flags,
        cpu,
        batch_size,
    } = opts;
    let (data_out_ptr, data_out_len) = match data_out {
        Some(b) => (mut_ptr_of(b), len_u32(cmd, "data_out", b.len())?),
        None => (0, 0),
    };
    let (ctx_out_ptr, ctx_out_len) = match ctx_out {
        Some(b) => (mut_ptr_of(b), len_u32(cmd, "ctx_out", b.len())?),
        None => (0, 0),
    };
    let mut a = attr::TestRunAttr {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: len_u32(cmd, "data_in", data_in.len())?,
        data_size_out: data_out_len,
        data_in: ptr_of(data_in),
        data_out: data_out_ptr,
        repeat,
        ctx_size_in: len_u32(cmd, "ctx_in", ctx_in.len())?,
        ctx_size_out: ctx_out_len,
        ctx_in: ptr_of(ctx_in),
        ctx_out: ctx_out_ptr,
        flags,
        cpu,
        batch_size,
        ..Default::default()
    };
    // SAFETY: inputs are borrowed slices with their lengths; outputs are null (size 0)
    // or exclusively borrowed buffers whose non-zero lengths bound the kernel's writes.
    unsafe { sys_bpf(cmd, &mut a) }?;
    Ok(TestRunResult {
        retval: a.retval,
        duration_ns: a.duration,
        data_size_out: a.data_size_out,
        ctx_size_out: a.ctx_size_out,
    })
}

/// The object a program is attached to by `BPF_PROG_ATTACH`/`BPF_LINK_CREATE`.
#[derive(Debug, Clone, Copy)]
pub enum AttachTarget<'a> {
    /// A cgroup, map, netns, program, perf event ... fd.
    Fd(BorrowedFd<'a>),
    /// A network interface (XDP, tcx, netkit).
    Ifindex(u32),
    /// No target (target fd 0), e.g. for tracing links.
    None,
}

impl AttachTarget<'_> {
    pub(crate) fn raw(&self) -> u32 {
        match self {
            AttachTarget::Fd(fd) => fd.as_raw_fd() as u32,
            AttachTarget::Ifindex(i) => *i,
            AttachTarget::None => 0,
        }
    }
}

/// Where to insert relative to, for multi-program attachment (tcx, netkit, cgroup).
#[derive(Debug, Clone, Copy, Default)]
pub enum Relative<'a> {
    /// No anchor.
    #[default]
    None,
    /// A program or link fd (set `BPF_F_LINK_MPROG` for a link) with `BPF_F_BEFORE`/`AFTER`.
    Fd(BorrowedFd<'a>),
    /// A program or link id; `BPF_F_ID` is set automatically.
    Id(u32),
}

impl Relative<'_> {
    pub(crate) fn raw(&self, flags: &mut u32) -> u32 {
        match self {
            Relative::None => 0,
            Relative::Fd(fd) => fd.as_raw_fd() as u32,
            Relative::Id(id) => {
                *flags |= BPF_F_ID;
                *id
            }
        }
    }
}

/// Arguments of `BPF_PROG_ATTACH` and `BPF_PROG_DETACH`.
#[derive(Debug, Clone, Copy)]
pub struct ProgAttachAttr<'a> {
    /// What to attach to.
    pub target: AttachTarget<'a>,
    /// The program (may be absent for some detaches).
    pub prog: Option<BorrowedFd<'a>>,
    /// Attach type.
    pub attach_type: AttachType,
    /// `BPF_F_ALLOW_MULTI`, `BPF_F_REPLACE`, `BPF_F_BEFORE`, ...
    pub flags: u32,
    /// Program to replace, with `BPF_F_REPLACE`.
    pub replace_prog: Option<BorrowedFd<'a>>,
    /// Relative anchor (mprog).
    pub relative: Relative<'a>,
    /// Expected revision (mprog), 0 for any.
    pub expected_revision: u64,
}

impl<'a> ProgAttachAttr<'a> {
    /// Attach/detach `prog` to `target` with `attach_type` and no options.
    pub fn new(
        target: AttachTarget<'a>,
        prog: Option<BorrowedFd<'a>>,
        attach_type: AttachType,
    ) -> Self {
        ProgAttachAttr {
            target,
            prog,
            attach_type,
            flags: 0,
            replace_prog: None,
            relative: Relative::None,
            expected_revision: 0,
        }
    }

    fn raw(&self) -> attr::ProgAttachAttr {
        let mut flags = self.flags;
        let relative = self.relative.raw(&mut flags);
        attr::ProgAttachAttr {
            target: self.target.raw(),
            attach_bpf_fd: fd_u32(self.prog),
            attach_type: self.attach_type.as_u32(),
            attach_flags: flags,
            replace_bpf_fd: fd_u32(self.replace_prog),
            relative,
            expected_revision: self.expected_revision,
        }
    }
}

/// `BPF_PROG_ATTACH`.
pub fn prog_attach(spec: &ProgAttachAttr<'_>) -> Result<(), SysError> {
    let mut a = spec.raw();
    // SAFETY: no pointers.
    unsafe { sys_bpf(Cmd::ProgAttach, &mut a) }.map(|_| ())
}

/// `BPF_PROG_DETACH`.
pub fn prog_detach(spec: &ProgAttachAttr<'_>) -> Result<(), SysError> {
    let mut a = spec.raw();
    // SAFETY: no pointers.
    unsafe { sys_bpf(Cmd::ProgDetach, &mut a) }.map(|_| ())
}

/// What `BPF_PROG_QUERY` reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgQueryResult {
    /// Attach flags of the hook (cgroup).
    pub attach_flags: u32,
    /// Ids of the attached programs.
    pub prog_ids: Vec<u32>,
    /// Revision of the hook (mprog).
    pub revision: u64,
}

/// `BPF_PROG_QUERY`: the programs attached to `target` for `attach_type`.
pub fn prog_query(
    target: AttachTarget<'_>,
    attach_type: AttachType,
    query_flags: u32,
) -> Result<ProgQueryResult, SysError> {
    let mut ids: Vec<u32> = Vec::new();
    for _ in 0..4 {
        let mut a = attr::QueryAttr {
            target: target.raw(),
            attach_type: attach_type.as_u32(),
            query_flags,
            prog_ids: mut_ptr_of(&mut ids),
            count: ids.len() as u32,
            ..Default::default()
        };
        // SAFETY: `prog_ids` is null with count 0, or a buffer of `count` u32s.
        let r = unsafe { sys_bpf(Cmd::ProgQuery, &mut a) };
        match r {
            Ok(_) if (a.count as usize) <= ids.len() => {
                ids.truncate(a.count as usize);
                return Ok(ProgQueryResult {
                    attach_flags: a.attach_flags,
                    prog_ids: ids,
                    revision: a.revision,
                });
            }
            Ok(_) => ids = vec![0; a.count as usize],
            Err(e) if e.raw_errno() == Some(libc::ENOSPC) => {
                ids = vec![0; (a.count as usize).max(ids.len() * 2)]
            }
            Err(e) => return Err(e),
        }
    }
    Err(SysError::invalid(
        Cmd::ProgQuery.kernel_name(),
        "program list kept changing",
    ))
}

/// `BPF_PROG_BIND_MAP`: keeps `map` alive as long as `prog`.
pub fn prog_bind_map(
    prog: BorrowedFd<'_>,
    map: BorrowedFd<'_>,
    flags: u32,
) -> Result<(), SysError> {
    let mut a = attr::ProgBindMapAttr {
        prog_fd: prog.as_raw_fd() as u32,
        map_fd: map.as_raw_fd() as u32,
        flags,
        _pad: 0,
    };
    // SAFETY: no pointers.
    unsafe { sys_bpf(Cmd::ProgBindMap, &mut a) }.map(|_| ())
}
