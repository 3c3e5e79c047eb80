//! Multi-probe links: one `BPF_LINK_CREATE` attaching a program to many kernel functions
//! (`kprobe.multi`, `kretprobe.multi`, `kprobe.session`: [`kernel`]) or many offsets of one
//! binary (`uprobe.multi`, `uretprobe.multi`, `uprobe.session` and their sleepable `.s`
//! forms: [`user`]), as libbpf 1.7's `bpf_program__attach_kprobe_multi_opts` and
//! `bpf_program__attach_uprobe_multi`.
//!
//! Targets are a glob pattern (libbpf's [`glob_match`]: `*` and `?`), explicit symbols, or
//! addresses (file offsets for uprobes), with optional per-target cookies. Where the kernel
//! has no multi link ([`Feature::KprobeMultiLink`]: 5.18 with `CONFIG_FPROBE`;
//! [`Feature::UprobeMultiLink`]: 6.6), the same targets get one kprobe/uprobe perf event
//! each, held as one [`Link`](crate::Link), and a debug line says so. The program is then
//! loaded as a plain kprobe (`load_attach_type`), since the kernel runs a program loaded
//! for a multi link only on one (its helpers read the multi link's context). Session
//! programs have no such fallback: they need the session link (kprobe.session: Linux 6.10,
//! uprobe.session: 6.13).

pub mod kernel;
pub mod user;

use corebpf_obj::ProgramSpec;
use corebpf_sys::{probe_feature, AttachType, Feature, ProgType, SysError};

pub use kernel::{kernel_functions_matching, KernelFunction, KprobeMultiOpts, KprobeTargets};
pub use user::{UprobeMultiOpts, UprobeTargets};

use super::{attach_err, expect_type, sys_err};
use crate::error::Error;
use crate::program::Program;

/// libbpf's `glob_match` (from perf): `*` matches any run of characters (none included),
/// `?` any one character, everything else itself.
///
/// ```
/// use corebpf::attach::multi::glob_match;
/// assert!(glob_match("__x64_sys_getpid", "__x64_sys_get*"));
/// assert!(glob_match("vfs_read", "vfs_?ead"));
/// assert!(!glob_match("vfs_read", "vfs_write*"));
/// ```
pub fn glob_match(s: &str, pat: &str) -> bool {
    let (s, p) = (s.as_bytes(), pat.as_bytes());
    let (mut i, mut j) = (0, 0);
    // Where the last `*` was, and where in `s` its match currently ends.
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match p.get(j) {
            Some(b'*') => {
                star = Some((j, i));
                j += 1;
            }
            Some(&c) if c == b'?' || c == s[i] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                // Let the last `*` take one more character and retry from there.
                Some((sj, si)) => {
                    star = Some((sj, si + 1));
                    i = si + 1;
                    j = sj + 1;
                }
                None => return false,
            },
        }
    }
    p[j..].iter().all(|&c| c == b'*')
}

/// Whether `pat` has glob characters (else it names one function, as libbpf takes it).
pub(crate) fn is_glob(pat: &str) -> bool {
    pat.contains(['*', '?'])
}

/// The expected attach type program `p` is loaded with: its SEC form's, except for the
/// (non-sleepable) multi-probe forms on a kernel without the multi link, which load as
/// plain kprobes so that the one-probe-per-target fallback can run them (the kernel
/// refuses, or before 6.5 misruns, a multi program on a single probe).
pub(crate) fn load_attach_type(p: &ProgramSpec) -> Option<AttachType> {
    let feature = match p.expected_attach_type? {
        AttachType::TraceKprobeMulti => Feature::KprobeMultiLink,
        // Sleepable uprobes came with the multi link (6.6): nothing to fall back to.
        AttachType::TraceUprobeMulti if !p.sleepable => Feature::UprobeMultiLink,
        other => return Some(other),
    };
    if probe_feature(feature) {
        return p.expected_attach_type;
    }
    log::debug!(
        "prog '{}': this kernel has no {}: loading it as a plain kprobe, to attach one probe per target",
        p.name,
        feature.description()
    );
    None
}

/// Checks that `prog` is a kprobe-type program loaded for attach type `want` (its SEC
/// form's), naming the form it needs otherwise.
pub(crate) fn expect_attach_type(
    prog: &Program,
    target: &str,
    want: AttachType,
    method: &str,
) -> crate::Result<()> {
    expect_type(prog, target, &[ProgType::Kprobe], method)?;
    if prog.expected_attach_type() == Some(want) {
        return Ok(());
    }
    let form = match want {
        AttachType::TraceKprobeMulti => "kprobe.multi/kretprobe.multi",
        AttachType::TraceKprobeSession => "kprobe.session",
        AttachType::TraceUprobeMulti => "uprobe.multi/uretprobe.multi (or .s)",
        _ => "uprobe.session (or .s)",
    };
    let had = prog
        .expected_attach_type()
        .map_or("none".to_string(), |t| t.name().to_string());
    Err(attach_err(
        prog,
        target,
        format!(
            "{method} needs a program loaded for attach type {} (SEC(\"{form}...\")), and SEC(\"{}\") loaded it with {had}",
            want.name(),
            prog.section(),
        ),
        None,
    ))
}

/// An attach error whose source is [`SysError::Unsupported`] (so `is_unsupported()`).
pub(crate) fn unsupported(
    prog: &Program,
    target: &str,
    what: &'static str,
    reason: String,
) -> Error {
    let e = SysError::Unsupported { what, reason };
    attach_err(prog, target, e.to_string(), Some(e))
}

/// A session link that needs the multi link `feature` the kernel lacks: no fallback.
pub(crate) fn session_unsupported(
    prog: &Program,
    target: &str,
    at: AttachType,
    feature: Feature,
) -> Error {
    let since = crate::verifier::attach_type_since(at).unwrap_or("?");
    let needs = match feature {
        Feature::KprobeMultiLink => "Linux 5.18 with CONFIG_FPROBE",
        _ => "Linux 6.6",
    };
    unsupported(
        prog,
        target,
        at.kernel_name(),
        format!(
            "this kernel ({}) has no {} ({needs}) and so no {} (Linux {since}); a session program needs the session link: it has no single-probe fallback",
            crate::kernel::release(),
            feature.description(),
            at.kernel_name()
        ),
    )
}

/// A failed `BPF_LINK_CREATE` of attach type `at`: on a kernel older than the release
/// that added `at` (the session types on a kernel with the multi links), an error naming
/// it; else the kernel's error.
pub(crate) fn link_err(prog: &Program, target: &str, at: AttachType, e: SysError) -> Error {
    let old = crate::verifier::attach_type_since(at)
        .filter(|v| crate::verifier::kernel_older_than(v))
        .filter(|_| matches!(e.raw_errno(), Some(libc::EINVAL | libc::EOPNOTSUPP)));
    match old {
        Some(since) => unsupported(
            prog,
            target,
            at.kernel_name(),
            format!(
                "this kernel ({}) does not support attach type {} (Linux {since}): {e}",
                crate::kernel::release(),
                at.name()
            ),
        ),
        None => sys_err(prog, target, &format!("BPF_LINK_CREATE ({})", at.name()), e),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob_match_is_libbpfs() {
        for (s, p, want) in [
            ("abc", "abc", true),
            ("abc", "ab", false),
            ("ab", "abc", false),
            ("abc", "*", true),
            ("", "*", true),
            ("", "?", false),
            ("abc", "a*", true),
            ("abc", "*c", true),
            ("abc", "*b*", true),
            ("abc", "a?c", true),
            ("abc", "?", false),
            ("abcbc", "a*bc", true),
            ("__x64_sys_getpid", "__x64_sys_*et*", true),
            ("__x64_sys_rt_sigreturn", "__x64_sys_*et*", true),
            ("__x64_sys_read", "__x64_sys_*et*", false),
            ("aaa", "a**a", true),
            ("ab", "a**?*", true),
            ("a", "a**?*", false),
        ] {
            assert_eq!(glob_match(s, p), want, "{s} ~ {p}");
        }
    }
}
