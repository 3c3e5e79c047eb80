//! Programs, SEC names, functions and linking of the testdata objects, for both compilers.

mod common;

use std::collections::HashMap;

use common::{parse, CLANGS};
use corebpf_abi::{AttachType as A, ProgType as P};
use corebpf_obj::{disasm, LinkedProgram, ObjectSpec};

/// (program, section, type, expected attach type, attach target, sleepable)
type SecCase = (
    &'static str,
    &'static str,
    P,
    Option<A>,
    Option<&'static str>,
    bool,
);

#[test]
fn sec_names() {
    let want: &[SecCase] = &[
        (
            "p_kprobe",
            "kprobe/do_unlinkat",
            P::Kprobe,
            None,
            Some("do_unlinkat"),
            false,
        ),
        (
            "p_kretprobe",
            "kretprobe/do_unlinkat",
            P::Kprobe,
            None,
            Some("do_unlinkat"),
            false,
        ),
        (
            "p_uprobe",
            "uprobe/libc.so.6:malloc",
            P::Kprobe,
            None,
            Some("libc.so.6:malloc"),
            false,
        ),
        (
            "p_uretprobe",
            "uretprobe/libc.so.6:malloc",
            P::Kprobe,
            None,
            Some("libc.so.6:malloc"),
            false,
        ),
        (
            "p_uprobe_s",
            "uprobe.s/libc.so.6:free",
            P::Kprobe,
            None,
            Some("libc.so.6:free"),
            true,
        ),
        (
            "p_ksyscall",
            "ksyscall/getpid",
            P::Kprobe,
            None,
            Some("getpid"),
            false,
        ),
        (
            "p_kretsyscall",
            "kretsyscall/getpid",
            P::Kprobe,
            None,
            Some("getpid"),
            false,
        ),
        (
            "p_tracepoint",
            "tracepoint/syscalls/sys_enter_openat",
            P::Tracepoint,
            None,
            Some("syscalls/sys_enter_openat"),
            false,
        ),
        (
            "p_tp",
            "tp/syscalls/sys_exit_openat",
            P::Tracepoint,
            None,
            Some("syscalls/sys_exit_openat"),
            false,
        ),
        (
            "p_raw_tracepoint",
            "raw_tracepoint/sys_enter",
            P::RawTracepoint,
            None,
            Some("sys_enter"),
            false,
        ),
        (
            "p_raw_tp",
            "raw_tp/sys_exit",
            P::RawTracepoint,
            None,
            Some("sys_exit"),
            false,
        ),
        (
            "p_tp_btf",
            "tp_btf/sched_switch",
            P::Tracing,
            Some(A::TraceRawTp),
            Some("sched_switch"),
            false,
        ),
        (
            "p_fentry",
            "fentry/do_unlinkat",
            P::Tracing,
            Some(A::TraceFentry),
            Some("do_unlinkat"),
            false,
        ),
        (
            "p_fexit",
            "fexit/do_unlinkat",
            P::Tracing,
            Some(A::TraceFexit),
            Some("do_unlinkat"),
            false,
        ),
        (
            "p_fentry_s",
            "fentry.s/__x64_sys_getpid",
            P::Tracing,
            Some(A::TraceFentry),
            Some("__x64_sys_getpid"),
            true,
        ),
        (
            "p_fmod_ret",
            "fmod_ret/bpf_modify_return_test",
            P::Tracing,
            Some(A::ModifyReturn),
            Some("bpf_modify_return_test"),
            false,
        ),
        (
            "p_lsm",
            "lsm/file_open",
            P::Lsm,
            Some(A::LsmMac),
            Some("file_open"),
            false,
        ),
        (
            "p_lsm_s",
            "lsm.s/bprm_committed_creds",
            P::Lsm,
            Some(A::LsmMac),
            Some("bprm_committed_creds"),
            true,
        ),
        (
            "p_iter",
            "iter/task",
            P::Tracing,
            Some(A::TraceIter),
            Some("task"),
            false,
        ),
        ("p_xdp", "xdp", P::Xdp, Some(A::Xdp), None, false),
        (
            "p_xdp_frags",
            "xdp.frags",
            P::Xdp,
            Some(A::Xdp),
            None,
            false,
        ),
        ("p_tc", "tc", P::SchedCls, None, None, false),
        (
            "p_tcx_ingress",
            "tcx/ingress",
            P::SchedCls,
            Some(A::TcxIngress),
            None,
            false,
        ),
        (
            "p_tcx_egress",
            "tcx/egress",
            P::SchedCls,
            Some(A::TcxEgress),
            None,
            false,
        ),
        ("p_classifier", "classifier", P::SchedCls, None, None, false),
        ("p_socket", "socket", P::SocketFilter, None, None, false),
        (
            "p_sk_skb_parser",
            "sk_skb/stream_parser",
            P::SkSkb,
            Some(A::SkSkbStreamParser),
            None,
            false,
        ),
        (
            "p_sk_skb_verdict",
            "sk_skb/stream_verdict",
            P::SkSkb,
            Some(A::SkSkbStreamVerdict),
            None,
            false,
        ),
        (
            "p_sk_msg",
            "sk_msg",
            P::SkMsg,
            Some(A::SkMsgVerdict),
            None,
            false,
        ),
        (
            "p_sockops",
            "sockops",
            P::SockOps,
            Some(A::CgroupSockOps),
            None,
            false,
        ),
        (
            "p_cgroup_skb_ingress",
            "cgroup_skb/ingress",
            P::CgroupSkb,
            Some(A::CgroupInetIngress),
            None,
            false,
        ),
        (
            "p_cgroup_skb_egress",
            "cgroup_skb/egress",
            P::CgroupSkb,
            Some(A::CgroupInetEgress),
            None,
            false,
        ),
        (
            "p_cgroup_sock_create",
            "cgroup/sock_create",
            P::CgroupSock,
            Some(A::CgroupInetSockCreate),
            None,
            false,
        ),
        (
            "p_cgroup_connect4",
            "cgroup/connect4",
            P::CgroupSockAddr,
            Some(A::CgroupInet4Connect),
            None,
            false,
        ),
        (
            "p_cgroup_getsockopt",
            "cgroup/getsockopt",
            P::CgroupSockopt,
            Some(A::CgroupGetsockopt),
            None,
            false,
        ),
        (
            "p_cgroup_sysctl",
            "cgroup/sysctl",
            P::CgroupSysctl,
            Some(A::CgroupSysctl),
            None,
            false,
        ),
        (
            "p_perf_event",
            "perf_event",
            P::PerfEvent,
            None,
            None,
            false,
        ),
        ("p_syscall", "syscall", P::Syscall, None, None, true),
        (
            "p_ssthresh",
            "struct_ops/corebpf_ssthresh",
            P::StructOps,
            None,
            Some("corebpf_ssthresh"),
            false,
        ),
        (
            "p_cong_avoid",
            "struct_ops/corebpf_cong_avoid",
            P::StructOps,
            None,
            Some("corebpf_cong_avoid"),
            false,
        ),
        (
            "p_undo_cwnd",
            "struct_ops/corebpf_undo_cwnd",
            P::StructOps,
            None,
            Some("corebpf_undo_cwnd"),
            false,
        ),
    ];
    for clang in CLANGS {
        let spec = parse(clang, "obj_sec_names");
        assert_eq!(spec.programs.len(), want.len(), "{clang}");
        for &(name, sec, ty, at, target, sleepable) in want {
            let p = spec
                .program(name)
                .unwrap_or_else(|| panic!("{clang}: {name}"));
            assert_eq!(p.section, sec, "{clang}: {name}");
            assert_eq!(
                (
                    p.prog_type,
                    p.expected_attach_type,
                    p.attach_target.as_deref(),
                    p.sleepable
                ),
                (ty, at, target, sleepable),
                "{clang}: {name}"
            );
            assert!(p.error.is_none(), "{clang}: {name}: {:?}", p.error);
            assert_eq!(p.xdp_frags, name == "p_xdp_frags");
            spec.link_program_by_name(name).unwrap();
        }
        let auto = |n: &str| {
            spec.program(n)
                .unwrap()
                .sec_def
                .as_ref()
                .unwrap()
                .auto_attach()
        };
        assert!(auto("p_kprobe") && auto("p_tp") && auto("p_fentry") && auto("p_uprobe"));
        assert!(!auto("p_xdp") && !auto("p_socket") && !auto("p_ssthresh"));
    }
}

/// Checks every call/callback of `l` lands on a function start in the layout, each
/// function appears once, and func_info/line_info point at starts/valid insns.
fn check_linked(spec: &ObjectSpec, l: &LinkedProgram) -> Vec<String> {
    let starts: HashMap<usize, usize> = l.layout.iter().map(|p| (p.start, p.function)).collect();
    let mut seen = std::collections::HashSet::new();
    for p in &l.layout {
        assert!(seen.insert(p.function), "function appended twice");
        let f = &spec.functions[p.function];
        assert_eq!(
            &l.insns[p.start..p.start + f.insns.len()].len(),
            &f.insns.len()
        );
    }
    let mut i = 0;
    while i < l.insns.len() {
        let insn = l.insns[i];
        if insn.is_pseudo_call() || insn.is_pseudo_func() {
            let target = (i as i64 + insn.imm as i64 + 1) as usize;
            assert!(
                starts.contains_key(&target),
                "insn {i} -> {target} is not a function start:\n{}",
                disasm::disasm(&l.insns)
            );
        }
        i += if insn.is_ldimm64() { 2 } else { 1 };
    }
    assert_eq!(
        l.func_info.len(),
        l.layout.len(),
        "one func_info per function"
    );
    for fi in &l.func_info {
        assert!(
            starts.contains_key(&(fi.insn_off as usize)),
            "func_info at {}",
            fi.insn_off
        );
    }
    assert_eq!(l.func_info[0].insn_off, 0);
    for li in &l.line_info {
        assert!((li.insn_off as usize) < l.insns.len());
    }
    assert!(!l.line_info.is_empty());
    l.layout
        .iter()
        .map(|p| spec.functions[p.function].name.clone())
        .collect()
}

#[test]
fn subprograms_linked_once_each() {
    for clang in CLANGS {
        let spec = parse(clang, "obj_subprogs");
        assert_eq!(spec.programs.len(), 3);
        assert_eq!(
            spec.functions.len(),
            9,
            "{clang}: 3 programs + 6 subprograms"
        );
        for (name, global) in [
            ("level1", true),
            ("level2", false),
            ("level3", false),
            ("shared_add", false),
            ("loop_cb", false),
            ("each_cb", false),
        ] {
            let f = spec.function(name).unwrap();
            assert_eq!(
                (f.section.as_str(), f.global, f.program),
                (".text", global, None),
                "{name}"
            );
        }
        let sorted = |p: &str| {
            let l = spec.link_program_by_name(p).unwrap();
            let mut v = check_linked(&spec, &l);
            assert_eq!(v[0], p);
            v.sort();
            v
        };
        assert_eq!(
            sorted("subprog_chain"),
            ["level1", "level2", "level3", "shared_add", "subprog_chain"]
        );
        assert_eq!(
            sorted("subprog_loop"),
            ["loop_cb", "shared_add", "subprog_loop"]
        );
        assert_eq!(sorted("subprog_for_each"), ["each_cb", "subprog_for_each"]);

        // The callback reference is a BPF_PSEUDO_FUNC LD_IMM64 to loop_cb.
        let l = spec.link_program_by_name("subprog_loop").unwrap();
        let cb = l
            .layout
            .iter()
            .find(|p| spec.functions[p.function].name == "loop_cb")
            .unwrap();
        let (i, insn) = l
            .insns
            .iter()
            .enumerate()
            .find(|(_, i)| i.is_pseudo_func())
            .unwrap();
        assert_eq!(i as i64 + insn.imm as i64 + 1, cb.start as i64);
        // CO-RE-free object: every function's func_info is at its first instruction.
        for f in &spec.functions {
            assert_eq!(f.func_info.len(), 1, "{}", f.name);
            assert_eq!(f.func_info[0].insn_idx, 0);
        }
    }
}

#[test]
fn several_programs_per_section() {
    for clang in CLANGS {
        let spec = parse(clang, "obj_multi_prog_sec");
        let got: Vec<_> = spec
            .programs
            .iter()
            .map(|p| (p.name.as_str(), p.section.as_str(), p.prog_type))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "getpid_first",
                    "tp/syscalls/sys_enter_getpid",
                    P::Tracepoint
                ),
                (
                    "getpid_second",
                    "tp/syscalls/sys_enter_getpid",
                    P::Tracepoint
                ),
                ("xdp_first", "xdp", P::Xdp),
                ("xdp_second", "xdp", P::Xdp),
            ]
        );
        let second = spec.function("getpid_second").unwrap();
        assert!(
            second.sec_insn_off > 0,
            "second program starts inside the section"
        );
        assert_eq!(spec.function("xdp_second").unwrap().sec_insn_off, 2);
        for p in ["getpid_first", "getpid_second"] {
            let l = spec.link_program_by_name(p).unwrap();
            assert_eq!(check_linked(&spec, &l), [p, "bump"], "{clang}");
            let bss: Vec<_> = l
                .map_relocs
                .iter()
                .map(|r| spec.maps[r.map].section.as_str())
                .collect();
            assert_eq!(bss, [".bss"]);
        }
        assert_eq!(
            spec.link_program_by_name("xdp_second").unwrap().insns.len(),
            2
        );
    }
}

#[test]
fn function_at_maps_btf_ext_addresses() {
    for clang in CLANGS {
        let spec = parse(clang, "obj_subprogs");
        let chain = spec.function("subprog_chain").unwrap();
        let loop_ = spec.function_index("subprog_loop").unwrap();
        let off = (spec.functions[loop_].sec_insn_off * 8 + 16) as u32;
        assert_eq!(spec.function_at("syscall", off), Some((loop_, 2)));
        assert_eq!(chain.sec_insn_off, 0);
        assert_eq!(spec.function_at("nope", 0), None);
    }
}

#[test]
fn core_relocations_assigned_to_functions() {
    for clang in CLANGS {
        for fam in ["flavors", "misc", "type_based", "bitfields"] {
            let spec = parse(clang, &format!("core_{fam}"));
            let json: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(format!(
                    "{}/../../testdata/bpf/expected/core_{fam}.json",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap(),
            )
            .unwrap();
            let want = json["count"][clang].as_u64().unwrap() as usize;
            let total: usize = spec.core_relo_counts().iter().map(|c| c.1).sum();
            assert_eq!(total, want, "{clang} core_{fam}");
            let assigned: usize = spec.functions.iter().map(|f| f.core_relos.len()).sum();
            assert_eq!(assigned, want);
            for f in &spec.functions {
                for r in &f.core_relos {
                    assert!(r.insn_idx < f.insns.len());
                    assert_eq!(
                        spec.function_at(&f.section, r.record.insn_off),
                        Some((spec.function_index(&f.name).unwrap(), r.insn_idx))
                    );
                }
            }
        }
    }
}
