//! `perf_event_open(2)` with `struct perf_event_attr`, the ioctls that enable events and
//! attach BPF programs, and the kprobe/uprobe PMU and tracepoint id lookups in sysfs and
//! tracefs.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::error::SysError;

/// `PERF_ATTR_SIZE_VER8`: the size of [`PerfEventAttr`].
pub const PERF_ATTR_SIZE_VER8: u32 = 136;

/// `PERF_TYPE_HARDWARE`.
pub const PERF_TYPE_HARDWARE: u32 = 0;
/// `PERF_TYPE_SOFTWARE`.
pub const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_TYPE_TRACEPOINT`.
pub const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `PERF_TYPE_HW_CACHE`.
pub const PERF_TYPE_HW_CACHE: u32 = 3;
/// `PERF_TYPE_RAW`.
pub const PERF_TYPE_RAW: u32 = 4;
/// `PERF_TYPE_BREAKPOINT`.
pub const PERF_TYPE_BREAKPOINT: u32 = 5;

/// `PERF_COUNT_SW_CPU_CLOCK`.
pub const PERF_COUNT_SW_CPU_CLOCK: u64 = 0;
/// `PERF_COUNT_SW_TASK_CLOCK`.
pub const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
/// `PERF_COUNT_SW_BPF_OUTPUT`: the event behind `bpf_perf_event_output`.
pub const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
/// `PERF_COUNT_HW_CPU_CYCLES`.
pub const PERF_COUNT_HW_CPU_CYCLES: u64 = 0;

/// `PERF_SAMPLE_RAW`.
pub const PERF_SAMPLE_RAW: u64 = 1 << 10;

/// `perf_event_open` flag: close-on-exec (always set by this module).
pub const PERF_FLAG_FD_CLOEXEC: u32 = 1 << 3;

/// Bits of [`PerfEventAttr::flags`] (the C bitfield after `read_format`).
pub mod flag {
    /// `disabled`.
    pub const DISABLED: u64 = 1 << 0;
    /// `inherit`.
    pub const INHERIT: u64 = 1 << 1;
    /// `pinned`.
    pub const PINNED: u64 = 1 << 2;
    /// `exclusive`.
    pub const EXCLUSIVE: u64 = 1 << 3;
    /// `exclude_user`.
    pub const EXCLUDE_USER: u64 = 1 << 4;
    /// `exclude_kernel`.
    pub const EXCLUDE_KERNEL: u64 = 1 << 5;
    /// `exclude_hv`.
    pub const EXCLUDE_HV: u64 = 1 << 6;
    /// `exclude_idle`.
    pub const EXCLUDE_IDLE: u64 = 1 << 7;
    /// `mmap`.
    pub const MMAP: u64 = 1 << 8;
    /// `comm`.
    pub const COMM: u64 = 1 << 9;
    /// `freq`: `sample_period` is a frequency.
    pub const FREQ: u64 = 1 << 10;
    /// `inherit_stat`.
    pub const INHERIT_STAT: u64 = 1 << 11;
    /// `enable_on_exec`.
    pub const ENABLE_ON_EXEC: u64 = 1 << 12;
    /// `task`.
    pub const TASK: u64 = 1 << 13;
    /// `watermark`: wake up by `wakeup_watermark` bytes instead of events.
    pub const WATERMARK: u64 = 1 << 14;
    /// `sample_id_all`.
    pub const SAMPLE_ID_ALL: u64 = 1 << 18;
    /// `write_backward`.
    pub const WRITE_BACKWARD: u64 = 1 << 27;
}

/// `struct perf_event_attr` (size `PERF_ATTR_SIZE_VER8`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PerfEventAttr {
    /// `PERF_TYPE_*` or a dynamic PMU type.
    pub type_: u32,
    /// Size of this struct; 0 means [`PERF_ATTR_SIZE_VER8`].
    pub size: u32,
    /// Type-specific configuration.
    pub config: u64,
    /// `sample_period`, or `sample_freq` with [`flag::FREQ`].
    pub sample_period: u64,
    /// `PERF_SAMPLE_*`.
    pub sample_type: u64,
    /// `PERF_FORMAT_*`.
    pub read_format: u64,
    /// The bitfield; see [`flag`].
    pub flags: u64,
    /// `wakeup_events`, or `wakeup_watermark` with [`flag::WATERMARK`].
    pub wakeup_events: u32,
    /// Breakpoint type.
    pub bp_type: u32,
    /// `config1` / `kprobe_func` / `uprobe_path` / `bp_addr`.
    pub config1: u64,
    /// `config2` / `kprobe_addr` / `probe_offset` / `bp_len`.
    pub config2: u64,
    /// Branch sample type.
    pub branch_sample_type: u64,
    /// User registers to sample.
    pub sample_regs_user: u64,
    /// User stack bytes to sample.
    pub sample_stack_user: u32,
    /// Clock id with `use_clockid`.
    pub clockid: i32,
    /// Interrupt registers to sample.
    pub sample_regs_intr: u64,
    /// AUX watermark.
    pub aux_watermark: u32,
    /// Max call chain depth.
    pub sample_max_stack: u16,
    /// Reserved.
    pub reserved_2: u16,
    /// AUX sample size.
    pub aux_sample_size: u32,
    /// AUX action bits.
    pub aux_action: u32,
    /// Signal data.
    pub sig_data: u64,
    /// `config3`.
    pub config3: u64,
}

const _: () = assert!(std::mem::size_of::<PerfEventAttr>() == PERF_ATTR_SIZE_VER8 as usize);

/// `perf_event_open(attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC)`.
///
/// Pointers the kernel reads from `attr` (`config1` of kprobe/uprobe PMUs) must point to
/// NUL-terminated strings alive for the call; the probe helpers below take care of it.
pub fn perf_event_open(
    attr: &PerfEventAttr,
    pid: i32,
    cpu: i32,
    group_fd: Option<BorrowedFd<'_>>,
    flags: u32,
) -> Result<OwnedFd, SysError> {
    let mut a = *attr;
    if a.size == 0 {
        a.size = PERF_ATTR_SIZE_VER8;
    }
    if let Some(errno) = crate::fault::inject("perf_event_open") {
        return Err(SysError::from_errno("perf_event_open", errno));
    }
    // SAFETY: `a` is a fully initialized perf_event_attr of `a.size` bytes that lives
    // for the call; the kernel only reads it (and may write `size` back on E2BIG).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &mut a as *mut PerfEventAttr,
            pid as libc::c_long,
            cpu as libc::c_long,
            group_fd.map_or(-1, |f| f.as_raw_fd()) as libc::c_long,
            (flags | PERF_FLAG_FD_CLOEXEC) as libc::c_long,
        )
    };
    if ret < 0 {
        return Err(SysError::last("perf_event_open"));
    }
    // SAFETY: a successful perf_event_open returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}

/// `PERF_EVENT_IOC_ENABLE`.
pub const PERF_EVENT_IOC_ENABLE: u64 = 0x2400;
/// `PERF_EVENT_IOC_DISABLE`.
pub const PERF_EVENT_IOC_DISABLE: u64 = 0x2401;
/// `PERF_EVENT_IOC_SET_BPF` (`_IOW('$', 8, __u32)`).
pub const PERF_EVENT_IOC_SET_BPF: u64 = 0x4004_2408;

fn perf_ioctl(
    fd: BorrowedFd<'_>,
    request: u64,
    arg: libc::c_int,
    what: &'static str,
) -> Result<(), SysError> {
    if let Some(errno) = crate::fault::inject(what) {
        return Err(SysError::from_errno(what, errno));
    }
    // SAFETY: these perf ioctls take an integer argument by value, not a pointer.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    if r < 0 {
        Err(SysError::last(what))
    } else {
        Ok(())
    }
}

/// `ioctl(PERF_EVENT_IOC_ENABLE)`.
pub fn perf_event_enable(fd: BorrowedFd<'_>) -> Result<(), SysError> {
    perf_ioctl(fd, PERF_EVENT_IOC_ENABLE, 0, "PERF_EVENT_IOC_ENABLE")
}

/// `ioctl(PERF_EVENT_IOC_DISABLE)`.
pub fn perf_event_disable(fd: BorrowedFd<'_>) -> Result<(), SysError> {
    perf_ioctl(fd, PERF_EVENT_IOC_DISABLE, 0, "PERF_EVENT_IOC_DISABLE")
}

/// `ioctl(PERF_EVENT_IOC_SET_BPF)`: attaches a program to the event (the legacy way,
/// without a link; detached when the event fd is closed).
pub fn perf_event_set_bpf(fd: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<(), SysError> {
    perf_ioctl(
        fd,
        PERF_EVENT_IOC_SET_BPF,
        prog.as_raw_fd(),
        "PERF_EVENT_IOC_SET_BPF",
    )
}

/// Which dynamic probe PMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// `/sys/bus/event_source/devices/kprobe`.
    Kprobe,
    /// `/sys/bus/event_source/devices/uprobe`.
    Uprobe,
}

impl ProbeKind {
    fn name(self) -> &'static str {
        match self {
            ProbeKind::Kprobe => "kprobe",
            ProbeKind::Uprobe => "uprobe",
        }
    }

    fn what(self) -> &'static str {
        match self {
            ProbeKind::Kprobe => "kprobe PMU",
            ProbeKind::Uprobe => "uprobe PMU",
        }
    }
}

const PMU_DIR: &str = "/sys/bus/event_source/devices";

fn read_file(path: &Path) -> Result<String, SysError> {
    std::fs::read_to_string(path).map_err(|source| SysError::File {
        path: path.display().to_string(),
        error: source,
    })
}

fn missing_pmu(kind: ProbeKind) -> SysError {
    SysError::Unsupported {
        what: kind.what(),
        reason: format!(
            "this kernel has no {} support ({PMU_DIR}/{} does not exist)",
            kind.name(),
            kind.name()
        ),
    }
}

/// The dynamic PMU type of kprobes or uprobes, or [`SysError::Unsupported`] saying the
/// kernel has no such support.
pub fn probe_pmu_type(kind: ProbeKind) -> Result<u32, SysError> {
    let dir = Path::new(PMU_DIR).join(kind.name());
    if !dir.exists() {
        return Err(missing_pmu(kind));
    }
    let path = dir.join("type");
    let text = read_file(&path)?;
    text.trim().parse().map_err(|_| SysError::File {
        path: path.display().to_string(),
        error: std::io::Error::other(format!("not a number: {text:?}")),
    })
}

/// Parses a PMU format file such as `config:0` or `config:32-63` into the first bit.
fn format_bit(kind: ProbeKind, field: &str) -> Result<u32, SysError> {
    let dir = Path::new(PMU_DIR).join(kind.name());
    if !dir.exists() {
        return Err(missing_pmu(kind));
    }
    let path = dir.join("format").join(field);
    let text = read_file(&path)?;
    let bits = text
        .trim()
        .strip_prefix("config:")
        .ok_or_else(|| SysError::File {
            path: path.display().to_string(),
            error: std::io::Error::other(format!("unexpected format {text:?}")),
        })?;
    let first = bits.split('-').next().unwrap_or("");
    first.parse().map_err(|_| SysError::File {
        path: path.display().to_string(),
        error: std::io::Error::other(format!("unexpected format {text:?}")),
    })
}

/// The `config` bit that makes a kprobe/uprobe a return probe (`format/retprobe`).
pub fn retprobe_bit(kind: ProbeKind) -> Result<u32, SysError> {
    format_bit(kind, "retprobe")
}

/// A kprobe or uprobe to open on the probe PMU.
#[derive(Debug, Clone, Copy)]
pub struct ProbeAttr<'a> {
    /// Kprobe or uprobe.
    pub kind: ProbeKind,
    /// Return probe.
    pub retprobe: bool,
    /// Kprobe: function name (absent: `offset` is an absolute address).
    /// Uprobe: path of the binary (required).
    pub name: Option<&'a CStr>,
    /// Kprobe: offset within the function, or the address. Uprobe: file offset.
    pub offset: u64,
    /// Uprobe: offset of the reference counter (USDT semaphore), 0 for none.
    pub ref_ctr_offset: u64,
    /// Process to trace (uprobes), or -1 for all.
    pub pid: i32,
}

/// Opens a kprobe/uprobe perf event, ready for `BPF_LINK_CREATE` with `BPF_PERF_EVENT`
/// or [`perf_event_set_bpf`]. Fails with [`SysError::Unsupported`] ("this kernel has no
/// kprobe support") when the PMU is missing.
pub fn perf_event_open_probe(p: &ProbeAttr<'_>) -> Result<OwnedFd, SysError> {
    let pmu = probe_pmu_type(p.kind)?;
    let mut config = 0u64;
    if p.retprobe {
        config |= 1u64 << retprobe_bit(p.kind)?;
    }
    if p.ref_ctr_offset != 0 {
        if p.kind != ProbeKind::Uprobe {
            return Err(SysError::invalid(
                "perf_event_open",
                "ref_ctr_offset is for uprobes only",
            ));
        }
        config |= p.ref_ctr_offset << format_bit(p.kind, "ref_ctr_offset")?;
    }
    if p.kind == ProbeKind::Uprobe && p.name.is_none() {
        return Err(SysError::invalid(
            "perf_event_open",
            "a uprobe needs the binary path",
        ));
    }
    let attr = PerfEventAttr {
        type_: pmu,
        config,
        config1: p.name.map_or(0, |n| n.as_ptr() as usize as u64),
        config2: p.offset,
        sample_period: 1,
        wakeup_events: 1,
        ..Default::default()
    };
    let (pid, cpu) = if p.pid < 0 { (-1, 0) } else { (p.pid, -1) };
    // `attr.config1` points into `p.name`, alive for this call.
    perf_event_open(&attr, pid, cpu, None, 0)
}

/// The id of a tracepoint (`<tracefs>/events/<category>/<name>/id`), looking in
/// `/sys/kernel/tracing` then `/sys/kernel/debug/tracing`.
pub fn tracepoint_id(category: &str, name: &str) -> Result<u64, SysError> {
    if category.contains(['/', '.'])
        || name.contains(['/', '.'])
        || category.is_empty()
        || name.is_empty()
    {
        return Err(SysError::invalid(
            "tracepoint_id",
            format!("bad tracepoint name {category}:{name}"),
        ));
    }
    let roots = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
    let mut last = None;
    for root in roots {
        let path = Path::new(root)
            .join("events")
            .join(category)
            .join(name)
            .join("id");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return text.trim().parse().map_err(|_| SysError::File {
                    path: path.display().to_string(),
                    error: std::io::Error::other(format!("not a number: {text:?}")),
                })
            }
            Err(source) => {
                last = Some(SysError::File {
                    path: path.display().to_string(),
                    error: source,
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| SysError::invalid("tracepoint_id", "no tracefs")))
}

/// Opens a tracepoint perf event by id (on all processes of CPU 0, as libbpf does).
pub fn perf_event_open_tracepoint(id: u64) -> Result<OwnedFd, SysError> {
    let attr = PerfEventAttr {
        type_: PERF_TYPE_TRACEPOINT,
        config: id,
        sample_period: 1,
        wakeup_events: 1,
        ..Default::default()
    };
    perf_event_open(&attr, -1, 0, None, 0)
}

/// Opens a software event (`PERF_COUNT_SW_*`) sampling every `sample_period` events.
pub fn perf_event_open_software(
    config: u64,
    sample_period: u64,
    pid: i32,
    cpu: i32,
) -> Result<OwnedFd, SysError> {
    let attr = PerfEventAttr {
        type_: PERF_TYPE_SOFTWARE,
        config,
        sample_period,
        wakeup_events: 1,
        ..Default::default()
    };
    perf_event_open(&attr, pid, cpu, None, 0)
}

/// Opens a hardware event (`PERF_COUNT_HW_*`), sampling by period or, with `freq`, at
/// `period_or_freq` samples per second.
pub fn perf_event_open_hardware(
    config: u64,
    period_or_freq: u64,
    freq: bool,
    pid: i32,
    cpu: i32,
) -> Result<OwnedFd, SysError> {
    let attr = PerfEventAttr {
        type_: PERF_TYPE_HARDWARE,
        config,
        sample_period: period_or_freq,
        flags: if freq { flag::FREQ } else { 0 },
        ..Default::default()
    };
    perf_event_open(&attr, pid, cpu, None, 0)
}

/// Opens the `PERF_COUNT_SW_BPF_OUTPUT` event of one CPU, as a perf buffer does for
/// each slot of a `BPF_MAP_TYPE_PERF_EVENT_ARRAY`.
pub fn perf_event_open_bpf_output(cpu: i32) -> Result<OwnedFd, SysError> {
    let attr = PerfEventAttr {
        type_: PERF_TYPE_SOFTWARE,
        config: PERF_COUNT_SW_BPF_OUTPUT,
        sample_type: PERF_SAMPLE_RAW,
        sample_period: 1,
        wakeup_events: 1,
        ..Default::default()
    };
    perf_event_open(&attr, -1, cpu, None, 0)
}
