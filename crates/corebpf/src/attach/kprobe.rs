//! kprobes and kretprobes (function + offset, `module:function` for module functions)
//! and ksyscall (the arch's syscall wrapper). A perf event on the kprobe PMU where the
//! kernel has one; otherwise a probe written into tracefs `kprobe_events` and a perf
//! event on its tracepoint id (removed again when the link goes).

use std::ffi::CString;

use corebpf_sys::perf::{perf_event_open_probe, probe_pmu_type, ProbeAttr, ProbeKind};
use corebpf_sys::ProgType;

use super::perf::attach_perf_event_fd;
use super::tracefs::{self, ProbeFile, TracefsProbe};
use super::{attach_err, expect_type, sys_err};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

/// Options of [`Program::attach_kprobe_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KprobeOpts {
    /// Offset into the function (0: its entry).
    pub offset: u64,
    /// A return probe (kretprobe); needs `offset` 0.
    pub retprobe: bool,
    /// The value `bpf_get_attach_cookie()` returns (needs perf links, Linux 5.15).
    pub cookie: u64,
    /// Use tracefs `kprobe_events` even if the kprobe PMU exists (as kernels before 4.17
    /// must).
    pub legacy: bool,
}

/// How this kernel can make kprobes, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KprobeSupport {
    /// The kprobe PMU (`/sys/bus/event_source/devices/kprobe`, Linux 4.17).
    Pmu,
    /// Only tracefs `kprobe_events`.
    Tracefs,
    /// None: the kernel was built without kprobes.
    None,
}

/// Which way kprobes can be made on this kernel.
pub fn kprobe_support() -> KprobeSupport {
    if probe_pmu_type(ProbeKind::Kprobe).is_ok() {
        KprobeSupport::Pmu
    } else if tracefs::has_probe_events(ProbeFile::Kprobe) {
        KprobeSupport::Tracefs
    } else {
        KprobeSupport::None
    }
}

/// Whether `/proc/kallsyms` lists `func` (`module:func` looks in that module only).
/// `None` if kallsyms cannot be read.
pub fn kallsyms_has(func: &str) -> Option<bool> {
    let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
    let (module, name) = match func.split_once(':') {
        Some((m, f)) => (Some(m), f),
        None => (None, func),
    };
    Some(text.lines().any(|l| {
        let mut it = l.split_whitespace();
        let (Some(_addr), Some(_ty), Some(sym)) = (it.next(), it.next(), it.next()) else {
            return false;
        };
        if sym != name {
            return false;
        }
        match module {
            None => true,
            Some(m) => it.next() == Some(&format!("[{m}]")),
        }
    }))
}

/// The kernel function behind syscall `name` on this architecture: the wrapper
/// `__x64_sys_<name>` (x86-64; `__arm64_`, `__s390x_`, `__riscv_` elsewhere) if
/// `/proc/kallsyms` or the kernel's BTF has it, else `sys_<name>`.
pub fn syscall_function(name: &str) -> String {
    let prefix = if cfg!(target_arch = "x86_64") {
        "__x64_"
    } else if cfg!(target_arch = "aarch64") {
        "__arm64_"
    } else if cfg!(target_arch = "s390x") {
        "__s390x_"
    } else if cfg!(target_arch = "riscv64") {
        "__riscv_"
    } else if cfg!(target_arch = "x86") {
        "__ia32_"
    } else {
        ""
    };
    let wrapped = format!("{prefix}sys_{name}");
    if !prefix.is_empty() {
        let in_kallsyms = kallsyms_has(&wrapped) == Some(true);
        let in_btf = || {
            crate::kernel::kernel_btf().is_ok_and(|b| {
                b.find_by_name_kind(&wrapped, corebpf_btf::Kind::Func)
                    .is_some()
            })
        };
        if in_kallsyms || in_btf() {
            return wrapped;
        }
    }
    format!("sys_{name}")
}

/// Splits `func+off` (offset in decimal or 0x hex).
pub(crate) fn split_offset(spec: &str) -> Option<(&str, u64)> {
    match spec.split_once('+') {
        None => Some((spec, 0)),
        Some((f, off)) => {
            let off = match off.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok()?,
                None => off.parse().ok()?,
            };
            Some((f, off))
        }
    }
}

impl Program {
    /// Attaches a kprobe program at `func` + `offset`.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let link = obj.program("on_open").unwrap().attach_kprobe("do_sys_openat2", 0)?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_kprobe(&self, func: &str, offset: u64) -> Result<Link> {
        self.attach_kprobe_with(
            func,
            &KprobeOpts {
                offset,
                ..Default::default()
            },
        )
    }

    /// Attaches a kprobe program to the return of `func` (a kretprobe).
    pub fn attach_kretprobe(&self, func: &str) -> Result<Link> {
        self.attach_kprobe_with(
            func,
            &KprobeOpts {
                retprobe: true,
                ..Default::default()
            },
        )
    }

    /// Attaches a kprobe or kretprobe with options. `func` may be `module:function` for a
    /// function of a loaded module.
    pub fn attach_kprobe_with(&self, func: &str, opts: &KprobeOpts) -> Result<Link> {
        let kind = if opts.retprobe { "kretprobe" } else { "kprobe" };
        let target = if opts.offset != 0 {
            format!("{kind} {func}+{:#x}", opts.offset)
        } else {
            format!("{kind} {func}")
        };
        expect_type(self, &target, &[ProgType::Kprobe], "attach_kprobe")?;
        if opts.retprobe && opts.offset != 0 {
            return Err(attach_err(
                self,
                &target,
                "a kretprobe cannot have an offset",
                None,
            ));
        }
        let support = kprobe_support();
        if support == KprobeSupport::None {
            return Err(attach_err(
                self,
                &target,
                "this kernel has no kprobe support (no kprobe PMU at /sys/bus/event_source/devices/kprobe and no kprobe_events in tracefs: built without CONFIG_KPROBES?)",
                None,
            ));
        }
        if kallsyms_has(func) == Some(false) {
            return Err(attach_err(
                self,
                &target,
                format!("no such function in kallsyms: {func}"),
                None,
            ));
        }
        self.kprobe_event(func, opts, support, target)
    }

    /// The kprobe itself, once `func` and `opts` were checked: a perf event on the kprobe
    /// PMU (`support` says whether there is one), else a tracefs probe.
    pub(crate) fn kprobe_event(
        &self,
        func: &str,
        opts: &KprobeOpts,
        support: KprobeSupport,
        target: String,
    ) -> Result<Link> {
        if support == KprobeSupport::Pmu && !opts.legacy {
            let name = CString::new(func)
                .map_err(|_| attach_err(self, &target, "NUL byte in the function name", None))?;
            let event = perf_event_open_probe(&ProbeAttr {
                kind: ProbeKind::Kprobe,
                retprobe: opts.retprobe,
                name: Some(&name),
                offset: opts.offset,
                ref_ctr_offset: 0,
                pid: -1,
            })
            .map_err(|e| sys_err(self, &target, "opening the kprobe perf event", e))?;
            return attach_perf_event_fd(self, target, event, None, opts.cookie);
        }
        let spec = if opts.offset != 0 {
            format!("{func}+{}", opts.offset)
        } else {
            func.to_string()
        };
        let (probe, id) =
            TracefsProbe::create(ProbeFile::Kprobe, opts.retprobe, &spec).map_err(|e| {
                sys_err(
                    self,
                    &target,
                    "creating a kprobe in tracefs kprobe_events",
                    e,
                )
            })?;
        let event = corebpf_sys::perf::perf_event_open_tracepoint(id).map_err(|e| {
            sys_err(
                self,
                &target,
                &format!("opening the perf event of tracefs probe {}", probe.name()),
                e,
            )
        })?;
        attach_perf_event_fd(self, target, event, Some(probe), opts.cookie)
    }

    /// Attaches a kprobe (or, with `retprobe`, kretprobe) program to syscall `name`
    /// (`openat`, `getpid`) through the architecture's wrapper function (see
    /// [`syscall_function`]).
    pub fn attach_ksyscall(&self, name: &str, retprobe: bool) -> Result<Link> {
        let func = syscall_function(name);
        self.attach_kprobe_with(
            &func,
            &KprobeOpts {
                retprobe,
                ..Default::default()
            },
        )
    }
}
