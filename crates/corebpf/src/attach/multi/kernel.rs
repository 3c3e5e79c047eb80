//! kprobe.multi, kretprobe.multi and kprobe.session: one `BPF_TRACE_KPROBE_MULTI` (or
//! `BPF_TRACE_KPROBE_SESSION`) link on many kernel functions. Glob patterns are matched as
//! libbpf does: against tracefs `available_filter_functions_addrs` (6.5+), else the names
//! of `available_filter_functions` looked up in `/proc/kallsyms` (a `.llvm.<hash>` suffix
//! that only kallsyms shows is ignored), else, without tracefs, the text symbols of
//! `/proc/kallsyms`.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::os::fd::AsFd;
use std::path::Path;

use corebpf_sys::consts::BPF_F_KPROBE_MULTI_RETURN;
use corebpf_sys::{
    link_create, probe_feature, AttachTarget, AttachType, Feature, LinkCreateAttr, LinkCreateOpts,
    ProgType, SysError,
};

use super::{expect_attach_type, glob_match, is_glob, link_err, session_unsupported, unsupported};
use crate::attach::bpf_link::BpfLink;
use crate::attach::group::Group;
use crate::attach::kprobe::{kprobe_support, KprobeOpts, KprobeSupport};
use crate::attach::tracefs::tracefs_root;
use crate::attach::{attach_err, expect_type};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

/// The kernel functions of a kprobe multi link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KprobeTargets {
    /// The functions whose names match this glob (`*`, `?`; see
    /// [`kernel_functions_matching`]). A name without glob characters is given to the
    /// kernel as is, as libbpf does.
    Pattern(String),
    /// These functions, by name.
    Symbols(Vec<String>),
    /// These functions, by address.
    Addrs(Vec<u64>),
}

impl Default for KprobeTargets {
    fn default() -> Self {
        KprobeTargets::Symbols(Vec::new())
    }
}

/// Options of [`Program::attach_kprobe_multi`] (libbpf's `bpf_kprobe_multi_opts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KprobeMultiOpts {
    /// Where to attach.
    pub targets: KprobeTargets,
    /// `bpf_get_attach_cookie()` of each target, in order (symbols or addresses only), or
    /// empty.
    pub cookies: Vec<u64>,
    /// Return probes (kretprobe.multi).
    pub retprobe: bool,
    /// A session (kprobe.session: the program runs at entry and, unless it returned 1
    /// there, at return; Linux 6.10).
    pub session: bool,
    /// A pattern must match exactly one function.
    pub unique_match: bool,
}

impl KprobeMultiOpts {
    /// The functions matching glob `pattern`.
    pub fn pattern(pattern: impl Into<String>) -> Self {
        KprobeMultiOpts {
            targets: KprobeTargets::Pattern(pattern.into()),
            ..Default::default()
        }
    }

    /// These functions, by name.
    pub fn symbols<S: Into<String>>(symbols: impl IntoIterator<Item = S>) -> Self {
        KprobeMultiOpts {
            targets: KprobeTargets::Symbols(symbols.into_iter().map(Into::into).collect()),
            ..Default::default()
        }
    }

    /// These functions, by address.
    pub fn addrs(addrs: Vec<u64>) -> Self {
        KprobeMultiOpts {
            targets: KprobeTargets::Addrs(addrs),
            ..Default::default()
        }
    }
}

/// A kernel function a pattern matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFunction {
    /// Its name.
    pub name: String,
    /// Its address.
    pub addr: u64,
}

fn read(path: &Path) -> std::result::Result<String, SysError> {
    std::fs::read_to_string(path).map_err(|source| SysError::File {
        path: path.display().to_string(),
        error: source,
    })
}

/// `/proc/kallsyms` lines as (address, type, name).
fn kallsyms_entries(text: &str) -> impl Iterator<Item = (u64, char, &str)> {
    text.lines().filter_map(|l| {
        let mut it = l.split_whitespace();
        let addr = u64::from_str_radix(it.next()?, 16).ok()?;
        let ty = it.next()?.chars().next()?;
        Some((addr, ty, it.next()?))
    })
}

/// The kernel functions (with addresses) whose names match glob `pattern`, found as
/// libbpf 1.7 finds them: tracefs `available_filter_functions_addrs` where the kernel
/// has it (6.5+), else `available_filter_functions` names looked up in `/proc/kallsyms`;
/// without tracefs (or where lockdown refuses it), the text symbols of `/proc/kallsyms`.
/// An empty match is an error naming the pattern.
pub fn kernel_functions_matching(
    pattern: &str,
) -> std::result::Result<Vec<KernelFunction>, SysError> {
    let root = tracefs_root().ok();
    let addrs_file = root
        .as_ref()
        .map(|r| r.join("available_filter_functions_addrs"));
    let names_file = root.as_ref().map(|r| r.join("available_filter_functions"));
    let found = if let Some(text) = addrs_file.and_then(|f| read(&f).ok()) {
        from_filter_addrs(&text, pattern)
    } else if let Some(text) = names_file.and_then(|f| read(&f).ok()) {
        let kallsyms = read(Path::new("/proc/kallsyms"))?;
        from_filter_names(&text, &kallsyms, pattern)
    } else {
        log::debug!(
            "no readable tracefs available_filter_functions: matching '{pattern}' against the text symbols of /proc/kallsyms"
        );
        let kallsyms = read(Path::new("/proc/kallsyms"))?;
        kallsyms_entries(&kallsyms)
            .filter(|&(_, ty, name)| matches!(ty, 't' | 'T') && glob_match(name, pattern))
            .map(|(addr, _, name)| KernelFunction {
                name: name.to_string(),
                addr,
            })
            .collect()
    };
    check_found(found, pattern)
}

/// The matches, or why there are none to use.
fn check_found(
    found: Vec<KernelFunction>,
    pattern: &str,
) -> std::result::Result<Vec<KernelFunction>, SysError> {
    if found.is_empty() {
        return Err(SysError::InvalidInput {
            cmd: "kprobe.multi",
            reason: format!("no traceable kernel function matches '{pattern}'"),
        });
    }
    if found.iter().all(|f| f.addr == 0) {
        return Err(SysError::InvalidInput {
            cmd: "kprobe.multi",
            reason: format!(
                "/proc/kallsyms shows no addresses for the functions matching '{pattern}' (kernel.kptr_restrict, or not root)"
            ),
        });
    }
    Ok(found)
}

/// `available_filter_functions_addrs` lines (`addr name [module]`) whose name matches.
fn from_filter_addrs(text: &str, pattern: &str) -> Vec<KernelFunction> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let addr = u64::from_str_radix(it.next()?, 16).ok()?;
            let name = it.next()?;
            glob_match(name, pattern).then(|| KernelFunction {
                name: name.to_string(),
                addr,
            })
        })
        .collect()
}

/// kallsyms entries matching `pattern` whose name (or the name without a `.llvm.` suffix,
/// which some kernels strip only in tracefs) `available_filter_functions` lists.
fn from_filter_names(filter: &str, kallsyms: &str, pattern: &str) -> Vec<KernelFunction> {
    let traceable: HashSet<&str> = filter
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| glob_match(n, pattern))
        .collect();
    if traceable.is_empty() {
        return Vec::new();
    }
    kallsyms_entries(kallsyms)
        .filter(|&(_, _, name)| glob_match(name, pattern))
        .filter(|&(_, _, name)| {
            traceable.contains(name)
                || name
                    .find(".llvm.")
                    .is_some_and(|i| traceable.contains(&name[..i]))
        })
        .map(|(addr, _, name)| KernelFunction {
            name: name.to_string(),
            addr,
        })
        .collect()
}

/// What a multi link is given: names or addresses.
enum Resolved {
    Syms(Vec<CString>),
    Addrs(Vec<u64>),
}

/// A short description of the targets, for errors and [`Link::target`].
fn describe(opts: &KprobeMultiOpts) -> String {
    let kind = match (opts.session, opts.retprobe) {
        (true, _) => "kprobe.session",
        (false, true) => "kretprobe.multi",
        (false, false) => "kprobe.multi",
    };
    let list = |n: usize, first: String| {
        if n == 1 {
            first
        } else {
            format!("{n} functions ({first}, ...)")
        }
    };
    match &opts.targets {
        KprobeTargets::Pattern(p) => format!("{kind} {p}"),
        KprobeTargets::Symbols(s) => format!(
            "{kind} {}",
            list(s.len(), s.first().cloned().unwrap_or_default())
        ),
        KprobeTargets::Addrs(a) => format!(
            "{kind} {}",
            list(a.len(), format!("{:#x}", a.first().copied().unwrap_or(0)))
        ),
    }
}

impl Program {
    /// Attaches a kprobe.multi, kretprobe.multi (`retprobe`) or kprobe.session (`session`)
    /// program to many kernel functions at once: a glob pattern, names or addresses
    /// (libbpf's `bpf_program__attach_kprobe_multi_opts`). The program must have been
    /// loaded for the matching attach type (its SEC form). Without the kprobe_multi link
    /// (Linux 5.18 with `CONFIG_FPROBE`), each function gets its own kprobe (see
    /// [`Program::attach_kprobes`]) and a debug line says so; a session has no such
    /// fallback.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// use corebpf::attach::multi::KprobeMultiOpts;
    /// // SEC("kprobe.multi")
    /// let link = obj.program("on_sys_get").unwrap()
    ///     .attach_kprobe_multi(&KprobeMultiOpts::pattern("__x64_sys_get*"))?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_kprobe_multi(&self, opts: &KprobeMultiOpts) -> Result<Link> {
        let target = describe(opts);
        let at = if opts.session {
            AttachType::TraceKprobeSession
        } else {
            AttachType::TraceKprobeMulti
        };
        expect_attach_type(self, &target, at, "attach_kprobe_multi")?;
        self.check_kprobe_multi_opts(&target, opts)?;
        if !probe_feature(Feature::KprobeMultiLink) {
            if opts.session {
                return Err(session_unsupported(
                    self,
                    &target,
                    at,
                    Feature::KprobeMultiLink,
                ));
            }
            return self.kprobe_multi_fallback(opts, target);
        }
        let resolved = self.resolve_kprobe_targets(&target, opts)?;
        let syms: Vec<&std::ffi::CStr> = match &resolved {
            Resolved::Syms(s) => s.iter().map(|s| s.as_c_str()).collect(),
            Resolved::Addrs(_) => Vec::new(),
        };
        let mut attr = LinkCreateAttr::new(self.as_fd(), AttachTarget::None, at);
        attr.opts = LinkCreateOpts::KprobeMulti {
            flags: if opts.retprobe {
                BPF_F_KPROBE_MULTI_RETURN
            } else {
                0
            },
            syms: &syms,
            addrs: match &resolved {
                Resolved::Addrs(a) => a,
                Resolved::Syms(_) => &[],
            },
            cookies: &opts.cookies,
        };
        match link_create(&attr) {
            Ok(fd) => Ok(Link::new(self, target, BpfLink(fd))),
            Err(e) if e.raw_errno() == Some(libc::ESRCH) => Err(attach_err(
                self,
                &target,
                format!("a function is not in the kernel's traceable functions (available_filter_functions): {e}"),
                Some(e),
            )),
            Err(e) => Err(link_err(self, &target, at, e)),
        }
    }

    /// libbpf's checks of the options: one kind of target, cookies only with a list of
    /// the same length, `unique_match` only with a pattern, no return probe in a session.
    fn check_kprobe_multi_opts(&self, target: &str, opts: &KprobeMultiOpts) -> Result<()> {
        let bad = |why: &str| Err(attach_err(self, target, why.to_string(), None));
        let n = match &opts.targets {
            KprobeTargets::Pattern(p) if p.is_empty() => return bad("empty pattern"),
            KprobeTargets::Pattern(_) if !opts.cookies.is_empty() => {
                return bad("cookies need a list of symbols or addresses, not a pattern")
            }
            KprobeTargets::Pattern(_) => 1,
            _ if opts.unique_match => return bad("unique_match needs a pattern"),
            KprobeTargets::Symbols(s) => s.len(),
            KprobeTargets::Addrs(a) => a.len(),
        };
        if n == 0 {
            return bad("no functions to attach to");
        }
        if !opts.cookies.is_empty() && opts.cookies.len() != n {
            return bad(&format!("{} cookies for {n} functions", opts.cookies.len()));
        }
        if opts.retprobe && opts.session {
            return bad("a session is not a return probe (retprobe and session both set)");
        }
        Ok(())
    }

    /// The names or addresses for the multi link (a glob resolved to addresses).
    fn resolve_kprobe_targets(&self, target: &str, opts: &KprobeMultiOpts) -> Result<Resolved> {
        let cstr = |s: &str| {
            CString::new(s).map_err(|_| attach_err(self, target, "NUL byte in a name", None))
        };
        Ok(match &opts.targets {
            KprobeTargets::Pattern(p) if !is_glob(p) && !opts.unique_match => {
                Resolved::Syms(vec![cstr(p)?])
            }
            KprobeTargets::Pattern(p) => Resolved::Addrs(
                self.matching_functions(target, p, opts.unique_match)?
                    .into_iter()
                    .map(|f| f.addr)
                    .collect(),
            ),
            KprobeTargets::Symbols(s) => {
                Resolved::Syms(s.iter().map(|s| cstr(s)).collect::<Result<_>>()?)
            }
            KprobeTargets::Addrs(a) => Resolved::Addrs(a.clone()),
        })
    }

    /// [`kernel_functions_matching`] as an attach error, with libbpf's `unique_match`.
    fn matching_functions(
        &self,
        target: &str,
        pattern: &str,
        unique: bool,
    ) -> Result<Vec<KernelFunction>> {
        let found = kernel_functions_matching(pattern)
            .map_err(|e| attach_err(self, target, e.to_string(), Some(e)))?;
        if unique && found.len() != 1 {
            return Err(attach_err(
                self,
                target,
                format!("no unique match for '{pattern}' ({} matches)", found.len()),
                None,
            ));
        }
        Ok(found)
    }

    /// Without the kprobe_multi link: one kprobe per function, as one link.
    fn kprobe_multi_fallback(&self, opts: &KprobeMultiOpts, target: String) -> Result<Link> {
        if kprobe_support() == KprobeSupport::None {
            return Err(unsupported(
                self,
                &target,
                "kprobe_multi link",
                format!(
                    "this kernel ({}) has no {} (Linux 5.18 with CONFIG_FPROBE) and no kprobes to attach one per function instead (no kprobe PMU and no tracefs kprobe_events: built without CONFIG_KPROBES?)",
                    crate::kernel::release(),
                    Feature::KprobeMultiLink.description()
                ),
            ));
        }
        let names: Vec<String> = match &opts.targets {
            KprobeTargets::Pattern(p) if !is_glob(p) => vec![p.clone()],
            KprobeTargets::Pattern(p) => {
                let mut seen = HashSet::new();
                self.matching_functions(&target, p, opts.unique_match)?
                    .into_iter()
                    .map(|f| f.name)
                    .filter(|n| seen.insert(n.clone()))
                    .collect()
            }
            KprobeTargets::Symbols(s) => s.clone(),
            KprobeTargets::Addrs(a) => self.names_at(&target, a)?,
        };
        self.check_single_kprobes(&target, &names, &opts.cookies)?;
        let link = self.kprobe_group(&names, opts.retprobe, &opts.cookies, target)?;
        log::debug!(
            "prog '{}': this kernel has no kprobe_multi link ({}: Linux 5.18 with CONFIG_FPROBE): attached {} single {} instead",
            self.name(),
            Feature::KprobeMultiLink.description(),
            names.len(),
            if opts.retprobe { "kretprobes" } else { "kprobes" }
        );
        Ok(link)
    }

    /// The kallsyms names of kernel function addresses `addrs`.
    fn names_at(&self, target: &str, addrs: &[u64]) -> Result<Vec<String>> {
        let text = read(Path::new("/proc/kallsyms"))
            .map_err(|e| attach_err(self, target, e.to_string(), Some(e)))?;
        let by_addr: HashMap<u64, &str> = kallsyms_entries(&text)
            .filter(|&(_, ty, _)| matches!(ty, 't' | 'T'))
            .map(|(a, _, n)| (a, n))
            .collect();
        addrs
            .iter()
            .map(|a| {
                by_addr.get(a).map(|n| n.to_string()).ok_or_else(|| {
                    attach_err(
                        self,
                        target,
                        format!("no kernel function at {a:#x} in /proc/kallsyms"),
                        None,
                    )
                })
            })
            .collect()
    }

    /// Attaches a kprobe program to each of `funcs` with its own kprobe (kretprobe with
    /// `retprobe`), cookie `cookies[i]` if given (needs perf links, Linux 5.15), and
    /// returns them as one link: what [`Program::attach_kprobe_multi`] falls back to.
    /// The names are checked against `/proc/kallsyms` once. A program loaded for a
    /// kprobe_multi link cannot be attached this way on a kernel that has that link.
    pub fn attach_kprobes<S: AsRef<str>>(
        &self,
        funcs: &[S],
        retprobe: bool,
        cookies: &[u64],
    ) -> Result<Link> {
        let kind = if retprobe { "kretprobes" } else { "kprobes" };
        let first = funcs.first().map_or("", |f| f.as_ref());
        let target = format!("{kind} on {} functions ({first}, ...)", funcs.len());
        expect_type(self, &target, &[ProgType::Kprobe], "attach_kprobes")?;
        self.check_single_kprobes(&target, funcs, cookies)?;
        self.kprobe_group(funcs, retprobe, cookies, target)
    }

    /// One kprobe per function (checked), held as one link to `target`.
    fn kprobe_group<S: AsRef<str>>(
        &self,
        funcs: &[S],
        retprobe: bool,
        cookies: &[u64],
        target: String,
    ) -> Result<Link> {
        let support = kprobe_support();
        let mut links = Vec::with_capacity(funcs.len());
        for (i, f) in funcs.iter().enumerate() {
            let f = f.as_ref();
            let one = KprobeOpts {
                retprobe,
                cookie: cookies.get(i).copied().unwrap_or(0),
                ..Default::default()
            };
            let what = format!("{} {f}", if retprobe { "kretprobe" } else { "kprobe" });
            links.push(self.kprobe_event(f, &one, support, what)?);
        }
        Ok(Link::new(self, target, Group::new(links)))
    }

    /// What [`Program::attach_kprobes`] checks before making any probe: the program's
    /// attach type, kprobe support, the cookie count, the names (one kallsyms read).
    fn check_single_kprobes<S: AsRef<str>>(
        &self,
        target: &str,
        funcs: &[S],
        cookies: &[u64],
    ) -> Result<()> {
        let multi = self.expected_attach_type() == Some(AttachType::TraceKprobeMulti);
        if multi && probe_feature(Feature::KprobeMultiLink) {
            return Err(attach_err(
                self,
                target,
                "a program loaded for a kprobe_multi link runs only on one: use attach_kprobe_multi",
                None,
            ));
        }
        if kprobe_support() == KprobeSupport::None {
            return Err(unsupported(
                self,
                target,
                "kprobe PMU",
                "this kernel has no kprobe support (no kprobe PMU and no tracefs kprobe_events: built without CONFIG_KPROBES?)".into(),
            ));
        }
        if !cookies.is_empty() && cookies.len() != funcs.len() {
            return Err(attach_err(
                self,
                target,
                format!("{} cookies for {} functions", cookies.len(), funcs.len()),
                None,
            ));
        }
        let Ok(text) = read(Path::new("/proc/kallsyms")) else {
            return Ok(());
        };
        let known: HashSet<&str> = kallsyms_entries(&text).map(|(_, _, n)| n).collect();
        match funcs.iter().map(AsRef::as_ref).find(|f| {
            let name = f.split_once(':').map_or(*f, |(_, n)| n);
            !known.contains(name)
        }) {
            Some(f) => Err(attach_err(
                self,
                target,
                format!("no such function in kallsyms: {f}"),
                None,
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_names_meet_kallsyms_with_llvm_suffixes() {
        let filter = "vfs_read\nvfs_write\nfoo_bar [mod]\nbaz\n";
        let kallsyms = "ffffffff81000010 T vfs_read\n\
                        ffffffff81000020 T vfs_write\n\
                        ffffffff81000030 t foo_bar.llvm.123\t[mod]\n\
                        ffffffff81000040 t vfs_other\n";
        let got = from_filter_names(filter, kallsyms, "vfs_*");
        let names: Vec<_> = got.iter().map(|f| (f.name.as_str(), f.addr)).collect();
        assert_eq!(
            names,
            [
                ("vfs_read", 0xffffffff81000010),
                ("vfs_write", 0xffffffff81000020)
            ]
        );
        let got = from_filter_names(filter, kallsyms, "foo_*");
        assert_eq!(got[0].name, "foo_bar.llvm.123");
        assert!(from_filter_names(filter, kallsyms, "nothing*").is_empty());
    }

    #[test]
    fn filter_addrs_lines() {
        let text = "ffffffff81000010 vfs_read\nffffffff81000020 vfs_write [mod]\n";
        let got = from_filter_addrs(text, "vfs_w*");
        assert_eq!(
            got,
            [KernelFunction {
                name: "vfs_write".into(),
                addr: 0xffffffff81000020
            }]
        );
    }

    #[test]
    fn empty_and_addressless_matches_are_errors() {
        let e = check_found(Vec::new(), "x*").unwrap_err().to_string();
        assert!(
            e.contains("no traceable kernel function matches 'x*'"),
            "{e}"
        );
        let zero = vec![KernelFunction {
            name: "a".into(),
            addr: 0,
        }];
        let e = check_found(zero, "a*").unwrap_err().to_string();
        assert!(e.contains("kptr_restrict"), "{e}");
    }
}
