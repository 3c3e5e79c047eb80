//! BPF tokens (`BPF_TOKEN_CREATE`, Linux 6.9): a file descriptor created from a bpffs
//! mounted with `delegate_cmds`/`delegate_maps`/`delegate_progs`/`delegate_attachs` that
//! lets a process in that bpffs's user namespace run exactly the delegated commands with
//! the program and map types delegated, without CAP_BPF in the initial namespace.
//!
//! The commands that take a token (`BPF_MAP_CREATE`, `BPF_PROG_LOAD`, `BPF_BTF_LOAD`) get
//! it through their attrs' `token` field ([`crate::MapCreateAttr::token`],
//! [`crate::ProgLoadAttr::token`], [`crate::btf::btf_load_token`]), which sets
//! `BPF_F_TOKEN_FD`; when the kernel still says `EPERM`, the error says which delegation
//! the token lacks ([`SysError::TokenRefused`]).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::attr::TwoU32Attr;
use crate::consts::{AttachType, Cmd, MapType, ProgType};
use crate::error::SysError;
use crate::probe::ProbeCache;
use crate::sys::sys_bpf_fd;

/// The release that added `BPF_TOKEN_CREATE`.
pub const TOKEN_SINCE: (u32, u32) = (6, 9);

/// A BPF token: an owned token fd, and the feature probe results made with it (probes
/// under a token can answer differently from probes without, so they are cached per
/// token, as libbpf caches them per object with a token).
#[derive(Debug)]
pub struct Token {
    fd: OwnedFd,
    pub(crate) probes: ProbeCache,
}

impl Token {
    /// `BPF_TOKEN_CREATE` from the bpffs mounted at `path` (the mount's root).
    ///
    /// The error says what is wrong in the terms of the setup: a kernel before 6.9, a path
    /// that is not a bpffs root, a bpffs without delegation, a bpffs of another user
    /// namespace, or the initial user namespace (where the kernel refuses tokens).
    pub fn open(path: &Path) -> Result<Token, SysError> {
        let dir = std::fs::File::open(path).map_err(|error| SysError::File {
            path: path.display().to_string(),
            error,
        })?;
        Token::create(dir.as_fd()).map_err(|e| explain_create_error(e, path))
    }

    /// `BPF_TOKEN_CREATE` from an open bpffs root directory or mount fd (`fsmount`).
    pub fn create(bpffs: BorrowedFd<'_>) -> Result<Token, SysError> {
        Ok(Token::from_fd(token_create(bpffs, 0)?))
    }

    /// Wraps a token fd created elsewhere (e.g. received from another process).
    pub fn from_fd(fd: OwnedFd) -> Token {
        Token {
            fd,
            probes: ProbeCache::new(),
        }
    }

    /// What this token delegates, read from its fdinfo.
    pub fn delegation(&self) -> Result<Delegation, SysError> {
        Delegation::of(self.fd.as_fd())
    }
}

impl AsFd for Token {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `BPF_TOKEN_CREATE` with `bpffs_fd` and `flags` (0 today).
pub fn token_create(bpffs: BorrowedFd<'_>, flags: u32) -> Result<OwnedFd, SysError> {
    let mut a = TwoU32Attr {
        a: flags,
        b: bpffs.as_raw_fd() as u32,
    };
    // SAFETY: the attr holds no pointers; the command returns a new fd.
    unsafe { sys_bpf_fd(Cmd::TokenCreate, &mut a) }
}

/// `BPF_TOKEN_CREATE`'s errno explained for the bpffs at `path`.
fn explain_create_error(e: SysError, path: &Path) -> SysError {
    let path = path.display();
    let reason = match e.raw_errno() {
        Some(libc::EINVAL) if kernel_older_than(TOKEN_SINCE) => format!(
            "BPF tokens need Linux {}.{} (BPF_TOKEN_CREATE); this kernel is {}",
            TOKEN_SINCE.0,
            TOKEN_SINCE.1,
            release()
        ),
        Some(libc::EINVAL) => {
            format!("{path} is not the root of a BPF file system (bpffs) mount")
        }
        Some(libc::ENOENT) => format!(
            "the bpffs at {path} delegates nothing: it must be mounted with \
             delegate_cmds/delegate_maps/delegate_progs/delegate_attachs (by a privileged \
             process, for this user namespace)"
        ),
        Some(libc::EPERM) => format!(
            "the bpffs at {path} belongs to another user namespace than this process's, or \
             this process lacks CAP_BPF in it"
        ),
        Some(libc::EOPNOTSUPP) => format!(
            "this process is in the initial user namespace, where the kernel creates no BPF \
             tokens (the bpffs at {path} is for a process in a user namespace)"
        ),
        _ => return e,
    };
    SysError::Unsupported {
        what: "BPF token",
        reason: format!("{reason} ({e})"),
    }
}

/// The running kernel's release string.
fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Whether the running kernel is older than `(major, minor)`; false if unknown.
fn kernel_older_than(since: (u32, u32)) -> bool {
    let release = release();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) < since,
        _ => false,
    }
}

/// What a token (its bpffs's mount options) delegates: bit `n` of each mask allows the
/// command, map type, program type or attach type with value `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delegation {
    /// `delegate_cmds`: `enum bpf_cmd` bits.
    pub cmds: u64,
    /// `delegate_maps`: `enum bpf_map_type` bits.
    pub maps: u64,
    /// `delegate_progs`: `enum bpf_prog_type` bits.
    pub progs: u64,
    /// `delegate_attachs`: `enum bpf_attach_type` bits.
    pub attachs: u64,
}

impl Delegation {
    /// A token fd's delegation, from `/proc/self/fdinfo/FD` (`allowed_cmds:` ... lines,
    /// each `any` or a hex mask).
    pub fn of(token: BorrowedFd<'_>) -> Result<Delegation, SysError> {
        let path = format!("/proc/self/fdinfo/{}", token.as_raw_fd());
        let text = std::fs::read_to_string(&path).map_err(|error| SysError::File {
            path: path.clone(),
            error,
        })?;
        Delegation::parse(&text).ok_or_else(|| SysError::File {
            path,
            error: std::io::Error::other("no allowed_cmds/maps/progs/attachs: not a BPF token"),
        })
    }

    /// Parses a token's fdinfo text.
    pub fn parse(fdinfo: &str) -> Option<Delegation> {
        let field = |key: &str| -> Option<u64> {
            let line = fdinfo.lines().find_map(|l| l.strip_prefix(key))?;
            let v = line.trim_start_matches(':').trim();
            if v == "any" {
                Some(u64::MAX)
            } else {
                u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()
            }
        };
        Some(Delegation {
            cmds: field("allowed_cmds")?,
            maps: field("allowed_maps")?,
            progs: field("allowed_progs")?,
            attachs: field("allowed_attachs")?,
        })
    }

    /// Whether `cmd` is delegated.
    pub fn allows_cmd(&self, cmd: Cmd) -> bool {
        bit(self.cmds, cmd.as_u32())
    }

    /// Whether map type `t` is delegated.
    pub fn allows_map(&self, t: MapType) -> bool {
        bit(self.maps, t.as_u32())
    }

    /// Whether program type `t` is delegated.
    pub fn allows_prog(&self, t: ProgType) -> bool {
        bit(self.progs, t.as_u32())
    }

    /// Whether the raw attach type `t` is delegated.
    pub fn allows_attach(&self, t: u32) -> bool {
        bit(self.attachs, t)
    }

    /// What this delegation lacks for `cmd` (the kernel then ignores the token and checks
    /// the caller's own capabilities): the command, or, for `BPF_MAP_CREATE` the map type,
    /// for `BPF_PROG_LOAD` the program type and the expected attach type (the kernel checks
    /// attach type 0, `cgroup_inet_ingress`, for a program without one). `None` when
    /// everything needed is delegated.
    pub fn missing(
        &self,
        cmd: Cmd,
        map: Option<MapType>,
        prog: Option<(ProgType, u32)>,
    ) -> Option<String> {
        if !self.allows_cmd(cmd) {
            return Some(format!(
                "command {} (delegate_cmds={}; the token delegates {})",
                cmd.kernel_name(),
                option_name(cmd.kernel_name(), "BPF_"),
                self.list(
                    self.cmds,
                    |v| Cmd::try_from(v).ok().map(|c| c.kernel_name()),
                    "BPF_"
                )
            ));
        }
        if let Some(t) = map.filter(|t| !self.allows_map(*t)) {
            return Some(format!(
                "map type {} (delegate_maps={}; the token delegates {})",
                t.name(),
                option_name(t.kernel_name(), "BPF_MAP_TYPE_"),
                self.list(
                    self.maps,
                    |v| MapType::try_from(v).ok().map(|t| t.kernel_name()),
                    "BPF_MAP_TYPE_"
                )
            ));
        }
        if let Some((t, attach)) = prog {
            if !self.allows_prog(t) {
                return Some(format!(
                    "program type {} (delegate_progs={}; the token delegates {})",
                    t.name(),
                    option_name(t.kernel_name(), "BPF_PROG_TYPE_"),
                    self.list(
                        self.progs,
                        |v| ProgType::try_from(v).ok().map(|t| t.kernel_name()),
                        "BPF_PROG_TYPE_"
                    )
                ));
            }
            if !self.allows_attach(attach) {
                let name = AttachType::try_from(attach)
                    .map(|a| a.kernel_name())
                    .unwrap_or("BPF_?");
                return Some(format!(
                    "attach type {} (delegate_attachs={}{}; the token delegates {})",
                    option_name(name, "BPF_"),
                    option_name(name, "BPF_"),
                    if attach == 0 {
                        ", which the kernel checks for programs without an expected attach type"
                    } else {
                        ""
                    },
                    self.list(
                        self.attachs,
                        |v| AttachType::try_from(v).ok().map(|a| a.kernel_name()),
                        "BPF_"
                    )
                ));
            }
        }
        None
    }

    /// The names of the set bits of `mask`, as mount options spell them.
    fn list(&self, mask: u64, name: impl Fn(u32) -> Option<&'static str>, prefix: &str) -> String {
        if mask == u64::MAX {
            return "any".into();
        }
        let names: Vec<String> = (0..64)
            .filter(|b| bit(mask, *b))
            .map(|b| name(b).map_or_else(|| format!("#{b}"), |n| option_name(n, prefix)))
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(":")
        }
    }
}

fn bit(mask: u64, n: u32) -> bool {
    n < 64 && mask & (1u64 << n) != 0
}

/// A kernel enum constant as the bpffs `delegate_*` options spell it: prefix removed,
/// lowercase (`BPF_PROG_TYPE_XDP` → `xdp`).
fn option_name(kernel_name: &str, prefix: &str) -> String {
    kernel_name
        .strip_prefix(prefix)
        .unwrap_or(kernel_name)
        .to_ascii_lowercase()
}

/// The error for a command made with a token that the kernel refused with `EPERM`: what
/// the token's delegation lacks, or that it lacks nothing (then the process lacks the
/// capability in the token's user namespace).
pub(crate) fn refused(
    e: SysError,
    token: Option<BorrowedFd<'_>>,
    cmd: Cmd,
    map: Option<MapType>,
    prog: Option<(ProgType, u32)>,
) -> SysError {
    let Some(token) = token.filter(|_| e.raw_errno() == Some(libc::EPERM)) else {
        return e;
    };
    let reason = match Delegation::of(token) {
        Ok(d) => match d.missing(cmd, map, prog) {
            Some(missing) => format!("the BPF token does not delegate {missing}"),
            None => "the BPF token delegates this, so the process lacks the capability \
                     (CAP_BPF, and CAP_NET_ADMIN or CAP_PERFMON for some types) in the \
                     token's user namespace, or an LSM refused"
                .to_string(),
        },
        Err(read) => format!("the BPF token's delegation could not be read: {read}"),
    };
    SysError::TokenRefused {
        cmd: cmd.kernel_name(),
        errno: libc::EPERM,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_is_parsed() {
        let d = Delegation::parse(
            "pos:\t0\nflags:\t02000002\nallowed_cmds:\t0x21\nallowed_maps:\tany\n\
             allowed_progs:\t0x40\nallowed_attachs:\tany\n",
        )
        .unwrap();
        assert!(d.allows_cmd(Cmd::MapCreate) && d.allows_cmd(Cmd::ProgLoad));
        assert!(!d.allows_cmd(Cmd::BtfLoad));
        assert!(d.allows_map(MapType::Arena));
        assert!(d.allows_prog(ProgType::Xdp) && !d.allows_prog(ProgType::SchedCls));
        assert_eq!(Delegation::parse("pos:\t0\n"), None);
    }

    #[test]
    fn missing_names_the_delegation() {
        let d = Delegation {
            cmds: 1 << Cmd::ProgLoad.as_u32(),
            maps: 0,
            progs: 1 << ProgType::Xdp.as_u32(),
            attachs: 1 << AttachType::Xdp.as_u32(),
        };
        assert_eq!(
            d.missing(Cmd::ProgLoad, None, Some((ProgType::SchedCls, 0)))
                .unwrap(),
            "program type sched_cls (delegate_progs=sched_cls; the token delegates xdp)"
        );
        let m = d
            .missing(Cmd::ProgLoad, None, Some((ProgType::Xdp, 0)))
            .unwrap();
        assert!(m.starts_with("attach type cgroup_inet_ingress"), "{m}");
        assert_eq!(
            d.missing(
                Cmd::ProgLoad,
                None,
                Some((ProgType::Xdp, AttachType::Xdp.as_u32()))
            ),
            None
        );
        assert_eq!(
            d.missing(Cmd::MapCreate, Some(MapType::Array), None)
                .unwrap(),
            "command BPF_MAP_CREATE (delegate_cmds=map_create; the token delegates prog_load)"
        );
    }
}
