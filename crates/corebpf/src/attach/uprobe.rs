//! uprobes and uretprobes: a binary (executable or shared library) and a function symbol
//! from its `.symtab` or `.dynsym`, or a raw file offset; optionally one process only.
//! A perf event on the uprobe PMU, or a tracefs `uprobe_events` probe without it.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment, ObjectSymbol};

use corebpf_sys::perf::{
    perf_event_open, perf_event_open_probe, probe_pmu_type, PerfEventAttr, ProbeAttr, ProbeKind,
    PERF_TYPE_TRACEPOINT,
};
use corebpf_sys::ProgType;

use super::perf::attach_perf_event_fd;
use super::tracefs::{ProbeFile, TracefsProbe};
use super::{attach_err, expect_type, sys_err};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

/// Options of [`Program::attach_uprobe`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UprobeOpts {
    /// A return probe (uretprobe).
    pub retprobe: bool,
    /// Trace this process only (`None`: every process running the binary).
    pub pid: Option<i32>,
    /// Offset added to the function's start.
    pub func_offset: u64,
    /// File offset of a reference counter (USDT semaphore), 0 for none.
    pub ref_ctr_offset: u64,
    /// The value `bpf_get_attach_cookie()` returns (needs perf links, Linux 5.15).
    pub cookie: u64,
    /// Use tracefs `uprobe_events` even if the uprobe PMU exists.
    pub legacy: bool,
}

/// Why a symbol could not be turned into a file offset.
fn resolve_err(binary: &Path, what: impl std::fmt::Display) -> String {
    format!("{}: {what}", binary.display())
}

/// The file offset of function `symbol` in ELF file `binary`: its address from `.symtab`
/// or `.dynsym`, made a file offset through the `PT_LOAD` segment holding it (so it works
/// for PIE executables and shared libraries, whose addresses are not file offsets).
pub fn symbol_file_offset(binary: &Path, symbol: &str) -> std::result::Result<u64, String> {
    let data = std::fs::read(binary).map_err(|e| resolve_err(binary, e))?;
    let file = object::File::parse(&*data).map_err(|e| resolve_err(binary, e))?;
    let found = file
        .symbols()
        .chain(file.dynamic_symbols())
        .find(|s| s.is_definition() && s.name() == Ok(symbol))
        .ok_or_else(|| {
            resolve_err(
                binary,
                format!("no function symbol '{symbol}' in .symtab or .dynsym"),
            )
        })?;
    let addr = found.address();
    for seg in file.segments() {
        let (start, size) = (seg.address(), seg.size());
        let (file_off, file_size) = seg.file_range();
        if addr >= start && addr < start + size.max(file_size) {
            if addr - start >= file_size {
                break;
            }
            return Ok(addr - start + file_off);
        }
    }
    Err(resolve_err(
        binary,
        format!("symbol '{symbol}' at {addr:#x} is in no loadable segment"),
    ))
}

/// Finds a binary given by name only (`libc.so.6`, `bash`): shared libraries in the
/// library directories (`LD_LIBRARY_PATH` first), executables in `PATH`. A path with a
/// `/` is taken as is.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if name.contains(".so") {
        if let Some(p) = std::env::var_os("LD_LIBRARY_PATH") {
            dirs.extend(std::env::split_paths(&p));
        }
        for d in [
            "/lib64",
            "/usr/lib64",
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib/aarch64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/lib",
            "/usr/lib",
        ] {
            dirs.push(d.into());
        }
    } else if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

impl Program {
    /// Attaches a uprobe program to function `symbol` of `binary` (a path, or a library
    /// or executable name looked up as [`find_binary`] does).
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// use corebpf::attach::uprobe::UprobeOpts;
    /// let link = obj.program("on_malloc").unwrap()
    ///     .attach_uprobe("libc.so.6", "malloc", &UprobeOpts::default())?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_uprobe(
        &self,
        binary: impl AsRef<Path>,
        symbol: &str,
        opts: &UprobeOpts,
    ) -> Result<Link> {
        let kind = if opts.retprobe { "uretprobe" } else { "uprobe" };
        let given = binary.as_ref();
        let target = format!("{kind} {}:{symbol}", given.display());
        let path = self.binary_path(given, &target)?;
        let off =
            symbol_file_offset(&path, symbol).map_err(|e| attach_err(self, &target, e, None))?;
        self.uprobe_at(&path, off + opts.func_offset, opts, target)
    }

    /// `given` as a path to an existing binary (searched in `PATH` if it has no slash), or
    /// an attach error for `target`.
    fn binary_path(&self, given: &Path, target: &str) -> Result<PathBuf> {
        find_binary(&given.to_string_lossy()).ok_or_else(|| {
            attach_err(
                self,
                target,
                format!("binary not found: {}", given.display()),
                None,
            )
        })
    }

    /// Attaches a uprobe program at file offset `offset` of `binary`.
    pub fn attach_uprobe_offset(
        &self,
        binary: impl AsRef<Path>,
        offset: u64,
        opts: &UprobeOpts,
    ) -> Result<Link> {
        let kind = if opts.retprobe { "uretprobe" } else { "uprobe" };
        let given = binary.as_ref();
        let target = format!("{kind} {}:{offset:#x}", given.display());
        let path = self.binary_path(given, &target)?;
        self.uprobe_at(&path, offset + opts.func_offset, opts, target)
    }

    fn uprobe_at(
        &self,
        path: &Path,
        offset: u64,
        opts: &UprobeOpts,
        target: String,
    ) -> Result<Link> {
        expect_type(self, &target, &[ProgType::Kprobe], "attach_uprobe")?;
        // The kernel resolves the path itself: make it absolute, as a relative one would be
        // taken from the kernel's idea of the cwd.
        let path = std::fs::canonicalize(path)
            .map_err(|e| attach_err(self, &target, format!("{}: {e}", path.display()), None))?;
        let pid = opts.pid.unwrap_or(-1);
        if probe_pmu_type(ProbeKind::Uprobe).is_ok() && !opts.legacy {
            let cpath = CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| attach_err(self, &target, "NUL byte in the path", None))?;
            let event = perf_event_open_probe(&ProbeAttr {
                kind: ProbeKind::Uprobe,
                retprobe: opts.retprobe,
                name: Some(&cpath),
                offset,
                ref_ctr_offset: opts.ref_ctr_offset,
                pid,
            })
            .map_err(|e| sys_err(self, &target, "opening the uprobe perf event", e))?;
            return attach_perf_event_fd(self, target, event, None, opts.cookie);
        }
        if opts.ref_ctr_offset != 0 {
            return Err(attach_err(
                self,
                &target,
                "a reference counter needs the uprobe PMU, which this kernel lacks",
                None,
            ));
        }
        let spec = format!("{}:{offset:#x}", path.display());
        let (probe, id) =
            TracefsProbe::create(ProbeFile::Uprobe, opts.retprobe, &spec).map_err(|e| {
                sys_err(
                    self,
                    &target,
                    "creating a uprobe in tracefs uprobe_events",
                    e,
                )
            })?;
        let attr = PerfEventAttr {
            type_: PERF_TYPE_TRACEPOINT,
            config: id,
            sample_period: 1,
            wakeup_events: 1,
            ..Default::default()
        };
        let (pid, cpu) = if pid < 0 { (-1, 0) } else { (pid, -1) };
        let event = perf_event_open(&attr, pid, cpu, None, 0).map_err(|e| {
            sys_err(
                self,
                &target,
                &format!("opening the perf event of tracefs probe {}", probe.name()),
                e,
            )
        })?;
        attach_perf_event_fd(self, target, event, Some(probe), opts.cookie)
    }
}
