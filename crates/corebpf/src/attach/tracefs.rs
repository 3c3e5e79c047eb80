//! tracefs: where it is (mounting it if needed), tracepoint ids, and the legacy
//! `kprobe_events`/`uprobe_events` probes used on kernels without the probe PMUs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use corebpf_sys::SysError;

/// Where tracefs is looked for, in order.
pub const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

fn file_err(path: &Path, source: std::io::Error) -> SysError {
    SysError::File {
        path: path.display().to_string(),
        error: source,
    }
}

/// The tracefs directory: `/sys/kernel/tracing` or `/sys/kernel/debug/tracing`, whichever
/// is mounted; if neither is (a container, or a system without debugfs), tracefs is mounted
/// at `/sys/kernel/tracing` (said at debug level). If that fails too, the error names both
/// paths and how to mount it.
pub fn tracefs_root() -> Result<PathBuf, SysError> {
    // A mounted tracefs always has `events`; the bare mount point does not.
    if let Some(root) = TRACEFS_ROOTS
        .iter()
        .map(Path::new)
        .find(|r| r.join("events").is_dir())
    {
        return Ok(root.to_path_buf());
    }
    let root = Path::new(TRACEFS_ROOTS[0]);
    let mounted = nix::mount::mount(
        Some("tracefs"),
        root,
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    );
    // Someone else may have mounted it meanwhile: judge by the result.
    if root.join("events").is_dir() {
        if mounted.is_ok() {
            log::debug!(
                "no tracefs at {} or {}: mounted one at {}",
                TRACEFS_ROOTS[0],
                TRACEFS_ROOTS[1],
                TRACEFS_ROOTS[0]
            );
        }
        return Ok(root.to_path_buf());
    }
    Err(SysError::Unsupported {
        what: "tracefs",
        reason: format!(
            "no tracefs at {} or {}, and mounting one failed: {}; mount it with \
             `mount -t tracefs tracefs {}`",
            TRACEFS_ROOTS[0],
            TRACEFS_ROOTS[1],
            mounted
                .err()
                .map_or("no events directory".into(), |e| e.to_string()),
            TRACEFS_ROOTS[0]
        ),
    })
}

/// The id of tracepoint `category/name` (`<tracefs>/events/<category>/<name>/id`), or an
/// error saying "tracepoint not found: sched/foo (no /sys/kernel/tracing/events/sched/foo)".
pub fn tracepoint_id(category: &str, name: &str) -> Result<u64, SysError> {
    let bad = |c: &str| c.is_empty() || c.contains(['/', '.']) || c.contains(char::is_whitespace);
    if bad(category) || bad(name) {
        return Err(SysError::InvalidInput {
            cmd: "tracepoint",
            reason: format!("bad tracepoint name '{category}/{name}' (want category/name)"),
        });
    }
    let root = tracefs_root()?;
    let dir = root.join("events").join(category).join(name);
    if !dir.is_dir() {
        return Err(SysError::NotFound {
            what: "tracepoint",
            reason: format!(
                "tracepoint not found: {category}/{name} (no {})",
                dir.display()
            ),
        });
    }
    let path = dir.join("id");
    let text = std::fs::read_to_string(&path).map_err(|e| file_err(&path, e))?;
    text.trim().parse().map_err(|_| {
        file_err(
            &path,
            std::io::Error::other(format!("not a number: {text:?}")),
        )
    })
}

/// A kprobe or uprobe created by writing to tracefs `kprobe_events`/`uprobe_events`; it
/// is removed when dropped (after the perf events on it are closed).
#[derive(Debug)]
pub struct TracefsProbe {
    events_file: PathBuf,
    /// `kprobes/corebpf_<pid>_<n>`.
    group_event: String,
    removed: bool,
}

static PROBE_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Which legacy probe file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeFile {
    /// `kprobe_events`.
    Kprobe,
    /// `uprobe_events`.
    Uprobe,
}

impl ProbeFile {
    fn file(self) -> &'static str {
        match self {
            ProbeFile::Kprobe => "kprobe_events",
            ProbeFile::Uprobe => "uprobe_events",
        }
    }

    fn group(self) -> &'static str {
        match self {
            ProbeFile::Kprobe => "kprobes",
            ProbeFile::Uprobe => "uprobes",
        }
    }
}

/// Whether tracefs has `kprobe_events` (or `uprobe_events`): legacy probes can be made.
pub fn has_probe_events(which: ProbeFile) -> bool {
    tracefs_root().is_ok_and(|r| r.join(which.file()).exists())
}

impl TracefsProbe {
    /// Creates `p:<group>/corebpf_<pid>_<n> <spec>` (or `r:` for a return probe), where
    /// `spec` is `func+off` for kprobes and `/path:0xoffset` for uprobes, and returns the
    /// probe and its tracepoint id.
    pub fn create(which: ProbeFile, retprobe: bool, spec: &str) -> Result<(Self, u64), SysError> {
        let root = tracefs_root()?;
        let events_file = root.join(which.file());
        if !events_file.exists() {
            return Err(SysError::Unsupported {
                what: which.file(),
                reason: format!(
                    "this kernel has no {} support (no {})",
                    if which == ProbeFile::Kprobe {
                        "kprobe"
                    } else {
                        "uprobe"
                    },
                    events_file.display()
                ),
            });
        }
        let n = PROBE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let event = format!("corebpf_{}_{n}", std::process::id());
        let group_event = format!("{}/{event}", which.group());
        let line = format!("{}:{group_event} {spec}", if retprobe { 'r' } else { 'p' });
        append(&events_file, &line)?;
        let probe = TracefsProbe {
            events_file,
            group_event,
            removed: false,
        };
        let id_path = root
            .join("events")
            .join(which.group())
            .join(&event)
            .join("id");
        let text = std::fs::read_to_string(&id_path).map_err(|e| file_err(&id_path, e))?;
        let id = text.trim().parse().map_err(|_| {
            file_err(
                &id_path,
                std::io::Error::other(format!("not a number: {text:?}")),
            )
        })?;
        Ok((probe, id))
    }

    /// The probe's `group/event` name.
    pub fn name(&self) -> &str {
        &self.group_event
    }

    /// Removes the probe (`-:group/event`).
    pub fn remove(mut self) -> Result<(), SysError> {
        self.removed = true;
        append(&self.events_file, &format!("-:{}", self.group_event))
    }

    /// Leaves the probe in tracefs.
    pub fn keep(mut self) {
        self.removed = true;
    }
}

impl Drop for TracefsProbe {
    fn drop(&mut self) {
        if !self.removed {
            let _ = append(&self.events_file, &format!("-:{}", self.group_event));
        }
    }
}

/// Appends one line to a tracefs control file (each write is one command).
fn append(path: &Path, line: &str) -> Result<(), SysError> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| file_err(path, e))?;
    f.write_all(format!("{line}\n").as_bytes()).map_err(|e| {
        file_err(
            path,
            std::io::Error::new(e.kind(), format!("writing '{line}': {e}")),
        )
    })
}
