//! uprobe.multi, uretprobe.multi and uprobe.session (and their sleepable `.s` forms): one
//! `BPF_TRACE_UPROBE_MULTI` (or `BPF_TRACE_UPROBE_SESSION`) link on many offsets of one
//! binary. Offsets come from the binary's `STT_FUNC` symbols as libbpf's
//! `elf_resolve_pattern_offsets` and `elf_resolve_syms_offsets` find them.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SymbolFlags, SymbolSection};

use corebpf_sys::consts::BPF_F_UPROBE_MULTI_RETURN;
use corebpf_sys::{
    link_create, probe_feature, AttachTarget, AttachType, Feature, LinkCreateAttr, LinkCreateOpts,
};

use super::{expect_attach_type, glob_match, link_err, session_unsupported};
use crate::attach::attach_err;
use crate::attach::bpf_link::BpfLink;
use crate::attach::group::Group;
use crate::attach::uprobe::{find_binary, UprobeOpts};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

/// The probes of a uprobe multi link in its binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UprobeTargets {
    /// The functions whose names match this glob (`*`, `?`): the `.symtab` matches, or
    /// where `.symtab` has none (a stripped binary) the `.dynsym` ones.
    Pattern(String),
    /// These functions, from `.dynsym` or `.symtab` (each must be found, once: two
    /// non-weak definitions at different offsets are ambiguous).
    Symbols(Vec<String>),
    /// These file offsets.
    Offsets(Vec<u64>),
}

impl Default for UprobeTargets {
    fn default() -> Self {
        UprobeTargets::Offsets(Vec::new())
    }
}

/// Options of [`Program::attach_uprobe_multi`] (libbpf's `bpf_uprobe_multi_opts` and the
/// pid argument).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UprobeMultiOpts {
    /// Where to attach.
    pub targets: UprobeTargets,
    /// Trace this process only (`Some(0)`: this process, as libbpf; `None` or negative:
    /// every process running the binary).
    pub pid: Option<i32>,
    /// File offsets of reference counters (USDT semaphores), one per target (symbols or
    /// offsets only), or empty.
    pub ref_ctr_offsets: Vec<u64>,
    /// `bpf_get_attach_cookie()` of each target, in order (symbols or offsets only), or
    /// empty.
    pub cookies: Vec<u64>,
    /// Return probes (uretprobe.multi).
    pub retprobe: bool,
    /// A session (uprobe.session: the program runs at entry and, unless it returned 1
    /// there, at return; Linux 6.13).
    pub session: bool,
}

impl UprobeMultiOpts {
    /// The functions matching glob `pattern`.
    pub fn pattern(pattern: impl Into<String>) -> Self {
        UprobeMultiOpts {
            targets: UprobeTargets::Pattern(pattern.into()),
            ..Default::default()
        }
    }

    /// These functions, by name.
    pub fn symbols<S: Into<String>>(symbols: impl IntoIterator<Item = S>) -> Self {
        UprobeMultiOpts {
            targets: UprobeTargets::Symbols(symbols.into_iter().map(Into::into).collect()),
            ..Default::default()
        }
    }

    /// These file offsets.
    pub fn offsets(offsets: Vec<u64>) -> Self {
        UprobeMultiOpts {
            targets: UprobeTargets::Offsets(offsets),
            ..Default::default()
        }
    }
}

/// A function symbol: name, file offset, weak binding.
struct FuncSym<'d> {
    name: &'d str,
    offset: u64,
    weak: bool,
}

/// The defined `STT_FUNC` symbols of `.dynsym` (`dynamic`) or `.symtab`, with file
/// offsets computed from their section as libbpf's `elf_sym_offset` does.
fn func_symbols<'d>(file: &object::File<'d>, dynamic: bool) -> Vec<FuncSym<'d>> {
    let syms = if dynamic {
        file.dynamic_symbols()
    } else {
        file.symbols()
    };
    syms.filter_map(|s| {
        let SymbolFlags::Elf { st_info, .. } = s.flags() else {
            return None;
        };
        if st_info.st_type() != object::elf::STT_FUNC {
            return None;
        }
        let SymbolSection::Section(idx) = s.section() else {
            return None;
        };
        let sec = file.section_by_index(idx).ok()?;
        let (sec_off, _) = sec.file_range()?;
        let offset = s.address().checked_sub(sec.address())? + sec_off;
        Some(FuncSym {
            name: s.name().ok()?,
            offset,
            weak: s.is_weak(),
        })
    })
    .collect()
}

/// libbpf's `elf_resolve_pattern_offsets`: the offsets of the functions matching
/// `pattern` in `.symtab`, or if it has none, in `.dynsym`.
pub(crate) fn pattern_offsets(
    file: &object::File<'_>,
    pattern: &str,
) -> std::result::Result<Vec<u64>, String> {
    for dynamic in [false, true] {
        let found: Vec<u64> = func_symbols(file, dynamic)
            .into_iter()
            .filter(|s| glob_match(s.name, pattern))
            .map(|s| s.offset)
            .collect();
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Err(format!("no function symbol matches '{pattern}'"))
}

/// libbpf's `elf_resolve_syms_offsets`: the offset of each of `names` (`.dynsym` first,
/// then `.symtab`); a weak definition gives way to a non-weak one, two non-weak ones at
/// different offsets are ambiguous.
pub(crate) fn symbol_offsets(
    file: &object::File<'_>,
    names: &[String],
) -> std::result::Result<Vec<u64>, String> {
    let wanted: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    // (offset, weak) per wanted name.
    let mut found: Vec<Option<(u64, bool)>> = vec![None; names.len()];
    for dynamic in [true, false] {
        for s in func_symbols(file, dynamic) {
            let Some(&i) = wanted.get(s.name) else {
                continue;
            };
            match found[i] {
                Some((off, _)) if off == s.offset => {}
                Some((off, weak)) if !weak && !s.weak => {
                    return Err(format!(
                        "ambiguous function symbol '{}': at offsets {off:#x} and {:#x}",
                        s.name, s.offset
                    ));
                }
                Some(_) if s.weak => {}
                _ => found[i] = Some((s.offset, s.weak)),
            }
        }
    }
    found
        .iter()
        .zip(names)
        .map(|(f, n)| {
            f.map(|(off, _)| off)
                .ok_or_else(|| format!("no function symbol '{n}'"))
        })
        .collect()
}

/// A short description of the targets, for errors and [`Link::target`].
fn describe(path: &Path, opts: &UprobeMultiOpts) -> String {
    let kind = match (opts.session, opts.retprobe) {
        (true, _) => "uprobe.session",
        (false, true) => "uretprobe.multi",
        (false, false) => "uprobe.multi",
    };
    let what = match &opts.targets {
        UprobeTargets::Pattern(p) => p.clone(),
        UprobeTargets::Symbols(s) if s.len() == 1 => s[0].clone(),
        UprobeTargets::Symbols(s) => format!(
            "{} functions ({}, ...)",
            s.len(),
            s.first().map_or("", |s| s)
        ),
        UprobeTargets::Offsets(o) => format!("{} offsets", o.len()),
    };
    format!("{kind} {}:{what}", path.display())
}

/// The process a link traces, as `bpf_link_create` takes it (0: all).
fn link_pid(pid: Option<i32>) -> u32 {
    match pid {
        Some(0) => std::process::id(),
        Some(p) if p > 0 => p as u32,
        _ => 0,
    }
}

impl Program {
    /// Attaches a uprobe.multi, uretprobe.multi (`retprobe`) or uprobe.session (`session`)
    /// program (or their sleepable `.s` forms) to many functions or offsets of `binary` (a
    /// path, or a library or executable name looked up as
    /// [`find_binary`](crate::attach::uprobe::find_binary) does) at once (libbpf's
    /// `bpf_program__attach_uprobe_multi`). The program must have been loaded for the
    /// matching attach type (its SEC form). Without the uprobe_multi link (Linux 6.6),
    /// each offset gets its own uprobe, held as one link, and a debug line says so; a
    /// session has no such fallback.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// use corebpf::attach::multi::UprobeMultiOpts;
    /// // SEC("uprobe.multi")
    /// let link = obj.program("on_str").unwrap()
    ///     .attach_uprobe_multi("libc.so.6", &UprobeMultiOpts::pattern("str*"))?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_uprobe_multi(
        &self,
        binary: impl AsRef<Path>,
        opts: &UprobeMultiOpts,
    ) -> Result<Link> {
        let target = describe(binary.as_ref(), opts);
        let at = if opts.session {
            AttachType::TraceUprobeSession
        } else {
            AttachType::TraceUprobeMulti
        };
        expect_attach_type(self, &target, at, "attach_uprobe_multi")?;
        self.check_uprobe_multi_opts(&target, opts)?;
        let path = self.uprobe_binary(binary.as_ref(), &target)?;
        let offsets = self.uprobe_offsets(&path, &target, &opts.targets)?;
        if !probe_feature(Feature::UprobeMultiLink) {
            if opts.session {
                return Err(session_unsupported(
                    self,
                    &target,
                    at,
                    Feature::UprobeMultiLink,
                ));
            }
            return self.uprobe_multi_fallback(&path, &offsets, opts, target);
        }
        let cpath = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| attach_err(self, &target, "NUL byte in the path", None))?;
        let mut attr = LinkCreateAttr::new(self.as_fd(), AttachTarget::None, at);
        attr.opts = LinkCreateOpts::UprobeMulti {
            path: &cpath,
            offsets: &offsets,
            ref_ctr_offsets: &opts.ref_ctr_offsets,
            cookies: &opts.cookies,
            flags: if opts.retprobe {
                BPF_F_UPROBE_MULTI_RETURN
            } else {
                0
            },
            pid: link_pid(opts.pid),
        };
        let fd = link_create(&attr).map_err(|e| link_err(self, &target, at, e))?;
        Ok(Link::new(self, target, BpfLink(fd)))
    }

    /// libbpf's checks of the options: cookies and reference counters only with a list
    /// of the same length, no return probe in a session.
    fn check_uprobe_multi_opts(&self, target: &str, opts: &UprobeMultiOpts) -> Result<()> {
        let bad = |why: String| Err(attach_err(self, target, why, None));
        let n = match &opts.targets {
            UprobeTargets::Pattern(p) if p.is_empty() => return bad("empty pattern".into()),
            UprobeTargets::Pattern(_)
                if !opts.cookies.is_empty() || !opts.ref_ctr_offsets.is_empty() =>
            {
                return bad(
                    "cookies and reference counters need a list of symbols or offsets, not a pattern"
                        .into(),
                )
            }
            UprobeTargets::Pattern(_) => return self.check_session(target, opts),
            UprobeTargets::Symbols(s) => s.len(),
            UprobeTargets::Offsets(o) => o.len(),
        };
        if n == 0 {
            return bad("no functions or offsets to attach to".into());
        }
        for (what, len) in [
            ("cookies", opts.cookies.len()),
            ("reference counter offsets", opts.ref_ctr_offsets.len()),
        ] {
            if len != 0 && len != n {
                return bad(format!("{len} {what} for {n} probes"));
            }
        }
        self.check_session(target, opts)
    }

    fn check_session(&self, target: &str, opts: &UprobeMultiOpts) -> Result<()> {
        if opts.retprobe && opts.session {
            return Err(attach_err(
                self,
                target,
                "a session is not a return probe (retprobe and session both set)",
                None,
            ));
        }
        Ok(())
    }

    /// `given` found (a name without `/` searched as libbpf does) and made absolute, as
    /// the kernel resolves it itself.
    fn uprobe_binary(&self, given: &Path, target: &str) -> Result<PathBuf> {
        let found = find_binary(&given.to_string_lossy()).ok_or_else(|| {
            attach_err(
                self,
                target,
                format!("binary not found: {}", given.display()),
                None,
            )
        })?;
        std::fs::canonicalize(&found)
            .map_err(|e| attach_err(self, target, format!("{}: {e}", found.display()), None))
    }

    /// The file offsets of the targets in `path`.
    fn uprobe_offsets(
        &self,
        path: &Path,
        target: &str,
        targets: &UprobeTargets,
    ) -> Result<Vec<u64>> {
        let names = match targets {
            UprobeTargets::Offsets(o) => return Ok(o.clone()),
            _ => targets,
        };
        let fail = |e: String| attach_err(self, target, format!("{}: {e}", path.display()), None);
        let data = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let file = object::File::parse(&*data).map_err(|e| fail(e.to_string()))?;
        match names {
            UprobeTargets::Pattern(p) => pattern_offsets(&file, p),
            UprobeTargets::Symbols(s) => symbol_offsets(&file, s),
            UprobeTargets::Offsets(o) => Ok(o.clone()),
        }
        .map_err(fail)
    }

    /// Without the uprobe_multi link: one uprobe per offset, as one link.
    fn uprobe_multi_fallback(
        &self,
        path: &Path,
        offsets: &[u64],
        opts: &UprobeMultiOpts,
        target: String,
    ) -> Result<Link> {
        let mut links = Vec::with_capacity(offsets.len());
        for (i, &off) in offsets.iter().enumerate() {
            let one = UprobeOpts {
                retprobe: opts.retprobe,
                pid: opts.pid.filter(|&p| p >= 0),
                ref_ctr_offset: opts.ref_ctr_offsets.get(i).copied().unwrap_or(0),
                cookie: opts.cookies.get(i).copied().unwrap_or(0),
                ..Default::default()
            };
            links.push(self.attach_uprobe_offset(path, off, &one)?);
        }
        log::debug!(
            "prog '{}': this kernel has no uprobe_multi link ({}: Linux 6.6): attached {} single {} instead",
            self.name(),
            Feature::UprobeMultiLink.description(),
            offsets.len(),
            if opts.retprobe { "uretprobes" } else { "uprobes" }
        );
        Ok(Link::new(self, target, Group::new(links)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_of_this_test_binary() {
        let exe = std::env::current_exe().unwrap();
        let data = std::fs::read(&exe).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let by_pattern = pattern_offsets(&file, "mai?").unwrap();
        let by_name = symbol_offsets(&file, &["main".into()]).unwrap();
        assert_eq!(by_pattern, by_name);
        // The same offset the segment-based lookup of attach_uprobe finds.
        let seg = crate::attach::uprobe::symbol_file_offset(&exe, "main");
        assert_eq!(Ok(by_name[0]), seg);
        let e = symbol_offsets(&file, &["corebpf_no_such_fn_xyz".into()]).unwrap_err();
        assert!(
            e.contains("no function symbol 'corebpf_no_such_fn_xyz'"),
            "{e}"
        );
        assert!(pattern_offsets(&file, "corebpf_no_such_*").is_err());
    }

    #[test]
    fn pids() {
        assert_eq!(link_pid(None), 0);
        assert_eq!(link_pid(Some(-1)), 0);
        assert_eq!(link_pid(Some(0)), std::process::id());
        assert_eq!(link_pid(Some(42)), 42);
    }
}
