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
