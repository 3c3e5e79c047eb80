//! The SEC table against libbpf 1.7's `section_defs` (testdata/bpf/expected/
//! libbpf_1.7_section_defs.txt, its SEC_DEF lines verbatim): same conventions in the same
//! order with the same program type, expected attach type, flags and attach method; libbpf's
//! matching rules; the aya/cilium-style prefix fallback; and the programs of
//! obj_sec_names_17 (the forms libbpf 1.4-1.7 added) for both compilers.

mod common;

use common::{parse, CLANGS};
use corebpf_abi::{AttachType as A, ProgType as P};
use corebpf_obj::{
    find_libbpf_sec_def, find_sec_def, AttachKind as K, SecDef, SecFlags, SECTION_DEFS,
};

/// One `SEC_DEF(...)` line of libbpf: name, program type, attach type, flags, attach fn.
struct LibbpfDef {
    name: String,
    prog_type: String,
    attach_type: String,
    flags: Vec<String>,
    attach_fn: Option<String>,
}

fn libbpf_defs() -> Vec<LibbpfDef> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/bpf/expected/libbpf_1.7_section_defs.txt"
    );
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("SEC_DEF("))
        .map(|l| {
            // Drop a trailing comment (`/* alias for tcx */`) and the closing `),`.
            let l = l.split("/*").next().unwrap().trim_end();
            let l = l.trim_end_matches(',').strip_suffix(')').unwrap();
            let (name, rest) = l.strip_prefix('"').unwrap().split_once('"').unwrap();
            let args: Vec<&str> = rest.split(',').map(str::trim).skip(1).collect();
            LibbpfDef {
                name: name.to_string(),
                prog_type: args[0].to_string(),
                attach_type: args[1].to_string(),
                flags: args[2].split('|').map(|f| f.trim().to_string()).collect(),
                attach_fn: args.get(3).map(|s| s.to_string()),
            }
        })
        .collect()
}

/// libbpf's `SEC_*` flags as corebpf's.
fn flags_of(names: &[String]) -> SecFlags {
    let mut f = SecFlags::default();
    for n in names {
        match n.as_str() {
            "SEC_NONE" | "0" => {}
            "SEC_ATTACHABLE" => f.attachable = true,
            "SEC_ATTACHABLE_OPT" => {
                f.attachable = true;
                f.attachable_opt = true;
            }
            "SEC_ATTACH_BTF" => f.attach_btf = true,
            "SEC_SLEEPABLE" => f.sleepable = true,
            "SEC_XDP_FRAGS" => f.xdp_frags = true,
            "SEC_USDT" => f.usdt = true,
            other => panic!("unknown libbpf flag {other}"),
        }
    }
    f
}

/// Which corebpf attach kinds stand for a libbpf attach fn.
fn kinds_of(def: &SecDef, attach_fn: Option<&str>) -> Vec<K> {
    match attach_fn {
        Some("attach_kprobe") => vec![K::Kprobe, K::Kretprobe],
        Some("attach_uprobe") => vec![K::Uprobe, K::Uretprobe],
        Some("attach_kprobe_multi") => vec![K::KprobeMulti, K::KretprobeMulti],
        Some("attach_kprobe_session") => vec![K::KprobeSession],
        Some("attach_uprobe_multi") => vec![K::UprobeMulti, K::UretprobeMulti, K::UprobeSession],
        Some("attach_ksyscall") => vec![K::Ksyscall, K::Kretsyscall],
        Some("attach_usdt") => vec![K::Usdt],
        Some("attach_tp") => vec![K::Tracepoint],
        Some("attach_raw_tp") => vec![K::RawTracepoint],
        // freplace needs a target program given at load, which corebpf does not take yet.
        Some("attach_trace") if def.prog_type == P::Ext => vec![K::None],
        Some("attach_trace") => vec![K::Trace],
        Some("attach_lsm") => vec![K::Lsm],
        Some("attach_iter") => vec![K::Iter],
        // struct_ops programs attach through their map.
        None if def.prog_type == P::StructOps => vec![K::StructOps],
        None => vec![K::None],
        Some(other) => panic!("unknown libbpf attach fn {other}"),
    }
}

#[test]
fn table_is_libbpf_1_7() {
    let want = libbpf_defs();
    let names = |v: Vec<&str>| v.join(" ");
    assert_eq!(
        names(SECTION_DEFS.iter().map(|d| d.name).collect()),
        names(want.iter().map(|d| d.name.as_str()).collect()),
        "conventions and their order"
    );
    for (def, w) in SECTION_DEFS.iter().zip(&want) {
        let pt = P::from_name(&w.prog_type.to_lowercase()).unwrap();
        assert_eq!(def.prog_type, pt, "{}: program type", def.name);
        let at = (w.attach_type != "0").then(|| {
            *A::ALL
                .iter()
                .find(|a| a.kernel_name() == w.attach_type)
                .unwrap_or_else(|| panic!("{}: no attach type {}", def.name, w.attach_type))
        });
        assert_eq!(def.attach_type, at, "{}: expected attach type", def.name);
        assert_eq!(def.flags, flags_of(&w.flags), "{}: flags", def.name);
        assert!(
            kinds_of(def, w.attach_fn.as_deref()).contains(&def.attach),
            "{}: attach {:?} for libbpf's {:?}",
            def.name,
            def.attach,
            w.attach_fn
        );
    }
}

#[test]
fn every_convention_matches_its_own_names_first() {
    for def in SECTION_DEFS {
        let mut secs = vec![def.prefix().to_string()];
        if def.name.ends_with('+') {
            secs.push(format!("{}/some_target", def.prefix()));
        }
        for sec in secs {
            let info = find_libbpf_sec_def(&sec).unwrap();
            assert_eq!(info.def.name, def.name, "SEC(\"{sec}\")");
            assert!(!info.by_prefix);
            assert_eq!(find_sec_def(&sec), Some(info));
        }
        if def.name.ends_with('+') {
            // `type+` needs a '/' after the type, never any other character.
            let glued = format!("{}x", def.prefix());
            assert_ne!(
                find_libbpf_sec_def(&glued).map(|i| i.def.name),
                Some(def.name),
                "SEC(\"{glued}\")"
            );
        }
    }
}

/// (SEC name, type, expected attach type, attach target, sleepable, attach kind)
type FormCase = (&'static str, P, Option<A>, Option<&'static str>, bool, K);

#[test]
fn forms_libbpf_1_4_to_1_7_added() {
    let cases: &[FormCase] = &[
        (
            "kprobe.session/do_unlinkat",
            P::Kprobe,
            Some(A::TraceKprobeSession),
            Some("do_unlinkat"),
            false,
            K::KprobeSession,
        ),
        (
            "uprobe.session/libc.so.6:getpid",
            P::Kprobe,
            Some(A::TraceUprobeSession),
            Some("libc.so.6:getpid"),
            false,
            K::UprobeSession,
        ),
        (
            "uprobe.session.s//bin/true:main",
            P::Kprobe,
            Some(A::TraceUprobeSession),
            Some("/bin/true:main"),
            true,
            K::UprobeSession,
        ),
        (
            "uprobe.multi.s/libc.so.6:get*",
            P::Kprobe,
            Some(A::TraceUprobeMulti),
            Some("libc.so.6:get*"),
            true,
            K::UprobeMulti,
        ),
        (
            "fsession/do_unlinkat",
            P::Tracing,
            Some(A::TraceFsession),
            Some("do_unlinkat"),
            false,
            K::Trace,
        ),
        (
            "fsession.s/__x64_sys_getpid",
            P::Tracing,
            Some(A::TraceFsession),
            Some("__x64_sys_getpid"),
            true,
            K::Trace,
        ),
        (
            "netkit/primary",
            P::SchedCls,
            Some(A::NetkitPrimary),
            None,
            false,
            K::None,
        ),
        (
            "netkit/peer",
            P::SchedCls,
            Some(A::NetkitPeer),
            None,
            false,
            K::None,
        ),
    ];
    for &(sec, pt, at, target, sleepable, kind) in cases {
        let info = find_libbpf_sec_def(sec).unwrap_or_else(|| panic!("SEC(\"{sec}\")"));
        assert_eq!(info.prog_type(), pt, "{sec}");
        assert_eq!(info.attach_type(), at, "{sec}");
        assert_eq!(info.attach_target.as_deref(), target, "{sec}");
        assert_eq!(info.sleepable(), sleepable, "{sec}");
        assert_eq!(info.def.attach, kind, "{sec}");
        assert!(info.def.flags.attach_btf == (pt == P::Tracing), "{sec}");
    }
    assert!(find_sec_def("fsession.x/foo").is_none());
    assert!(find_sec_def("netkit/other").is_none());
}

#[test]
fn names_aya_and_cilium_accept_by_prefix() {
    let cases = [
        ("socket/my_filter", "socket"),
        ("socket1", "socket"),
        ("xdp/my_prog", "xdp"),
        ("xdp_pass", "xdp"),
        ("xdp/cpumap/my_prog", "xdp/cpumap"),
        ("xdp.frags/devmap/my_prog", "xdp.frags/devmap"),
        ("classifier/my_cls", "classifier"),
        ("tc_ingress_prog", "tc"),
        ("action/my_act", "action"),
        ("sk_msg/my_verdict", "sk_msg"),
        ("sk_skb/stream_parser/my_parser", "sk_skb/stream_parser"),
        ("sk_skb/stream_verdict/my_verdict", "sk_skb/stream_verdict"),
        ("sockops/my_ops", "sockops"),
        ("cgroup_skb/ingress/my_filter", "cgroup_skb/ingress"),
        ("cgroup/skb/my_filter", "cgroup/skb"),
        ("cgroup/sock/my_sock", "cgroup/sock"),
        ("cgroup/connect4/my_connect", "cgroup/connect4"),
        ("cgroup/dev/my_dev", "cgroup/dev"),
        ("cgroup/sysctl/my_sysctl", "cgroup/sysctl"),
        ("sk_reuseport/migrate/my_prog", "sk_reuseport/migrate"),
        ("sk_lookup/my_lookup", "sk_lookup"),
        ("flow_dissector/my_dissector", "flow_dissector"),
        ("lirc_mode2/my_lirc", "lirc_mode2"),
        ("perf_event/my_sampler", "perf_event"),
        ("lwt_xmit/my_lwt", "lwt_xmit"),
    ];
    for (sec, def) in cases {
        assert!(
            find_libbpf_sec_def(sec).is_none(),
            "libbpf knows SEC(\"{sec}\")"
        );
        let info = find_sec_def(sec).unwrap_or_else(|| panic!("SEC(\"{sec}\") refused"));
        assert!(info.by_prefix, "{sec}");
        assert_eq!(info.def.name, def, "{sec}");
        assert_eq!(info.attach_target, None, "{sec}");
        assert!(!info.auto_attach(), "{sec}");
    }
    // `+` conventions match only as libbpf matches them, in both loaders.
    for sec in [
        "kprobex/foo",
        "fentryfoo",
        "tracepointx/a/b",
        "lsmfoo",
        "iterx",
        "tcp",
    ] {
        let got = find_sec_def(sec).map(|i| i.def.name);
        assert!(
            got.is_none() || got == Some("tc"),
            "SEC(\"{sec}\"): {got:?}"
        );
    }
    assert!(find_sec_def("kprobex/foo").is_none());
    assert!(find_sec_def("my_section").is_none());
}

#[test]
fn obj_sec_names_17_programs() {
    let want: &[(&str, &str, P, Option<A>, bool)] = &[
        (
            "p_kprobe_session",
            "kprobe.session/do_unlinkat",
            P::Kprobe,
            Some(A::TraceKprobeSession),
            false,
        ),
        (
            "p_kprobe_multi",
            "kprobe.multi/do_unlink*",
            P::Kprobe,
            Some(A::TraceKprobeMulti),
            false,
        ),
        (
            "p_kretprobe_multi",
            "kretprobe.multi/do_unlink*",
            P::Kprobe,
            Some(A::TraceKprobeMulti),
            false,
        ),
        (
            "p_uprobe_session",
            "uprobe.session/libc.so.6:getpid",
            P::Kprobe,
            Some(A::TraceUprobeSession),
            false,
        ),
        (
            "p_uprobe_session_s",
            "uprobe.session.s/libc.so.6:getpid",
            P::Kprobe,
            Some(A::TraceUprobeSession),
            true,
        ),
        (
            "p_uprobe_multi",
            "uprobe.multi/libc.so.6:getpid",
            P::Kprobe,
            Some(A::TraceUprobeMulti),
            false,
        ),
        (
            "p_uretprobe_multi",
            "uretprobe.multi/libc.so.6:getpid",
            P::Kprobe,
            Some(A::TraceUprobeMulti),
            false,
        ),
        (
            "p_uprobe_multi_s",
            "uprobe.multi.s/libc.so.6:getpid",
            P::Kprobe,
            Some(A::TraceUprobeMulti),
            true,
        ),
        (
            "p_uretprobe_multi_s",
            "uretprobe.multi.s/libc.so.6:getpid",
            P::Kprobe,
            Some(A::TraceUprobeMulti),
            true,
        ),
        (
            "p_fsession",
            "fsession/vfs_read",
            P::Tracing,
            Some(A::TraceFsession),
            false,
        ),
        (
            "p_fsession_s",
            "fsession.s/__x64_sys_nanosleep",
            P::Tracing,
            Some(A::TraceFsession),
            true,
        ),
        (
            "p_netkit_primary",
            "netkit/primary",
            P::SchedCls,
            Some(A::NetkitPrimary),
            false,
        ),
        (
            "p_netkit_peer",
            "netkit/peer",
            P::SchedCls,
            Some(A::NetkitPeer),
            false,
        ),
        (
            "p_lsm_cgroup",
            "lsm_cgroup/socket_bind",
            P::Lsm,
            Some(A::LsmCgroup),
            false,
        ),
    ];
    for clang in CLANGS {
        let spec = parse(clang, "obj_sec_names_17");
        assert_eq!(spec.programs.len(), want.len(), "{clang}");
        for &(name, sec, pt, at, sleepable) in want {
            let p = spec
                .programs
                .iter()
                .find(|p| p.name == name)
                .unwrap_or_else(|| panic!("{clang}: no program {name}"));
            assert_eq!(p.section, sec, "{clang} {name}");
            assert_eq!(p.prog_type, pt, "{clang} {name}");
            assert_eq!(p.expected_attach_type, at, "{clang} {name}");
            assert_eq!(p.sleepable, sleepable, "{clang} {name}");
            assert!(p.error.is_none(), "{clang} {name}: {:?}", p.error);
        }
    }
}

/// Log lines, captured for the prefix-match test.
static LOGGED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}", record.level(), record.args());
        LOGGED.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

#[test]
fn obj_sec_prefix_programs_and_their_debug_line() {
    let _ = log::set_logger(&Capture);
    log::set_max_level(log::LevelFilter::Debug);
    let want = [
        (
            "pfx_socket",
            "socket/my_filter",
            P::SocketFilter,
            None,
            "socket",
        ),
        ("pfx_xdp", "xdp/my_xdp", P::Xdp, Some(A::Xdp), "xdp"),
        (
            "pfx_classifier",
            "classifier/my_cls",
            P::SchedCls,
            None,
            "classifier",
        ),
        ("pfx_action", "action/my_act", P::SchedAct, None, "action"),
        (
            "pfx_cgroup_skb",
            "cgroup_skb/ingress/my_ingress",
            P::CgroupSkb,
            Some(A::CgroupInetIngress),
            "cgroup_skb/ingress",
        ),
    ];
    for clang in CLANGS {
        let spec = parse(clang, "obj_sec_prefix");
        assert_eq!(spec.programs.len(), want.len(), "{clang}");
        for (name, sec, pt, at, def) in want {
            let p = spec.programs.iter().find(|p| p.name == name).unwrap();
            assert_eq!(p.section, sec, "{clang} {name}");
            assert_eq!(p.prog_type, pt, "{clang} {name}");
            assert_eq!(p.expected_attach_type, at, "{clang} {name}");
            assert!(p.error.is_none(), "{clang} {name}: {:?}", p.error);
            let info = p.sec_def.as_ref().unwrap();
            assert!(info.by_prefix && info.def.name == def, "{clang} {name}");
        }
    }
    let logged = LOGGED.lock().unwrap();
    let line = "DEBUG sec 'xdp/my_xdp': no libbpf SEC definition matches; accepted by prefix as aya and cilium/ebpf do (xdp: xdp program)";
    assert!(logged.iter().any(|l| l == line), "{logged:#?}");
    assert!(
        !logged
            .iter()
            .any(|l| l.starts_with("WARN") && l.contains("xdp/my_xdp")),
        "no warning for a name accepted by prefix"
    );
}
