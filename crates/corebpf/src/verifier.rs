//! Turning a verifier log into an explanation: the verifier's message, the rejected
//! instruction, its C source line (from `.BTF.ext` line info), and, for an instruction that
//! CO-RE poisoned, which relocation failed and why.

use corebpf_btf::relo::POISON_HELPER;
use corebpf_btf::{Btf, LineInfo};
use corebpf_obj::core_relo::CoreOutcome;
use corebpf_obj::{LinkedProgram, ObjectSpec, POISON_CALL_KFUNC_BASE};

/// Lines the verifier prints after its verdict, which are not the reason.
fn is_trailer(l: &str) -> bool {
    l.is_empty()
        || l.starts_with("processed ")
        || l.starts_with("verification time")
        || l.starts_with("stack depth")
        || l.starts_with("max_states_per_insn")
        || l.starts_with("peak_states")
        || l.starts_with("mark_read")
}

/// Whether a log line is an instruction the verifier walked (`N: (op) ...`).
fn insn_line(l: &str) -> Option<usize> {
    let (n, rest) = l.split_once(": (")?;
    n.trim().parse().ok().filter(|_| !rest.is_empty())
}

/// The verifier's verdict: what it printed after the last instruction it walked (the
/// reason, then any hint such as "R0 min value is outside of the allowed memory range"),
/// without the statistics trailer.
pub fn message(log: &str) -> String {
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    let start = lines
        .iter()
        .rposition(|l| insn_line(l).is_some())
        .map_or(0, |i| i + 1);
    let verdict: Vec<&str> = lines[start..]
        .iter()
        .copied()
        .filter(|l| !is_trailer(l) && !l.starts_with(';'))
        .collect();
    if verdict.is_empty() {
        lines
            .iter()
            .rev()
            .find(|l| !is_trailer(l))
            .copied()
            .unwrap_or("")
            .to_string()
    } else {
        verdict.join(": ")
    }
}

/// The index of the last instruction the verifier printed (`N: (op) ...`), i.e. where it
/// stopped.
pub fn failing_insn(log: &str) -> Option<usize> {
    log.lines().rev().find_map(insn_line)
}

/// `file:line: source` for instruction `insn` from the program's line info.
pub fn source_line(btf: &Btf, line_info: &[LineInfo], insn: usize) -> Option<String> {
    let li = line_info
        .iter()
        .filter(|l| l.insn_off as usize <= insn)
        .max_by_key(|l| l.insn_off)?;
    let file = btf.str_at(li.file_name_off).ok()?;
    let text = btf.str_at(li.line_off).ok()?.trim();
    let file = file.rsplit('/').next().unwrap_or(file);
    Some(format!("{file}:{}: {text}", li.line()))
}

/// For a rejected poisoned instruction, what CO-RE (or a missing weak kfunc) did there.
pub fn explain_poison(
    spec: &ObjectSpec,
    linked: &LinkedProgram,
    outcomes: &[CoreOutcome],
    insn: usize,
    message: &str,
) -> Option<String> {
    let call = linked.insns.get(insn)?;
    let placement = linked.layout.iter().rev().find(|p| p.start <= insn)?;
    let function = &spec.functions.get(placement.function)?.name;
    let local = insn - placement.start;
    if call.imm == POISON_HELPER || message.contains(&POISON_HELPER.to_string()) {
        let o = outcomes.iter().find(|o| {
            o.poisoned
                && &o.function == function
                && (o.insn_idx == local || o.insn_idx + 1 == local)
        })?;
        return Some(format!(
            "insn #{insn} was poisoned by CO-RE relocation #{} of section '{}' in function '{function}': \
             failed to resolve CO-RE relocation {}: no type in the target kernel's BTF matches it \
             (guard the access with bpf_core_field_exists()/bpf_core_type_exists(), or check the object was \
             built against the right vmlinux.h)",
            o.relo_idx, o.section, o.local_spec
        ));
    }
    if call.imm >= POISON_CALL_KFUNC_BASE {
        let ext = spec
            .externs
            .get((call.imm - POISON_CALL_KFUNC_BASE) as usize)?;
        return Some(format!(
            "insn #{insn} calls the __weak kfunc '{}' which this kernel does not have (guard the call with bpf_ksym_exists())",
            ext.name
        ));
    }
    None
}

/// For a call the verifier refused as `invalid func unknown#N` (a helper id this kernel does
/// not know: the helper is newer than the kernel) or `unknown func bpf_x#N` (a helper this
/// program type may not call), which helper it is and what that means.
pub fn explain_helper(message: &str, prog_type: corebpf_sys::ProgType) -> Option<String> {
    let number_after = |pat: &str| -> Option<i32> {
        let rest = &message[message.find(pat)? + pat.len()..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    };
    if let Some(id) = number_after("invalid func unknown#") {
        let name = corebpf_obj::helpers::helper_name(id)?;
        return Some(format!(
            "the program calls helper {name} (#{id}), which this kernel ({}) does not have: it needs a newer kernel",
            crate::kernel::release()
        ));
    }
    let (_, rest) = message.split_once("unknown func ")?;
    let (name, id) = rest.split_once('#')?;
    let id: String = id.chars().take_while(char::is_ascii_digit).collect();
    Some(format!(
        "helper {name} (#{id}) is not available to {} programs on this kernel",
        prog_type.name()
    ))
}

/// The Linux release that introduced a program type (for errors on older kernels).
pub fn prog_type_since(t: corebpf_sys::ProgType) -> &'static str {
    use corebpf_sys::ProgType::*;
    match t {
        Unspec | SocketFilter => "3.19",
        Kprobe | SchedCls | SchedAct => "4.1",
        Tracepoint => "4.7",
        Xdp => "4.8",
        PerfEvent => "4.9",
        CgroupSkb | CgroupSock | LwtIn | LwtOut | LwtXmit => "4.10",
        SockOps => "4.13",
        SkSkb => "4.14",
        CgroupDevice => "4.15",
        SkMsg | RawTracepoint | CgroupSockAddr => "4.17",
        LwtSeg6local | LircMode2 => "4.18",
        SkReuseport => "4.19",
        FlowDissector => "4.20",
        CgroupSysctl | RawTracepointWritable => "5.2",
        CgroupSockopt => "5.3",
        Tracing => "5.5",
        StructOps | Ext => "5.6",
        Lsm => "5.7",
        SkLookup => "5.9",
        Syscall => "5.14",
        Netfilter => "6.4",
    }
}

/// The Linux release that introduced an attach type (for errors on older kernels), or
/// `None` for the multi tracing types of bpf.h newer than libbpf 1.7 (no SEC name uses them).
pub fn attach_type_since(t: corebpf_sys::AttachType) -> Option<&'static str> {
    use corebpf_sys::AttachType::*;
    Some(match t {
        CgroupInetIngress | CgroupInetEgress | CgroupInetSockCreate => "4.10",
        CgroupSockOps => "4.13",
        SkSkbStreamParser | SkSkbStreamVerdict => "4.14",
        CgroupDevice => "4.15",
        SkMsgVerdict | CgroupInet4Bind | CgroupInet6Bind | CgroupInet4Connect
        | CgroupInet6Connect | CgroupInet4PostBind | CgroupInet6PostBind => "4.17",
        CgroupUdp4Sendmsg | CgroupUdp6Sendmsg | LircMode2 => "4.18",
        FlowDissector => "4.20",
        CgroupSysctl | CgroupUdp4Recvmsg | CgroupUdp6Recvmsg => "5.2",
        CgroupGetsockopt | CgroupSetsockopt => "5.3",
        TraceRawTp | TraceFentry | TraceFexit => "5.5",
        ModifyReturn | LsmMac => "5.7",
        TraceIter
        | CgroupInet4Getpeername
        | CgroupInet6Getpeername
        | CgroupInet4Getsockname
        | CgroupInet6Getsockname
        | XdpDevmap => "5.8",
        CgroupInetSockRelease | XdpCpumap | SkLookup | Xdp => "5.9",
        SkSkbVerdict => "5.13",
        SkReuseportSelect | SkReuseportSelectOrMigrate => "5.14",
        PerfEvent => "5.15",
        TraceKprobeMulti => "5.18",
        LsmCgroup => "6.0",
        StructOps | Netfilter => "6.4",
        TcxIngress | TcxEgress | TraceUprobeMulti => "6.6",
        CgroupUnixConnect
        | CgroupUnixSendmsg
        | CgroupUnixRecvmsg
        | CgroupUnixGetpeername
        | CgroupUnixGetsockname
        | NetkitPrimary
        | NetkitPeer => "6.7",
        TraceKprobeSession => "6.10",
        TraceUprobeSession => "6.13",
        TraceFsession => "7.0",
        TraceFentryMulti | TraceFexitMulti | TraceFsessionMulti => return None,
    })
}

/// Whether the running kernel's release is older than `since` (`"6.13"`); false when the
/// release cannot be read.
pub fn kernel_older_than(since: &str) -> bool {
    match (
        crate::kernel::release_version(),
        corebpf_obj::parse_kernel_release(since),
    ) {
        (Some(running), Some(since)) => running < since,
        _ => false,
    }
}

/// The Linux release that introduced a map type (for errors on older kernels).
pub fn map_type_since(t: corebpf_sys::MapType) -> &'static str {
    use corebpf_sys::MapType::*;
    match t {
        Unspec | Hash | Array => "3.19",
        ProgArray => "4.2",
        PerfEventArray => "4.3",
        PercpuHash | PercpuArray | StackTrace => "4.6",
        CgroupArray => "4.8",
        LruHash | LruPercpuHash => "4.10",
        LpmTrie => "4.11",
        ArrayOfMaps | HashOfMaps => "4.12",
        Devmap | Sockmap => "4.14",
        Cpumap => "4.15",
        Xskmap | Sockhash => "4.18",
        CgroupStorage | ReuseportSockarray => "4.19",
        PercpuCgroupStorage | Queue | Stack => "4.20",
        SkStorage => "5.2",
        DevmapHash => "5.4",
        StructOps => "5.6",
        RingBuf => "5.8",
        InodeStorage => "5.10",
        TaskStorage => "5.11",
        BloomFilter => "5.16",
        UserRingBuf => "6.1",
        CgrpStorage => "6.2",
        Arena => "6.9",
    }
}

/// For a program that passes a callback (an `LD_IMM64` of a function, `BPF_PSEUDO_FUNC`:
/// `bpf_loop`, `bpf_for_each_map_elem`, timers) to a kernel before 5.13, which does not know
/// such references: it then finds fewer subprograms than `func_info` lists (or, without
/// BTF, an invalid `LD_IMM64`), and says only that.
pub fn explain_callback(linked: &LinkedProgram, message: &str) -> Option<String> {
    let symptoms = [
        "number of funcs in func_info doesn't match number of subprogs",
        "invalid bpf_ld_imm64 insn",
    ];
    if !symptoms.iter().any(|s| message.contains(s)) {
        return None;
    }
    let i = linked.insns.iter().position(|i| i.is_pseudo_func())?;
    Some(format!(
        "insn #{i} passes a callback function (BPF_PSEUDO_FUNC, as bpf_loop, bpf_for_each_map_elem and timers need), which kernels before 5.13 do not support"
    ))
}
