//! Patching one instruction with a relocation's result, libbpf's `bpf_core_patch_insn`,
//! including poisoning and the load/store size adjustment.

use corebpf_abi::insn::{class, size, src, Insn};

use super::calc::Resolution;
use super::ReloError;

/// The helper id a poisoned instruction calls (`0xbad2310`): the verifier reports
/// `invalid func unknown#195896080` if it is reachable.
pub const POISON_HELPER: i32 = 195_896_080;

/// Whether `insn` is a poisoned CO-RE instruction (a call of [`POISON_HELPER`]).
pub fn is_poison(insn: &Insn) -> bool {
    insn.is_call() && insn.imm == POISON_HELPER
}

/// Size bits for a load/store of `bytes`.
fn size_bits(bytes: u32) -> Option<u8> {
    Some(match bytes {
        4 => size::W,
        2 => size::H,
        1 => size::B,
        8 => size::DW,
        _ => return None,
    })
}

fn poison(
    insns: &mut [Insn],
    idx: usize,
    prog: &str,
    relo_idx: usize,
    log: &mut dyn FnMut(String),
) {
    // Poison the second half of an ldimm64 too, so the verifier doesn't report a
    // confusing "unknown opcode 00".
    let n = if insns[idx].is_ldimm64() && idx + 1 < insns.len() {
        2
    } else {
        1
    };
    for i in (idx..idx + n).rev() {
        log(format!(
            "prog '{prog}': relo #{relo_idx}: substituting insn #{i} w/ invalid insn"
        ));
        insns[i] = Insn::call(POISON_HELPER);
    }
}

/// Patches instruction `idx` of `insns` (a function's instructions) with `res`, logging
/// each change in libbpf's words through `log`.
pub fn patch_insn(
    insns: &mut [Insn],
    idx: usize,
    prog: &str,
    relo_idx: usize,
    res: &Resolution,
    log: &mut dyn FnMut(String),
) -> Result<(), ReloError> {
    let insn = *insns.get(idx).ok_or(ReloError::InsnOutOfRange {
        insn: idx,
        len: insns.len(),
    })?;
    if res.poison {
        poison(insns, idx, prog, relo_idx, log);
        return Ok(());
    }
    let (orig_val, new_val) = (res.orig_val, res.new_val);
    let unexpected = |what: &str, got: String| ReloError::UnexpectedValue {
        insn: idx,
        class: what.to_string(),
        got,
        expected: orig_val,
        new: new_val,
    };
    match insn.class() {
        class::ALU | class::ALU64 => {
            if insn.src_kind() != src::K {
                return Err(ReloError::UnexpectedInsn { insn: idx, reason: "ALU instruction with a register source".into() });
            }
            let got = insn.imm as i64 as u64;
            if res.validate && got != orig_val {
                return Err(unexpected("ALU/ALU64", insn.imm.to_string()));
            }
            insns[idx].imm = new_val as i32;
            log(format!(
                "prog '{prog}': relo #{relo_idx}: patched insn #{idx} (ALU/ALU64) imm {got} -> {new_val}"
            ));
        }
        class::LDX | class::ST | class::STX => {
            let got = insn.off as i64 as u64;
            if res.validate && got != orig_val {
                return Err(unexpected("LDX/ST/STX", insn.off.to_string()));
            }
            if new_val > i16::MAX as u64 {
                return Err(ReloError::ValueTooBig { insn: idx, value: new_val });
            }
            if res.fail_memsz_adjust {
                log(format!(
                    "prog '{prog}': relo #{relo_idx}: insn #{idx} (LDX/ST/STX) accesses field incorrectly. Make sure you are accessing pointers, unsigned integers, or fields of matching type and size."
                ));
                poison(insns, idx, prog, relo_idx, log);
                return Ok(());
            }
            insns[idx].off = new_val as i16;
            log(format!(
                "prog '{prog}': relo #{relo_idx}: patched insn #{idx} (LDX/ST/STX) off {got} -> {new_val}"
            ));
            if res.new_sz != res.orig_sz {
                let have = insn.size_bytes();
                if have != res.orig_sz {
                    return Err(ReloError::UnexpectedInsn {
                        insn: idx,
                        reason: format!("(LDX/ST/STX) unexpected mem size: got {have}, exp {}", res.orig_sz),
                    });
                }
                let bits = size_bits(res.new_sz).ok_or_else(|| ReloError::UnexpectedInsn {
                    insn: idx,
                    reason: format!("(LDX/ST/STX) invalid new mem size: {}", res.new_sz),
                })?;
                insns[idx].code = (insn.code & !0x18) | bits;
                log(format!(
                    "prog '{prog}': relo #{relo_idx}: patched insn #{idx} (LDX/ST/STX) mem_sz {} -> {}",
                    res.orig_sz, res.new_sz
                ));
            }
        }
        class::LD => {
            let next = insns.get(idx + 1).copied();
            let well_formed = insn.is_ldimm64()
                && insn.src == 0
                && insn.off == 0
                && next.is_some_and(|n| n.code == 0 && n.dst == 0 && n.src == 0 && n.off == 0);
            let Some(next) = next.filter(|_| well_formed) else {
                return Err(ReloError::UnexpectedInsn { insn: idx, reason: "(LDIMM64) has unexpected form".into() });
            };
            let got = insn.imm as u32 as u64 | (next.imm as u32 as u64) << 32;
            if res.validate && got != orig_val {
                return Err(unexpected("LDIMM64", got.to_string()));
            }
            insns[idx].imm = new_val as i32;
            insns[idx + 1].imm = (new_val >> 32) as i32;
            log(format!(
                "prog '{prog}': relo #{relo_idx}: patched insn #{idx} (LDIMM64) imm64 {got} -> {new_val}"
            ));
        }
        _ => {
            return Err(ReloError::UnexpectedInsn {
                insn: idx,
                reason: format!(
                    "trying to relocate unrecognized insn, code:{:#x}, src:{:#x}, dst:{:#x}, off:{:#x}, imm:{:#x}",
                    insn.code,
                    insn.src,
                    insn.dst,
                    insn.off,
                    insn.imm
                ),
            })
        }
    }
    Ok(())
}
