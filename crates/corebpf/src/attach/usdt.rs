//! USDT probes (`<sys/sdt.h>` static probes), as libbpf 1.7's `usdt.c` attaches them for
//! programs written with libbpf's BPF-side `usdt.bpf.h`: every call site of
//! `provider:name` in the binary (found by [`corebpf_obj::usdt`]) gets a uprobe whose BPF
//! cookie is a spec id, and the spec (where each argument is) is written at that id into
//! the object's `__bpf_usdt_specs` map, which `bpf_usdt_arg()` reads. Where the kernel lacks
//! BPF cookies (before 5.15) the spec id is found by the probe's address instead, through
//! `__bpf_usdt_ip_to_spec_id`. A probe's semaphore goes to the uprobe as its
//! `ref_ctr_offset`, so the kernel counts it up while attached.
//!
//! Spec ids are per object (libbpf's `usdt_manager`): call sites of one attachment sharing
//! an argument string share an id, and ids return to a free list when the link goes.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use corebpf_obj::usdt::{ElfKind, SpecLayout, UsdtFile, UsdtSpec, UsdtTarget};
use corebpf_sys::{probe_feature, Feature, ProgType, SysError};

use super::uprobe::{find_binary, UprobeOpts};
use super::{attach_err, expect_type};
use crate::error::Result;
use crate::link::{Attachment, Link};
use crate::map::MapError;
use crate::map::{Map, BPF_ANY, BPF_NOEXIST};
use crate::program::Program;

/// The maps `usdt.bpf.h` defines.
const SPECS_MAP: &str = "__bpf_usdt_specs";
const IP_MAP: &str = "__bpf_usdt_ip_to_spec_id";

/// Options of [`Program::attach_usdt`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsdtOpts {
    /// The value `bpf_usdt_cookie()` returns in the program (the BPF cookie itself carries
    /// the spec id).
    pub usdt_cookie: u64,
}

/// An object's USDT state: its two `usdt.bpf.h` maps, the spec layout they were built
/// with, and which spec ids are in use.
pub(crate) struct UsdtManager {
    specs: Map,
    ip_to_spec: Map,
    ids: Mutex<SpecIds>,
}

impl fmt::Debug for UsdtManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsdtManager")
            .field("specs", &self.specs.name())
            .finish()
    }
}

/// Spec id allocation: the ids given back, then the never-used ones from `next`.
#[derive(Default)]
struct SpecIds {
    free: Vec<u32>,
    next: u32,
}

/// Gives every program of an object that defines `usdt.bpf.h`'s maps the object's USDT
/// state (called once the object is loaded). Fails only if a map's fd cannot be
/// duplicated (the process is out of fds).
pub(crate) fn install(
    maps: &[(String, String, Map)],
    programs: &mut [Program],
) -> crate::Result<()> {
    let find = |name: &str| maps.iter().find(|(n, _, _)| n == name).map(|(_, _, m)| m);
    let (Some(specs), Some(ips)) = (find(SPECS_MAP), find(IP_MAP)) else {
        return Ok(());
    };
    // The kernel's info is copied, not asked for again.
    let dup = |m: &Map| {
        let fd = m.map_fd().try_clone().map_err(|e| {
            MapError::io(format!("map {}: duplicating its fd for USDT", m.name()), e)
        })?;
        Ok::<_, MapError>(Map::from_map_fd(fd))
    };
    let man = Arc::new(UsdtManager {
        specs: dup(specs)?,
        ip_to_spec: dup(ips)?,
        ids: Mutex::new(SpecIds::default()),
    });
    for p in programs.iter_mut() {
        p.usdt = Some(Arc::clone(&man));
    }
    Ok(())
}

impl UsdtManager {
    /// The spec layout of the object's `usdt.bpf.h`, told by the specs map's value size.
    fn layout(&self) -> std::result::Result<SpecLayout, String> {
        let size = self.specs.value_size();
        SpecLayout::from_value_size(size).ok_or_else(|| {
            format!(
                "map {SPECS_MAP} has {size}-byte values, the struct __bpf_usdt_spec of neither libbpf <= 1.6's usdt.bpf.h ({}) nor 1.7's ({})",
                SpecLayout::Libbpf11.spec_size(),
                SpecLayout::Libbpf17.spec_size()
            )
        })
    }

    /// A free spec id, or `None` when every slot of the specs map is in use.
    fn alloc(&self) -> Option<u32> {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = ids.free.pop() {
            return Some(id);
        }
        if ids.next >= self.specs.max_entries() {
            return None;
        }
        ids.next += 1;
        Some(ids.next - 1)
    }

    /// Gives spec ids back for later attachments.
    fn release(&self, spec_ids: &[u32]) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.free.extend_from_slice(spec_ids);
    }
}

/// The uprobes of one USDT attachment, the spec ids they use and the addresses they put
/// in the IP map: all undone together.
struct UsdtAttachment {
    man: Arc<UsdtManager>,
    uprobes: Vec<Box<dyn Attachment>>,
    spec_ids: Vec<u32>,
    ips: Vec<u64>,
}

impl Attachment for UsdtAttachment {
    fn kind_name(&self) -> &'static str {
        "USDT (one uprobe per call site)"
    }

    /// Detaches every uprobe, removes the IP map entries and frees the spec ids
    /// (libbpf's `bpf_link_usdt_detach`); reports the first failure.
    fn detach(self: Box<Self>) -> std::result::Result<(), SysError> {
        let mut first = Ok(());
        for u in self.uprobes {
            let r = u.detach();
            if first.is_ok() {
                first = r;
            }
        }
        for ip in &self.ips {
            let _ = self.man.ip_to_spec.delete(&ip.to_ne_bytes());
        }
        self.man.release(&self.spec_ids);
        first
    }

    /// Leaves the uprobes attached; their spec ids stay taken.
    fn forget(self: Box<Self>) {
        for u in self.uprobes {
            u.forget();
        }
    }

    fn into_link_fd(
        self: Box<Self>,
    ) -> std::result::Result<std::os::fd::OwnedFd, Box<dyn Attachment>> {
        Err(self)
    }
}

impl Program {
    /// Attaches this program (written with libbpf's `usdt.bpf.h`, e.g. `SEC("usdt") int
    /// BPF_USDT(...)`) to every call site of USDT probe `provider:name` in `binary` (a path,
    /// or a name looked up as uprobes do: [`find_binary`]), in process `pid` only or in every
    /// process (`None`; `Some(0)` is this process). The returned [`Link`] holds one uprobe
    /// per call site and detaches them all when dropped.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// use corebpf::attach::usdt::UsdtOpts;
    /// let link = obj.program("on_request").unwrap()
    ///     .attach_usdt("/usr/bin/myserver", None, "myserver", "request", &UsdtOpts::default())?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_usdt(
        &self,
        binary: impl AsRef<Path>,
        pid: Option<i32>,
        provider: &str,
        name: &str,
        opts: &UsdtOpts,
    ) -> Result<Link> {
        let given = binary.as_ref();
        let target = format!("usdt {}:{provider}:{name}", given.display());
        let err = |reason: String| attach_err(self, &target, reason, None);
        expect_type(self, &target, &[ProgType::Kprobe], "attach_usdt")?;
        let man = self.usdt.clone().ok_or_else(|| {
            err(format!("the object has no {SPECS_MAP} and {IP_MAP} maps (did you forget to include bpf/usdt.bpf.h?)"))
        })?;
        let layout = man.layout().map_err(&err)?;
        let path = find_binary(&given.to_string_lossy())
            .ok_or_else(|| err(format!("binary not found: {}", given.display())))?;
        let bytes = std::fs::read(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        let file = UsdtFile::parse(&bytes).map_err(|e| err(format!("{}: {e}", path.display())))?;
        let targets = file
            .targets(provider, name)
            .map_err(|e| err(format!("{}: {e}", path.display())))?;
        if targets.is_empty() {
            return Err(err(format!(
                "{} has no USDT probe '{provider}:{name}'",
                path.display()
            )));
        }
        let pid = match pid {
            Some(0) => Some(std::process::id() as i32),
            Some(p) if p > 0 => Some(p),
            _ => None,
        };
        let site = Site {
            prog: self,
            target: &target,
            path: &path,
            pid,
            cookie: opts.usdt_cookie,
            layout,
            has_cookie: probe_feature(Feature::BpfCookie),
        };
        let ips = site.absolute_ips(&file, &targets)?;
        site.check_semaphores(&targets)?;
        let mut att = UsdtAttachment {
            man,
            uprobes: Vec::new(),
            spec_ids: Vec::new(),
            ips: Vec::new(),
        };
        match site.attach_all(&mut att, &targets, &ips) {
            Ok(()) => Ok(Link::new(self, target, att)),
            Err(e) => {
                let _ = Box::new(att).detach();
                Err(e)
            }
        }
    }
}

/// What every call site of one [`Program::attach_usdt`] shares.
struct Site<'a> {
    prog: &'a Program,
    target: &'a str,
    path: &'a Path,
    pid: Option<i32>,
    cookie: u64,
    layout: SpecLayout,
    has_cookie: bool,
}

impl Site<'_> {
    fn err(&self, reason: impl Into<String>) -> crate::Error {
        attach_err(self.prog, self.target, reason, None)
    }

    /// Each call site's absolute address, needed only without BPF cookies (the IP map is
    /// keyed by it): the address itself in a fixed-address executable, else found through
    /// the process's mappings of the binary, which needs a pid.
    fn absolute_ips(&self, file: &UsdtFile, targets: &[UsdtTarget]) -> Result<Vec<u64>> {
        if self.has_cookie {
            return Ok(Vec::new());
        }
        if file.kind == ElfKind::Exec {
            return Ok(targets.iter().map(|t| t.addr).collect());
        }
        let pid = self.pid.ok_or_else(|| {
            self.err("this kernel has no BPF cookies (Linux 5.15): a USDT probe in a PIE executable or shared library needs a pid to find its addresses")
        })?;
        let maps = exec_mappings(pid, self.path).map_err(|e| self.err(e))?;
        targets
            .iter()
            .map(|t| {
                maps.iter()
                    .find(|m| {
                        t.file_offset >= m.offset
                            && t.file_offset - m.offset < m.end.saturating_sub(m.start)
                    })
                    .map(|m| m.start.wrapping_sub(m.offset).wrapping_add(t.file_offset))
                    .ok_or_else(|| {
                        self.err(format!(
                            "file offset {:#x} of {} is in no executable mapping of process {pid}",
                            t.file_offset,
                            self.path.display()
                        ))
                    })
            })
            .collect()
    }

    /// Probes with semaphores need the kernel to count them (`ref_ctr_offset`, 4.20).
    fn check_semaphores(&self, targets: &[UsdtTarget]) -> Result<()> {
        const REF_CTR: &str = "/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset";
        if targets.iter().any(|t| t.sema_offset != 0) && !Path::new(REF_CTR).exists() {
            return Err(self.err(format!(
                "the probe has a semaphore and this kernel cannot count it for uprobes (no {REF_CTR})"
            )));
        }
        Ok(())
    }

    /// Writes each distinct spec once, maps IPs where needed and attaches one uprobe per
    /// call site, recording all of it in `att` (undone by the caller on failure).
    fn attach_all(
        &self,
        att: &mut UsdtAttachment,
        targets: &[UsdtTarget],
        ips: &[u64],
    ) -> Result<()> {
        let mut by_args: HashMap<&str, u32> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            let id = match by_args.get(t.args_str.as_str()) {
                Some(&id) => id,
                None => {
                    let id = self.new_spec(att, t)?;
                    by_args.insert(&t.args_str, id);
                    id
                }
            };
            if let Some(&ip) = ips.get(i) {
                att.man
                    .ip_to_spec
                    .update(&ip.to_ne_bytes(), &id.to_ne_bytes(), BPF_NOEXIST)
                    .map_err(|e| self.err(format!("mapping IP {ip:#x} to spec #{id} in {IP_MAP} (another USDT attachment at the same address?): {e}")))?;
                att.ips.push(ip);
            }
            let opts = UprobeOpts {
                pid: self.pid,
                ref_ctr_offset: t.sema_offset,
                cookie: if self.has_cookie { u64::from(id) } else { 0 },
                ..Default::default()
            };
            let link = self
                .prog
                .attach_uprobe_offset(self.path, t.file_offset, &opts)
                .map_err(|e| {
                    self.err(format!(
                        "call site #{i} at file offset {:#x}: {e}",
                        t.file_offset
                    ))
                })?;
            att.uprobes.extend(link.into_attachment());
        }
        Ok(())
    }

    /// Allocates a spec id for `t`'s arguments and writes the spec there.
    fn new_spec(&self, att: &mut UsdtAttachment, t: &UsdtTarget) -> Result<u32> {
        let bytes = UsdtSpec {
            args: t.args.clone(),
            cookie: self.cookie,
        }
        .to_bytes(self.layout)
        .map_err(|f| self.err(format!("arg #{} of '{}': {}", f.arg, t.args_str, f.reason)))?;
        let id = att.man.alloc().ok_or_else(|| {
            self.err(format!(
                "all {} spec ids of {SPECS_MAP} are in use (raise BPF_USDT_MAX_SPEC_CNT)",
                att.man.specs.max_entries()
            ))
        })?;
        att.spec_ids.push(id);
        att.man
            .specs
            .update(&id.to_ne_bytes(), &bytes, BPF_ANY)
            .map_err(|e| self.err(format!("writing spec #{id} to {SPECS_MAP}: {e}")))?;
        Ok(id)
    }
}

/// An executable mapping of a file in a process.
struct Mapping {
    start: u64,
    end: u64,
    offset: u64,
}

/// The executable mappings of `path` in process `pid` (libbpf's `parse_vma_segs`).
fn exec_mappings(pid: i32, path: &Path) -> std::result::Result<Vec<Mapping>, String> {
    let real: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let maps_path = format!("/proc/{pid}/maps");
    let text = std::fs::read_to_string(&maps_path).map_err(|e| format!("{maps_path}: {e}"))?;
    let found: Vec<Mapping> = text
        .lines()
        .filter_map(|l| {
            // "start-end mode offset dev inode   path" (the path may hold spaces).
            let mut f = l.splitn(6, ' ');
            let (range, mode, off) = (f.next()?, f.next()?, f.next()?);
            let file = f.nth(2)?.trim_start();
            if Path::new(file) != real || mode.as_bytes().get(2) != Some(&b'x') {
                return None;
            }
            let (s, e) = range.split_once('-')?;
            let hex = |v: &str| u64::from_str_radix(v, 16).ok();
            Some(Mapping {
                start: hex(s)?,
                end: hex(e)?,
                offset: hex(off)?,
            })
        })
        .collect();
    if found.is_empty() {
        return Err(format!(
            "{} is not mapped executable in process {pid}",
            real.display()
        ));
    }
    Ok(found)
}
