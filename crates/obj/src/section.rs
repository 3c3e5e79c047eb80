//! The SEC-name table (libbpf's `section_defs`): which program type, expected attach type
//! and attach target a `SEC("...")` name means.
//!
//! The table is libbpf 1.7's, in its order. Matching follows libbpf's `sec_def_matches`: a
//! definition ending in `+` (`kprobe+`) matches the bare prefix or the prefix followed by
//! `/target`, one ending in `/` matches any name that starts with it, and every other
//! definition matches exactly; the first match in table order wins.
//!
//! Where no definition matches, corebpf is deliberately more permissive than libbpf and
//! accepts the names aya and cilium/ebpf accept: cilium/ebpf matches every exact definition
//! as a plain prefix (`socket/NAME`, `xdp/NAME`, `classifier/NAME`, `cgroup_skb/ingress/NAME`,
//! aya's `<kind>/<name>` forms among them), so such a name gets the first exact definition,
//! in table order, that it starts with (see [`find_sec_def`]).

use corebpf_abi::{AttachType, ProgType};

/// How a program of this convention is attached (what a later `attach()` dispatches on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttachKind {
    /// No attach by SEC name (socket filters, tc, cgroup programs need a target at runtime).
    None,
    /// `kprobe/<func>[+<offset>]`.
    Kprobe,
    /// `kretprobe/<func>`.
    Kretprobe,
    /// `kprobe.multi/<pattern>`.
    KprobeMulti,
    /// `kretprobe.multi/<pattern>`.
    KretprobeMulti,
    /// `kprobe.session/<pattern>`.
    KprobeSession,
    /// `uprobe.session[.s]/<binary>:<pattern>`.
    UprobeSession,
    /// `uprobe[.s]/<binary>:<func>`.
    Uprobe,
    /// `uretprobe[.s]/<binary>:<func>`.
    Uretprobe,
    /// `uprobe.multi[.s]/<binary>:<pattern>`.
    UprobeMulti,
    /// `uretprobe.multi[.s]/<binary>:<pattern>`.
    UretprobeMulti,
    /// `ksyscall/<syscall>`.
    Ksyscall,
    /// `kretsyscall/<syscall>`.
    Kretsyscall,
    /// `usdt/<binary>:<provider>:<name>`.
    Usdt,
    /// `tracepoint/<category>/<name>` and `tp/...`.
    Tracepoint,
    /// `raw_tracepoint[.w]/<name>` and `raw_tp[.w]/...`.
    RawTracepoint,
    /// BTF-typed tracing: `tp_btf`, `fentry`, `fexit`, `fmod_ret`, `fsession` (and `.s`).
    Trace,
    /// `lsm[.s]/<hook>`.
    Lsm,
    /// `iter[.s]/<target>`.
    Iter,
    /// `struct_ops[.s]/<name>`: attached through its `.struct_ops` map.
    StructOps,
}

/// Flags of a SEC definition (libbpf's `SEC_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SecFlags {
    /// `BPF_F_SLEEPABLE` at load (`.s` variants, `syscall`).
    pub sleepable: bool,
    /// `BPF_F_XDP_HAS_FRAGS` at load (`xdp.frags`).
    pub xdp_frags: bool,
    /// The attach target is a kernel BTF name (`attach_btf_id` at load).
    pub attach_btf: bool,
    /// `expected_attach_type` must be passed at load (`SEC_ATTACHABLE`).
    pub attachable: bool,
    /// `expected_attach_type` is passed at load only if the kernel supports it
    /// (`SEC_ATTACHABLE_OPT`).
    pub attachable_opt: bool,
    /// USDT program (needs the USDT support code).
    pub usdt: bool,
}

/// One SEC convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecDef {
    /// The name as libbpf writes it (`kprobe+`, `xdp`, `cgroup/connect4`).
    pub name: &'static str,
    /// Program type.
    pub prog_type: ProgType,
    /// Expected attach type, if the convention has one.
    pub attach_type: Option<AttachType>,
    /// Flags.
    pub flags: SecFlags,
    /// How it attaches.
    pub attach: AttachKind,
}

impl SecDef {
    /// The convention's prefix (name without a trailing `+`).
    pub fn prefix(&self) -> &'static str {
        self.name.strip_suffix('+').unwrap_or(self.name)
    }

    /// Whether `sec` is of this convention, by libbpf's rules (`sec_def_matches`): `type/`
    /// needs the `type/extras` form, `type+` is `type` or `type/extras`, anything else is
    /// exact.
    pub fn matches(&self, sec: &str) -> bool {
        if self.name.ends_with('/') {
            return sec.starts_with(self.name);
        }
        match self.name.strip_suffix('+') {
            Some(p) => sec == p || sec.strip_prefix(p).is_some_and(|r| r.starts_with('/')),
            None => sec == self.name,
        }
    }

    /// Whether `sec` starts with this exact-match convention's name, as cilium/ebpf matches
    /// exact definitions (`socket` accepts `socket/NAME`); `+` and `/` conventions never
    /// match this way (cilium/ebpf matches those as libbpf does).
    pub fn matches_by_prefix(&self, sec: &str) -> bool {
        !self.name.ends_with(['+', '/']) && sec.starts_with(self.name)
    }
}

const NONE: SecFlags = SecFlags {
    sleepable: false,
    xdp_frags: false,
    attach_btf: false,
    attachable: false,
    attachable_opt: false,
    usdt: false,
};
const SLEEPABLE: SecFlags = SecFlags {
    sleepable: true,
    ..NONE
};
const ATTACHABLE: SecFlags = SecFlags {
    attachable: true,
    ..NONE
};
const ATTACHABLE_OPT: SecFlags = SecFlags {
    attachable: true,
    attachable_opt: true,
    ..NONE
};
const XDP_FRAGS: SecFlags = SecFlags {
    xdp_frags: true,
    ..NONE
};
const BTF: SecFlags = SecFlags {
    attach_btf: true,
    ..NONE
};
const BTF_S: SecFlags = SecFlags {
    attach_btf: true,
    sleepable: true,
    ..NONE
};
const USDT: SecFlags = SecFlags { usdt: true, ..NONE };
const USDT_S: SecFlags = SecFlags {
    usdt: true,
    sleepable: true,
    ..NONE
};

macro_rules! defs {
    ($($name:literal, $pt:ident, $at:expr, $flags:expr, $attach:ident;)*) => {
        /// Every SEC convention of libbpf 1.7's `section_defs`, in its matching order (first
        /// match wins).
        pub const SECTION_DEFS: &[SecDef] = &[
            $(SecDef {
                name: $name,
                prog_type: ProgType::$pt,
                attach_type: $at,
                flags: $flags,
                attach: AttachKind::$attach,
            },)*
        ];
    };
}

use AttachType as A;

defs! {
    "socket", SocketFilter, None, NONE, None;
    "sk_reuseport/migrate", SkReuseport, Some(A::SkReuseportSelectOrMigrate), ATTACHABLE, None;
    "sk_reuseport", SkReuseport, Some(A::SkReuseportSelect), ATTACHABLE, None;
    "kprobe+", Kprobe, None, NONE, Kprobe;
    "uprobe+", Kprobe, None, NONE, Uprobe;
    "uprobe.s+", Kprobe, None, SLEEPABLE, Uprobe;
    "kretprobe+", Kprobe, None, NONE, Kretprobe;
    "uretprobe+", Kprobe, None, NONE, Uretprobe;
    "uretprobe.s+", Kprobe, None, SLEEPABLE, Uretprobe;
    "kprobe.multi+", Kprobe, Some(A::TraceKprobeMulti), NONE, KprobeMulti;
    "kretprobe.multi+", Kprobe, Some(A::TraceKprobeMulti), NONE, KretprobeMulti;
    "kprobe.session+", Kprobe, Some(A::TraceKprobeSession), NONE, KprobeSession;
    "uprobe.multi+", Kprobe, Some(A::TraceUprobeMulti), NONE, UprobeMulti;
    "uretprobe.multi+", Kprobe, Some(A::TraceUprobeMulti), NONE, UretprobeMulti;
    "uprobe.session+", Kprobe, Some(A::TraceUprobeSession), NONE, UprobeSession;
    "uprobe.multi.s+", Kprobe, Some(A::TraceUprobeMulti), SLEEPABLE, UprobeMulti;
    "uretprobe.multi.s+", Kprobe, Some(A::TraceUprobeMulti), SLEEPABLE, UretprobeMulti;
    "uprobe.session.s+", Kprobe, Some(A::TraceUprobeSession), SLEEPABLE, UprobeSession;
    "ksyscall+", Kprobe, None, NONE, Ksyscall;
    "kretsyscall+", Kprobe, None, NONE, Kretsyscall;
    "usdt+", Kprobe, None, USDT, Usdt;
    "usdt.s+", Kprobe, None, USDT_S, Usdt;
    "tc/ingress", SchedCls, Some(A::TcxIngress), NONE, None;
    "tc/egress", SchedCls, Some(A::TcxEgress), NONE, None;
    "tcx/ingress", SchedCls, Some(A::TcxIngress), NONE, None;
    "tcx/egress", SchedCls, Some(A::TcxEgress), NONE, None;
    "tc", SchedCls, None, NONE, None;
    "classifier", SchedCls, None, NONE, None;
    "action", SchedAct, None, NONE, None;
    "netkit/primary", SchedCls, Some(A::NetkitPrimary), NONE, None;
    "netkit/peer", SchedCls, Some(A::NetkitPeer), NONE, None;
    "tracepoint+", Tracepoint, None, NONE, Tracepoint;
    "tp+", Tracepoint, None, NONE, Tracepoint;
    "raw_tracepoint+", RawTracepoint, None, NONE, RawTracepoint;
    "raw_tp+", RawTracepoint, None, NONE, RawTracepoint;
    "raw_tracepoint.w+", RawTracepointWritable, None, NONE, RawTracepoint;
    "raw_tp.w+", RawTracepointWritable, None, NONE, RawTracepoint;
    "tp_btf+", Tracing, Some(A::TraceRawTp), BTF, Trace;
    "fentry+", Tracing, Some(A::TraceFentry), BTF, Trace;
    "fmod_ret+", Tracing, Some(A::ModifyReturn), BTF, Trace;
    "fexit+", Tracing, Some(A::TraceFexit), BTF, Trace;
    "fentry.s+", Tracing, Some(A::TraceFentry), BTF_S, Trace;
    "fmod_ret.s+", Tracing, Some(A::ModifyReturn), BTF_S, Trace;
    "fexit.s+", Tracing, Some(A::TraceFexit), BTF_S, Trace;
    "fsession+", Tracing, Some(A::TraceFsession), BTF, Trace;
    "fsession.s+", Tracing, Some(A::TraceFsession), BTF_S, Trace;
    "freplace+", Ext, None, BTF, None;
    "lsm+", Lsm, Some(A::LsmMac), BTF, Lsm;
    "lsm.s+", Lsm, Some(A::LsmMac), BTF_S, Lsm;
    "lsm_cgroup+", Lsm, Some(A::LsmCgroup), BTF, None;
    "iter+", Tracing, Some(A::TraceIter), BTF, Iter;
    "iter.s+", Tracing, Some(A::TraceIter), BTF_S, Iter;
    "syscall", Syscall, None, SLEEPABLE, None;
    "xdp.frags/devmap", Xdp, Some(A::XdpDevmap), XDP_FRAGS, None;
    "xdp/devmap", Xdp, Some(A::XdpDevmap), ATTACHABLE, None;
    "xdp.frags/cpumap", Xdp, Some(A::XdpCpumap), XDP_FRAGS, None;
    "xdp/cpumap", Xdp, Some(A::XdpCpumap), ATTACHABLE, None;
    "xdp.frags", Xdp, Some(A::Xdp), XDP_FRAGS, None;
    "xdp", Xdp, Some(A::Xdp), ATTACHABLE_OPT, None;
    "perf_event", PerfEvent, None, NONE, None;
    "lwt_in", LwtIn, None, NONE, None;
    "lwt_out", LwtOut, None, NONE, None;
    "lwt_xmit", LwtXmit, None, NONE, None;
    "lwt_seg6local", LwtSeg6local, None, NONE, None;
    "sockops", SockOps, Some(A::CgroupSockOps), ATTACHABLE_OPT, None;
    "sk_skb/stream_parser", SkSkb, Some(A::SkSkbStreamParser), ATTACHABLE_OPT, None;
    "sk_skb/stream_verdict", SkSkb, Some(A::SkSkbStreamVerdict), ATTACHABLE_OPT, None;
    "sk_skb/verdict", SkSkb, Some(A::SkSkbVerdict), ATTACHABLE_OPT, None;
    "sk_skb", SkSkb, None, NONE, None;
    "sk_msg", SkMsg, Some(A::SkMsgVerdict), ATTACHABLE_OPT, None;
    "lirc_mode2", LircMode2, Some(A::LircMode2), ATTACHABLE_OPT, None;
    "flow_dissector", FlowDissector, Some(A::FlowDissector), ATTACHABLE_OPT, None;
    "cgroup_skb/ingress", CgroupSkb, Some(A::CgroupInetIngress), ATTACHABLE_OPT, None;
    "cgroup_skb/egress", CgroupSkb, Some(A::CgroupInetEgress), ATTACHABLE_OPT, None;
    "cgroup/skb", CgroupSkb, None, NONE, None;
    "cgroup/sock_create", CgroupSock, Some(A::CgroupInetSockCreate), ATTACHABLE, None;
    "cgroup/sock_release", CgroupSock, Some(A::CgroupInetSockRelease), ATTACHABLE, None;
    "cgroup/sock", CgroupSock, Some(A::CgroupInetSockCreate), ATTACHABLE_OPT, None;
    "cgroup/post_bind4", CgroupSock, Some(A::CgroupInet4PostBind), ATTACHABLE, None;
    "cgroup/post_bind6", CgroupSock, Some(A::CgroupInet6PostBind), ATTACHABLE, None;
    "cgroup/bind4", CgroupSockAddr, Some(A::CgroupInet4Bind), ATTACHABLE, None;
    "cgroup/bind6", CgroupSockAddr, Some(A::CgroupInet6Bind), ATTACHABLE, None;
    "cgroup/connect4", CgroupSockAddr, Some(A::CgroupInet4Connect), ATTACHABLE, None;
    "cgroup/connect6", CgroupSockAddr, Some(A::CgroupInet6Connect), ATTACHABLE, None;
    "cgroup/connect_unix", CgroupSockAddr, Some(A::CgroupUnixConnect), ATTACHABLE, None;
    "cgroup/sendmsg4", CgroupSockAddr, Some(A::CgroupUdp4Sendmsg), ATTACHABLE, None;
    "cgroup/sendmsg6", CgroupSockAddr, Some(A::CgroupUdp6Sendmsg), ATTACHABLE, None;
    "cgroup/sendmsg_unix", CgroupSockAddr, Some(A::CgroupUnixSendmsg), ATTACHABLE, None;
    "cgroup/recvmsg4", CgroupSockAddr, Some(A::CgroupUdp4Recvmsg), ATTACHABLE, None;
    "cgroup/recvmsg6", CgroupSockAddr, Some(A::CgroupUdp6Recvmsg), ATTACHABLE, None;
    "cgroup/recvmsg_unix", CgroupSockAddr, Some(A::CgroupUnixRecvmsg), ATTACHABLE, None;
    "cgroup/getpeername4", CgroupSockAddr, Some(A::CgroupInet4Getpeername), ATTACHABLE, None;
    "cgroup/getpeername6", CgroupSockAddr, Some(A::CgroupInet6Getpeername), ATTACHABLE, None;
    "cgroup/getpeername_unix", CgroupSockAddr, Some(A::CgroupUnixGetpeername), ATTACHABLE, None;
    "cgroup/getsockname4", CgroupSockAddr, Some(A::CgroupInet4Getsockname), ATTACHABLE, None;
    "cgroup/getsockname6", CgroupSockAddr, Some(A::CgroupInet6Getsockname), ATTACHABLE, None;
    "cgroup/getsockname_unix", CgroupSockAddr, Some(A::CgroupUnixGetsockname), ATTACHABLE, None;
    "cgroup/sysctl", CgroupSysctl, Some(A::CgroupSysctl), ATTACHABLE, None;
    "cgroup/getsockopt", CgroupSockopt, Some(A::CgroupGetsockopt), ATTACHABLE, None;
    "cgroup/setsockopt", CgroupSockopt, Some(A::CgroupSetsockopt), ATTACHABLE, None;
    "cgroup/dev", CgroupDevice, Some(A::CgroupDevice), ATTACHABLE_OPT, None;
    "struct_ops+", StructOps, None, NONE, StructOps;
    "struct_ops.s+", StructOps, None, SLEEPABLE, StructOps;
    "sk_lookup", SkLookup, Some(A::SkLookup), ATTACHABLE, None;
    "netfilter", Netfilter, Some(A::Netfilter), NONE, None;
}

/// What a program's SEC name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecInfo {
    /// The matching convention.
    pub def: &'static SecDef,
    /// The part after `<prefix>/` (`do_unlinkat` for `kprobe/do_unlinkat`,
    /// `syscalls/sys_enter_openat` for `tp/...`), if any.
    pub attach_target: Option<String>,
    /// No libbpf definition matches: the name was accepted by prefix, as aya and
    /// cilium/ebpf accept it (`xdp/NAME` as `xdp`).
    pub by_prefix: bool,
}

impl SecInfo {
    /// Program type.
    pub fn prog_type(&self) -> ProgType {
        self.def.prog_type
    }

    /// Expected attach type.
    pub fn attach_type(&self) -> Option<AttachType> {
        self.def.attach_type
    }

    /// Sleepable (`BPF_F_SLEEPABLE`).
    pub fn sleepable(&self) -> bool {
        self.def.flags.sleepable
    }

    /// Whether `attach_all` can attach it from the SEC name alone: conventions with an
    /// attach method whose section names a target (a bare `kprobe` does not).
    pub fn auto_attach(&self) -> bool {
        match self.def.attach {
            AttachKind::None | AttachKind::StructOps => false,
            AttachKind::Uprobe | AttachKind::Uretprobe => self
                .attach_target
                .as_deref()
                .is_some_and(|t| t.contains(':')),
            _ => self.attach_target.as_deref().is_some_and(|t| !t.is_empty()),
        }
    }
}

/// Finds the convention of a SEC name: libbpf's (`find_sec_def`, see
/// [`find_libbpf_sec_def`]) or, where libbpf knows none, the first exact-match convention
/// whose name the SEC name starts with, as aya and cilium/ebpf accept it (`socket/NAME`,
/// `xdp/NAME`, `classifier/NAME`), logged at debug level.
pub fn find_sec_def(sec: &str) -> Option<SecInfo> {
    find_libbpf_sec_def(sec).or_else(|| {
        let def = SECTION_DEFS.iter().find(|d| d.matches_by_prefix(sec))?;
        log::debug!(
            "sec '{sec}': no libbpf SEC definition matches; accepted by prefix as aya and cilium/ebpf do ({}: {} program)",
            def.name,
            def.prog_type.name()
        );
        Some(SecInfo {
            def,
            attach_target: None,
            by_prefix: true,
        })
    })
}

/// Finds the convention of a SEC name exactly as libbpf's `find_sec_def` (no prefix
/// fallback).
pub fn find_libbpf_sec_def(sec: &str) -> Option<SecInfo> {
    let def = SECTION_DEFS.iter().find(|d| d.matches(sec))?;
    let attach_target = if def.name.ends_with('/') {
        sec.strip_prefix(def.name).map(str::to_string)
    } else if def.name.ends_with('+') {
        sec.strip_prefix(def.prefix())
            .and_then(|r| r.strip_prefix('/'))
            .map(str::to_string)
    } else {
        None
    };
    Some(SecInfo {
        def,
        attach_target,
        by_prefix: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let k = find_sec_def("kprobe/do_unlinkat").unwrap();
        assert_eq!(k.prog_type(), ProgType::Kprobe);
        assert_eq!(k.attach_target.as_deref(), Some("do_unlinkat"));
        assert!(k.auto_attach());
        assert!(!find_sec_def("kprobe").unwrap().auto_attach());
        assert!(find_sec_def("kprobex").is_none());
        assert_eq!(find_sec_def("xdp").unwrap().attach_type(), Some(A::Xdp));
        assert!(find_sec_def("xdp.frags").unwrap().def.flags.xdp_frags);
        assert_eq!(
            find_sec_def("xdp/devmap").unwrap().attach_type(),
            Some(A::XdpDevmap)
        );
        let prefixed = find_sec_def("xdp/foo").unwrap();
        assert!(prefixed.by_prefix && prefixed.def.name == "xdp");
        assert!(
            find_libbpf_sec_def("xdp/foo").is_none(),
            "exact-match conventions"
        );
        let s = find_sec_def("fentry.s/__x64_sys_getpid").unwrap();
        assert!(s.sleepable() && s.def.flags.attach_btf);
        assert_eq!(
            find_sec_def("uprobe.s/libc.so.6:free").unwrap().def.name,
            "uprobe.s+"
        );
        assert!(find_sec_def("syscall").unwrap().sleepable());
        assert_eq!(
            find_sec_def("tcx/egress").unwrap().attach_type(),
            Some(A::TcxEgress)
        );
        assert_eq!(
            find_sec_def("cgroup/getsockopt").unwrap().prog_type(),
            ProgType::CgroupSockopt
        );
    }

    #[test]
    fn slash_definitions_need_the_extras_form() {
        // libbpf 1.7's own table has none, but its matcher (and custom handlers) do.
        let def = SecDef {
            name: "custom/",
            prog_type: ProgType::Kprobe,
            attach_type: None,
            flags: NONE,
            attach: AttachKind::None,
        };
        assert!(def.matches("custom/x") && def.matches("custom/"));
        assert!(!def.matches("custom") && !def.matches("customx"));
        assert!(!def.matches_by_prefix("custom/x"));
    }
}
