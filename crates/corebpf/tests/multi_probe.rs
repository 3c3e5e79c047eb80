//! Multi-probe and session links on the real kernel (multi_probe.bpf.c): uprobe.multi on the
//! 60 functions of this executable generated below (hits per function, by IP and by cookie),
//! uretprobe.multi, pid filtering, uprobe.session entry/return pairs, kprobe.multi on 100+
//! syscall functions in one link (with its attach time against one kprobe per function),
//! kretprobe.multi, kprobe.session, and the SEC names that auto-attach.
//!
//! What each kernel must show: this 6.18 host has uprobe multi and session links but no
//! kprobes (the kprobe forms must fail naming CONFIG_FPROBE/CONFIG_KPROBES); the 6.12
//! guest has everything but uprobe.session (6.13); 6.1 has kprobes but no multi link (the
//! kprobe and uprobe forms run through single probes); 5.10 likewise, without cookies.

mod attach_util;

use std::time::Instant;

use attach_util::{gettid, object_path};
use corebpf::attach::kprobe::{kprobe_support, KprobeSupport};
use corebpf::attach::multi::{kernel_functions_matching, KprobeMultiOpts, UprobeMultiOpts};
use corebpf::link::Link;
use corebpf::sys::{probe_feature, Feature, ProgType};
use corebpf::{Object, ObjectBuilder};

macro_rules! targets {
    ($($name:ident => $k:literal),* $(,)?) => {
        $(
            /// A uprobe.multi target: returns 3 * x plus its own constant.
            #[no_mangle]
            #[inline(never)]
            pub extern "C" fn $name(x: u64) -> u64 {
                std::hint::black_box(x).wrapping_mul(3).wrapping_add($k)
            }
        )*
        /// The probed functions of this executable: name and function.
        const TARGETS: &[(&str, extern "C" fn(u64) -> u64)] = &[$((stringify!($name), $name)),*];
    };
}

targets!(
    corebpf_mt_00 => 0,
    corebpf_mt_01 => 1,
    corebpf_mt_02 => 2,
    corebpf_mt_03 => 3,
    corebpf_mt_04 => 4,
    corebpf_mt_05 => 5,
    corebpf_mt_06 => 6,
    corebpf_mt_07 => 7,
    corebpf_mt_08 => 8,
    corebpf_mt_09 => 9,
    corebpf_mt_10 => 10,
    corebpf_mt_11 => 11,
    corebpf_mt_12 => 12,
    corebpf_mt_13 => 13,
    corebpf_mt_14 => 14,
    corebpf_mt_15 => 15,
    corebpf_mt_16 => 16,
    corebpf_mt_17 => 17,
    corebpf_mt_18 => 18,
    corebpf_mt_19 => 19,
    corebpf_mt_20 => 20,
    corebpf_mt_21 => 21,
    corebpf_mt_22 => 22,
    corebpf_mt_23 => 23,
    corebpf_mt_24 => 24,
    corebpf_mt_25 => 25,
    corebpf_mt_26 => 26,
    corebpf_mt_27 => 27,
    corebpf_mt_28 => 28,
    corebpf_mt_29 => 29,
    corebpf_mt_30 => 30,
    corebpf_mt_31 => 31,
    corebpf_mt_32 => 32,
    corebpf_mt_33 => 33,
    corebpf_mt_34 => 34,
    corebpf_mt_35 => 35,
    corebpf_mt_36 => 36,
    corebpf_mt_37 => 37,
    corebpf_mt_38 => 38,
    corebpf_mt_39 => 39,
    corebpf_mt_40 => 40,
    corebpf_mt_41 => 41,
    corebpf_mt_42 => 42,
    corebpf_mt_43 => 43,
    corebpf_mt_44 => 44,
    corebpf_mt_45 => 45,
    corebpf_mt_46 => 46,
    corebpf_mt_47 => 47,
    corebpf_mt_48 => 48,
    corebpf_mt_49 => 49,
    corebpf_mt_50 => 50,
    corebpf_mt_51 => 51,
    corebpf_mt_52 => 52,
    corebpf_mt_53 => 53,
    corebpf_mt_54 => 54,
    corebpf_mt_55 => 55,
    corebpf_mt_56 => 56,
    corebpf_mt_57 => 57,
    corebpf_mt_58 => 58,
    corebpf_mt_59 => 59,
);

/// The uprobe.session target: returns 3 * x, which the return probe checks.
#[no_mangle]
#[inline(never)]
pub extern "C" fn corebpf_session_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(3)
}

/// Counter slots of multi_probe.bpf.c.
mod slot {
    pub const ENTRY: u32 = 0;
    pub const RET: u32 = 1;
    pub const S_ENTRY: u32 = 2;
    pub const S_RET: u32 = 3;
    pub const S_PAIRED: u32 = 4;
    pub const K: u32 = 5;
    pub const KRET: u32 = 6;
    pub const KS_ENTRY: u32 = 7;
    pub const KS_RET: u32 = 8;
    pub const AUTO_U: u32 = 9;
    pub const AUTO_K: u32 = 10;
    pub const NO_KFUNC: u32 = 11;
}

fn load(programs: &[&str]) -> corebpf::Result<Object> {
    let mut open = ObjectBuilder::new().open_file(object_path("multi_probe.bpf.o"))?;
    open.load_only(programs)?;
    open.set_global("target_tid", &gettid().to_ne_bytes())?;
    open.load()
}

fn count(obj: &Object, slot: u32) -> u64 {
    let m = obj.map("counts").unwrap();
    m.as_array::<u64>().unwrap().get(slot, 0).unwrap()
}

fn hits(obj: &Object, map: &str, key: u64) -> u64 {
    let m = obj.map(map).unwrap();
    m.as_hash::<u64, u64>()
        .unwrap()
        .get(&key, 0)
        .unwrap()
        .unwrap_or(0)
}

/// The running kernel's release as (major, minor).
fn kernel() -> (u32, u32) {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut it = r.trim().split(|c: char| !c.is_ascii_digit());
    let mut next = || it.next().unwrap().parse::<u32>().unwrap();
    (next(), next())
}

fn in_vm() -> bool {
    std::env::var("COREBPF_VM").is_ok_and(|v| v == "1")
}

/// The uprobe_multi link, cross-checked with what each kernel must have.
fn has_uprobe_multi() -> bool {
    let has = probe_feature(Feature::UprobeMultiLink);
    assert_eq!(
        has,
        kernel() >= (6, 6),
        "uprobe_multi link on {:?}",
        kernel()
    );
    has
}

/// The kprobe_multi link, cross-checked: the 6.12 guest has CONFIG_FPROBE, 6.1 and 5.10
/// and this host do not.
fn has_kprobe_multi() -> bool {
    let has = probe_feature(Feature::KprobeMultiLink);
    if in_vm() {
        assert_eq!(
            has,
            kernel() >= (6, 12),
            "kprobe_multi link on {:?}",
            kernel()
        );
    } else {
        assert!(!has || kprobe_support() != KprobeSupport::None);
    }
    has
}

/// Whether `link` is one bpf link (the multi link), else the fallback's group of probes.
fn is_multi(link: &Link) -> bool {
    let kind = format!("{link:?}");
    assert!(
        link.is_bpf_link() || kind.contains("group of attachments"),
        "{kind}"
    );
    link.is_bpf_link()
}

fn exe() -> std::path::PathBuf {
    std::env::current_exe().unwrap()
}

/// Calls target i (i % 7 + 1) times; returns the expected count per target.
fn call_targets() -> Vec<u64> {
    TARGETS
        .iter()
        .enumerate()
        .map(|(i, (_, f))| {
            let n = (i % 7 + 1) as u64;
            for x in 0..n {
                f(x);
            }
            n
        })
        .collect()
}

#[test]
fn uprobe_multi_on_60_functions_of_this_executable_by_pattern() {
    assert!(TARGETS.len() >= 50);
    let obj = load(&["u_entry"]).unwrap();
    let prog = obj.program("u_entry").unwrap();
    let start = Instant::now();
    let link = prog
        .attach_uprobe_multi(exe(), &UprobeMultiOpts::pattern("corebpf_mt_*"))
        .unwrap();
    eprintln!(
        "uprobe.multi on {} functions: {:?} ({link:?})",
        TARGETS.len(),
        start.elapsed()
    );
    assert_eq!(is_multi(&link), has_uprobe_multi());
    let want = call_targets();
    for ((name, f), n) in TARGETS.iter().zip(&want) {
        assert_eq!(hits(&obj, "by_ip", *f as usize as u64), *n, "{name}");
    }
    assert_eq!(count(&obj, slot::ENTRY), want.iter().sum::<u64>());
    drop(link);
    TARGETS[0].1(1);
    assert_eq!(count(&obj, slot::ENTRY), want.iter().sum::<u64>());
}

#[test]
fn uprobe_and_uretprobe_multi_with_cookies_per_symbol() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    let cookies: Vec<u64> = (0..names.len() as u64).map(|i| 100 + i).collect();
    let opts = |retprobe| UprobeMultiOpts {
        cookies: cookies.clone(),
        retprobe,
        ..UprobeMultiOpts::symbols(names.iter().copied())
    };
    if kernel() < (5, 15) {
        // No bpf_get_attach_cookie(), and no cookies on single uprobes: count only.
        let obj = load(&["u_ret"]).unwrap();
        let e = obj
            .program("u_ret")
            .unwrap()
            .attach_uprobe_multi(exe(), &opts(true))
            .unwrap_err();
        assert!(
            e.to_string().contains("a bpf cookie needs perf links"),
            "{e}"
        );
        let _link = obj
            .program("u_ret")
            .unwrap()
            .attach_uprobe_multi(
                exe(),
                &UprobeMultiOpts {
                    retprobe: true,
                    ..UprobeMultiOpts::pattern("corebpf_mt_*")
                },
            )
            .unwrap();
        let want = call_targets();
        assert_eq!(count(&obj, slot::RET), want.iter().sum::<u64>());
        return;
    }
    let obj = load(&["u_entry_cookie", "u_ret_cookie"]).unwrap();
    let entry = obj.program("u_entry_cookie").unwrap();
    let ret = obj.program("u_ret_cookie").unwrap();
    let l1 = entry.attach_uprobe_multi(exe(), &opts(false)).unwrap();
    let l2 = ret.attach_uprobe_multi(exe(), &opts(true)).unwrap();
    assert_eq!(is_multi(&l1), has_uprobe_multi());
    assert_eq!(is_multi(&l2), has_uprobe_multi());
    let want = call_targets();
    for (i, n) in want.iter().enumerate() {
        assert_eq!(hits(&obj, "by_cookie", cookies[i]), *n, "{}", names[i]);
        assert_eq!(hits(&obj, "ret_by_cookie", cookies[i]), *n, "{}", names[i]);
    }
    assert_eq!(count(&obj, slot::RET), want.iter().sum::<u64>());
}

#[test]
fn uprobe_multi_pid_filter() {
    let obj = load(&["u_entry"]).unwrap();
    let prog = obj.program("u_entry").unwrap();
    let f = TARGETS[3];
    let only = |pid| UprobeMultiOpts {
        pid: Some(pid),
        ..UprobeMultiOpts::symbols([f.0])
    };
    // Another process (init) only: this one's calls do not hit.
    let other = prog.attach_uprobe_multi(exe(), &only(1)).unwrap();
    for x in 0..5 {
        f.1(x);
    }
    assert_eq!(count(&obj, slot::ENTRY), 0);
    drop(other);
    // 0 is this process (as libbpf), and so is its pid.
    for pid in [0, std::process::id() as i32] {
        let before = count(&obj, slot::ENTRY);
        let _mine = prog.attach_uprobe_multi(exe(), &only(pid)).unwrap();
        for x in 0..5 {
            f.1(x);
        }
        assert_eq!(count(&obj, slot::ENTRY) - before, 5, "pid {pid}");
    }
}

#[test]
fn uprobe_session_sees_entry_and_return_pairs_or_the_clear_error() {
    let obj = match load(&["u_session"]) {
        Ok(obj) => obj,
        // 6.10-6.12 have the session kfuncs, for kprobe sessions only: the load fails
        // naming the attach type's release.
        Err(e) if kernel() < (6, 13) => {
            let text = e.to_string();
            eprintln!("{text}");
            assert!(e.is_unsupported() && text.contains("Linux 6.13"), "{text}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let prog = obj.program("u_session").unwrap();
    let r = prog.attach_uprobe_multi(
        exe(),
        &UprobeMultiOpts {
            session: true,
            ..UprobeMultiOpts::pattern("corebpf_session_targe?")
        },
    );
    if kernel() < (6, 13) {
        let e = r.unwrap_err();
        let text = e.to_string();
        eprintln!("{text}");
        assert!(e.is_unsupported() && text.contains("Linux 6.13"), "{text}");
        if !has_uprobe_multi() {
            assert!(text.contains("no single-probe fallback"), "{text}");
        }
        return;
    }
    let _link = r.unwrap();
    const N: u64 = 20;
    for x in 0..N {
        corebpf_session_target(x);
    }
    if kernel() >= (7, 0) {
        // 7.0 gave the session kfuncs a ctx argument: this object's 6.10-6.19 weak
        // declarations do not resolve there, and the program only counts.
        eprintln!("7.0+: session kfuncs of the old prototype missing, counting runs only");
        assert_eq!(count(&obj, slot::NO_KFUNC), N);
        return;
    }
    assert_eq!(count(&obj, slot::S_ENTRY), N);
    // Odd arguments returned 1 at entry: no return probe for them.
    assert_eq!(count(&obj, slot::S_RET), N / 2);
    assert_eq!(count(&obj, slot::S_PAIRED), N / 2);
}

/// The syscalls [`syscalls`] makes, by the name of their x86-64 wrapper.
const TRIGGERS: &[(&str, libc::c_long)] = &[
    ("__x64_sys_getpid", libc::SYS_getpid),
    ("__x64_sys_getppid", libc::SYS_getppid),
    ("__x64_sys_getuid", libc::SYS_getuid),
    ("__x64_sys_gettid", libc::SYS_gettid),
    ("__x64_sys_getpgid", libc::SYS_getpgid),
    ("__x64_sys_getpriority", libc::SYS_getpriority),
    ("__x64_sys_getsid", libc::SYS_getsid),
    ("__x64_sys_getpgrp", libc::SYS_getpgrp),
];

/// Makes each of [`TRIGGERS`] `n` times (raw syscalls; the ones with arguments get 0s:
/// this process).
fn syscalls(n: usize) {
    for _ in 0..n {
        for &(_, nr) in TRIGGERS {
            // SAFETY: these syscalls only read; with 0 arguments they ask about this
            // process.
            unsafe { libc::syscall(nr, 0, 0) };
        }
    }
}

/// The pattern of the kprobe.multi test: 100+ syscall functions on x86-64.
const BIG: &str = "__x64_sys_*et*";

#[test]
fn kprobe_multi_on_100_plus_functions_or_the_clear_error() {
    // bpf_get_func_ip() in kprobes came with 5.15.
    let progs: &[&str] = if kernel() >= (5, 15) {
        &["k_multi", "k_multi_ip", "k_ret"]
    } else {
        &["k_multi", "k_ret"]
    };
    let obj = load(progs).unwrap();
    let prog = obj.program("k_multi").unwrap();
    if kprobe_support() == KprobeSupport::None && !has_kprobe_multi() {
        assert!(!in_vm(), "the guests have kprobes");
        let e = prog
            .attach_kprobe_multi(&KprobeMultiOpts::pattern(BIG))
            .unwrap_err();
        let text = e.to_string();
        eprintln!("{text}");
        assert!(e.is_unsupported(), "{text}");
        assert!(
            text.contains("CONFIG_FPROBE") && text.contains("CONFIG_KPROBES"),
            "{text}"
        );
        assert!(
            text.contains("program 'k_multi'") && text.contains(BIG),
            "{text}"
        );
        return;
    }
    if !has_kprobe_multi() {
        kprobe_multi_fallback(&obj);
        return;
    }
    let found = kernel_functions_matching(BIG).unwrap();
    assert!(found.len() >= 100, "{BIG}: {} functions", found.len());
    let ip = obj.program("k_multi_ip").unwrap();
    let start = Instant::now();
    let link = ip
        .attach_kprobe_multi(&KprobeMultiOpts::pattern(BIG))
        .unwrap();
    let multi_time = start.elapsed();
    assert!(is_multi(&link));
    const N: usize = 10;
    syscalls(N);
    // Not every wrapper is in ftrace's list under its own name (Debian's 6.12 lists the
    // record of __x64_sys_getpid as __do_sys_getpid): check those that are.
    let triggered: Vec<_> = TRIGGERS
        .iter()
        .filter_map(|(name, _)| found.iter().find(|f| f.name == *name))
        .collect();
    eprintln!(
        "triggered: {:?}",
        triggered.iter().map(|f| &f.name).collect::<Vec<_>>()
    );
    assert!(triggered.len() >= 2, "{triggered:?}");
    assert!(count(&obj, slot::K) >= (N * triggered.len()) as u64);
    for f in triggered {
        // bpf_get_func_ip() is the function's start; ftrace's address is past an ENDBR.
        let h = hits(&obj, "by_ip", f.addr) + hits(&obj, "by_ip", f.addr - 4);
        assert!(h >= N as u64, "{}: {h}", f.name);
    }
    drop(link);
    let single_time = single_kprobes_time(&found);
    eprintln!(
        "attach time for {} functions: kprobe.multi {multi_time:?}, one kprobe per function {single_time:?}",
        found.len()
    );
    // kretprobe.multi by symbols.
    let _ret = obj
        .program("k_ret")
        .unwrap()
        .attach_kprobe_multi(&KprobeMultiOpts {
            retprobe: true,
            ..KprobeMultiOpts::symbols(["__x64_sys_getpid", "__x64_sys_getppid"])
        })
        .unwrap();
    syscalls(N);
    assert!(count(&obj, slot::KRET) >= 2 * N as u64);
}

/// How long attaching one kprobe per function takes (a plain kprobe program).
fn single_kprobes_time(found: &[corebpf::attach::multi::KernelFunction]) -> std::time::Duration {
    let mut open = ObjectBuilder::new()
        .open_file(object_path("multi_probe.bpf.o"))
        .unwrap();
    open.load_only(&["k_multi"]).unwrap();
    open.set_program_type("k_multi", ProgType::Kprobe).unwrap();
    let plain = open.load().unwrap();
    let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
    let start = Instant::now();
    let link = plain
        .program("k_multi")
        .unwrap()
        .attach_kprobes(&names, false, &[])
        .unwrap();
    let t = start.elapsed();
    assert!(!is_multi(&link));
    t
}

/// 6.1 and 5.10: kprobe.multi and kretprobe.multi run through one kprobe per function.
fn kprobe_multi_fallback(obj: &Object) {
    assert!(in_vm() && kernel() < (6, 12), "{:?}", kernel());
    const N: usize = 10;
    let pattern = "__x64_sys_getp*";
    let names = kernel_functions_matching(pattern).unwrap();
    let link = obj
        .program("k_multi")
        .unwrap()
        .attach_kprobe_multi(&KprobeMultiOpts::pattern(pattern))
        .unwrap();
    let ret = obj
        .program("k_ret")
        .unwrap()
        .attach_kprobe_multi(&KprobeMultiOpts {
            retprobe: true,
            ..KprobeMultiOpts::symbols(["__x64_sys_getpid", "__x64_sys_getppid"])
        })
        .unwrap();
    assert!(!is_multi(&link) && !is_multi(&ret));
    syscalls(N);
    eprintln!(
        "fallback: {} single kprobes for {pattern}: {} hits",
        names.len(),
        count(obj, slot::K)
    );
    assert!(count(obj, slot::K) >= N as u64);
    assert!(count(obj, slot::KRET) >= 2 * N as u64);
}

#[test]
fn kprobe_multi_cookies_per_symbol_or_the_clear_error() {
    let syms = ["__x64_sys_getpid", "__x64_sys_getppid"];
    let opts = KprobeMultiOpts {
        cookies: vec![7, 8],
        ..KprobeMultiOpts::symbols(syms)
    };
    if kernel() < (5, 15) {
        let obj = load(&["k_multi"]).unwrap();
        let e = obj.program("k_multi").unwrap().attach_kprobe_multi(&opts);
        let text = e.unwrap_err().to_string();
        assert!(text.contains("a bpf cookie needs perf links"), "{text}");
        return;
    }
    let obj = load(&["k_multi_cookie"]).unwrap();
    let r = obj
        .program("k_multi_cookie")
        .unwrap()
        .attach_kprobe_multi(&opts);
    if kprobe_support() == KprobeSupport::None && !has_kprobe_multi() {
        assert!(r.unwrap_err().is_unsupported());
        return;
    }
    let link = r.unwrap();
    assert_eq!(is_multi(&link), has_kprobe_multi());
    for _ in 0..5 {
        // SAFETY: no arguments, cannot fail.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
    for _ in 0..3 {
        // SAFETY: no arguments, cannot fail.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    assert!(hits(&obj, "by_cookie", 7) >= 5);
    assert!(hits(&obj, "by_cookie", 8) >= 3);
}

#[test]
fn kprobe_session_pairs_or_the_clear_error() {
    let obj = load(&["k_session"]).unwrap();
    let prog = obj.program("k_session").unwrap();
    let r = prog.attach_kprobe_multi(&KprobeMultiOpts {
        session: true,
        ..KprobeMultiOpts::symbols(["__x64_sys_getppid"])
    });
    if !has_kprobe_multi() || kernel() < (6, 10) {
        let e = r.unwrap_err();
        let text = e.to_string();
        eprintln!("{text}");
        assert!(e.is_unsupported() && text.contains("Linux 6.10"), "{text}");
        return;
    }
    let _link = r.unwrap();
    const N: u64 = 10;
    for _ in 0..N {
        // SAFETY: no arguments, cannot fail.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    if kernel() >= (7, 0) {
        eprintln!("7.0+: session kfuncs of the old prototype missing, counting runs only");
        assert!(count(&obj, slot::NO_KFUNC) >= N);
        return;
    }
    assert!(count(&obj, slot::KS_ENTRY) >= N);
    assert_eq!(count(&obj, slot::KS_ENTRY), count(&obj, slot::KS_RET));
}

#[test]
fn sec_names_attach_uprobe_multi_and_kprobe_multi() {
    let obj = load(&["auto_u", "auto_k"]).unwrap();
    let u = obj.program("auto_u").unwrap().attach().unwrap();
    assert_eq!(is_multi(&u), has_uprobe_multi());
    call_targets();
    // corebpf_mt_00..09, called i % 7 + 1 times each.
    let want: u64 = (0..10).map(|i| i % 7 + 1).sum();
    assert_eq!(count(&obj, slot::AUTO_U), want);
    let k = obj.program("auto_k").unwrap().attach();
    if kprobe_support() == KprobeSupport::None && !has_kprobe_multi() {
        let e = k.unwrap_err();
        assert!(e.is_unsupported(), "{e}");
        return;
    }
    let k = k.unwrap();
    assert_eq!(is_multi(&k), has_kprobe_multi());
    syscalls(5);
    // __x64_sys_getp*: getppid, getpgid, getpgrp, getpriority, where ftrace lists them.
    assert!(count(&obj, slot::AUTO_K) >= 5);
}

#[test]
fn wrong_forms_and_options_are_refused_clearly() {
    let obj = load(&["u_entry", "k_multi"]).unwrap();
    let u = obj.program("u_entry").unwrap();
    let k = obj.program("k_multi").unwrap();
    let text = |r: corebpf::Result<Link>| r.unwrap_err().to_string();
    let e = text(k.attach_uprobe_multi(exe(), &UprobeMultiOpts::pattern("corebpf_mt_*")));
    assert!(
        e.contains("needs a program loaded for attach type trace_uprobe_multi")
            && e.contains("SEC(\"kprobe.multi\")"),
        "{e}"
    );
    let e = text(u.attach_kprobe_multi(&KprobeMultiOpts::pattern("x*")));
    assert!(e.contains("trace_kprobe_multi"), "{e}");
    let e = text(u.attach_uprobe_multi(
        exe(),
        &UprobeMultiOpts {
            session: true,
            ..UprobeMultiOpts::pattern("corebpf_mt_*")
        },
    ));
    assert!(e.contains("trace_uprobe_session"), "{e}");
    let e = text(u.attach_uprobe_multi(
        exe(),
        &UprobeMultiOpts {
            cookies: vec![1],
            ..UprobeMultiOpts::pattern("corebpf_mt_*")
        },
    ));
    assert!(e.contains("not a pattern"), "{e}");
    let e = text(u.attach_uprobe_multi(
        exe(),
        &UprobeMultiOpts {
            cookies: vec![1, 2],
            ..UprobeMultiOpts::symbols(["corebpf_mt_00"])
        },
    ));
    assert!(e.contains("2 cookies for 1 probes"), "{e}");
    let e = text(u.attach_uprobe_multi(exe(), &UprobeMultiOpts::pattern("corebpf_nothing_*")));
    assert!(
        e.contains("no function symbol matches 'corebpf_nothing_*'"),
        "{e}"
    );
    let e = text(u.attach_uprobe_multi(
        exe(),
        &UprobeMultiOpts::symbols(["corebpf_mt_00", "nope_x"]),
    ));
    assert!(e.contains("no function symbol 'nope_x'"), "{e}");
    let e = text(k.attach_kprobe_multi(&KprobeMultiOpts {
        unique_match: true,
        ..KprobeMultiOpts::symbols(["a"])
    }));
    assert!(e.contains("unique_match needs a pattern"), "{e}");
}
