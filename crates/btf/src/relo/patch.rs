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
    let mut p = Patcher {
        insns,
        idx,
        prog,
        relo_idx,
        res,
        log,
    };
    if res.poison {
        p.poison();
        return Ok(());
    }
    match insn.class() {
        class::ALU | class::ALU64 => p.alu(insn),
        class::LDX | class::ST | class::STX => p.mem(insn),
        class::LD => p.ldimm64(insn),
        _ => Err(ReloError::UnexpectedInsn {
            insn: idx,
            reason: format!(
                "trying to relocate unrecognized insn, code:{:#x}, src:{:#x}, dst:{:#x}, off:{:#x}, imm:{:#x}",
                insn.code,
                insn.src,
                insn.dst,
                insn.off,
                insn.imm
            ),
        }),
    }
}

/// One instruction being patched with one relocation's result.
struct Patcher<'a> {
    insns: &'a mut [Insn],
    idx: usize,
    prog: &'a str,
    relo_idx: usize,
    res: &'a Resolution,
    log: &'a mut dyn FnMut(String),
}

impl Patcher<'_> {
    /// Logs `what` after libbpf's `prog '...': relo #N: ` prefix.
    fn log(&mut self, what: std::fmt::Arguments<'_>) {
        (self.log)(format!(
            "prog '{}': relo #{}: {what}",
            self.prog, self.relo_idx
        ));
    }

    fn poison(&mut self) {
        poison(self.insns, self.idx, self.prog, self.relo_idx, self.log);
    }

    /// The instruction holds `got` (printed as `shown`) where the local BTF says
    /// `orig_val`.
    fn check(
        &self,
        class: &str,
        got: u64,
        shown: impl FnOnce() -> String,
    ) -> Result<(), ReloError> {
        if self.res.validate && got != self.res.orig_val {
            return Err(ReloError::UnexpectedValue {
                insn: self.idx,
                class: class.to_string(),
                got: shown(),
                expected: self.res.orig_val,
                new: self.res.new_val,
            });
        }
        Ok(())
    }

    /// An ALU/ALU64 instruction with an immediate: the immediate becomes the value.
    fn alu(&mut self, insn: Insn) -> Result<(), ReloError> {
        let (idx, new_val) = (self.idx, self.res.new_val);
        if insn.src_kind() != src::K {
            return Err(ReloError::UnexpectedInsn {
                insn: idx,
                reason: "ALU instruction with a register source".into(),
            });
        }
        let got = insn.imm as i64 as u64;
        self.check("ALU/ALU64", got, || insn.imm.to_string())?;
        self.insns[idx].imm = new_val as i32;
        self.log(format_args!(
            "patched insn #{idx} (ALU/ALU64) imm {got} -> {new_val}"
        ));
        Ok(())
    }

    /// A load or store: the offset becomes the value, and the access size follows the
    /// field's size when that changed (or the instruction is poisoned when it can't).
    fn mem(&mut self, insn: Insn) -> Result<(), ReloError> {
        let (idx, new_val) = (self.idx, self.res.new_val);
        let got = insn.off as i64 as u64;
        self.check("LDX/ST/STX", got, || insn.off.to_string())?;
        if new_val > i16::MAX as u64 {
            return Err(ReloError::ValueTooBig {
                insn: idx,
                value: new_val,
            });
        }
        if self.res.fail_memsz_adjust {
            self.log(format_args!(
                "insn #{idx} (LDX/ST/STX) accesses field incorrectly. Make sure you are accessing pointers, unsigned integers, or fields of matching type and size."
            ));
            self.poison();
            return Ok(());
        }
        self.insns[idx].off = new_val as i16;
        self.log(format_args!(
            "patched insn #{idx} (LDX/ST/STX) off {got} -> {new_val}"
        ));
        if self.res.new_sz != self.res.orig_sz {
            self.mem_size(insn)?;
        }
        Ok(())
    }

    /// Changes a load/store's access size from the local field's to the target's.
    fn mem_size(&mut self, insn: Insn) -> Result<(), ReloError> {
        let (idx, orig_sz, new_sz) = (self.idx, self.res.orig_sz, self.res.new_sz);
        let have = insn.size_bytes();
        if have != orig_sz {
            return Err(ReloError::UnexpectedInsn {
                insn: idx,
                reason: format!("(LDX/ST/STX) unexpected mem size: got {have}, exp {orig_sz}"),
            });
        }
        let bits = size_bits(new_sz).ok_or_else(|| ReloError::UnexpectedInsn {
            insn: idx,
            reason: format!("(LDX/ST/STX) invalid new mem size: {new_sz}"),
        })?;
        self.insns[idx].code = (insn.code & !0x18) | bits;
        self.log(format_args!(
            "patched insn #{idx} (LDX/ST/STX) mem_sz {orig_sz} -> {new_sz}"
        ));
        Ok(())
    }

    /// A 64-bit immediate load (two instruction slots): the immediate becomes the value.
    fn ldimm64(&mut self, insn: Insn) -> Result<(), ReloError> {
        let (idx, new_val) = (self.idx, self.res.new_val);
        let next = self.insns.get(idx + 1).copied();
        let well_formed = insn.is_ldimm64()
            && insn.src == 0
            && insn.off == 0
            && next.is_some_and(|n| n.code == 0 && n.dst == 0 && n.src == 0 && n.off == 0);
        let Some(next) = next.filter(|_| well_formed) else {
            return Err(ReloError::UnexpectedInsn {
                insn: idx,
                reason: "(LDIMM64) has unexpected form".into(),
            });
        };
        let got = insn.imm as u32 as u64 | (next.imm as u32 as u64) << 32;
        self.check("LDIMM64", got, || got.to_string())?;
        self.insns[idx].imm = new_val as i32;
        self.insns[idx + 1].imm = (new_val >> 32) as i32;
        self.log(format_args!(
            "patched insn #{idx} (LDIMM64) imm64 {got} -> {new_val}"
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALU64_MOV_K: u8 = 0xb7;
    const ALU64_MOV_X: u8 = 0xbf;
    const LDX_W: u8 = 0x61;
    const LDX_B: u8 = 0x71;
    const LDX_DW: u8 = 0x79;
    const JA: u8 = 0x05;
    const LD_IMM64: u8 = 0x18;

    fn insn(code: u8, off: i16, imm: i32) -> Insn {
        Insn::new(code, 1, 2, off, imm)
    }

    fn res(orig_val: u64, new_val: u64) -> Resolution {
        Resolution {
            orig_val,
            new_val,
            validate: true,
            ..Resolution::default()
        }
    }

    /// Patches `insns[idx]` as relocation #2 of prog `p`: the outcome and the log lines.
    fn patch(insns: &mut [Insn], idx: usize, r: &Resolution) -> (Result<(), String>, Vec<String>) {
        let mut lines = Vec::new();
        let out = patch_insn(insns, idx, "p", 2, r, &mut |l| lines.push(l));
        (out.map_err(|e| e.to_string()), lines)
    }

    fn poisoned() -> Insn {
        Insn::call(POISON_HELPER)
    }

    #[test]
    fn alu_immediate_is_patched() {
        let mut insns = [insn(ALU64_MOV_K, 0, 8)];
        let (out, log) = patch(&mut insns, 0, &res(8, 16));
        assert_eq!(out, Ok(()));
        assert_eq!(insns[0], insn(ALU64_MOV_K, 0, 16));
        assert_eq!(
            log,
            ["prog 'p': relo #2: patched insn #0 (ALU/ALU64) imm 8 -> 16"]
        );
    }

    #[test]
    fn alu_errors() {
        let mut insns = [insn(ALU64_MOV_X, 0, 8)];
        let (out, _) = patch(&mut insns, 0, &res(8, 16));
        assert_eq!(
            out,
            Err("insn #0: ALU instruction with a register source".into())
        );
        let mut insns = [insn(ALU64_MOV_K, 0, 7)];
        let (out, log) = patch(&mut insns, 0, &res(8, 16));
        assert_eq!(
            out,
            Err("unexpected insn #0 (ALU/ALU64) value: got 7, exp 8 -> 16".into())
        );
        assert!(log.is_empty());
        assert_eq!(insns[0].imm, 7, "left alone");
    }

    #[test]
    fn load_offset_and_size_are_patched() {
        let mut insns = [insn(JA, 0, 0), insn(LDX_W, 8, 0)];
        let r = Resolution {
            orig_sz: 4,
            new_sz: 8,
            ..res(8, 16)
        };
        let (out, log) = patch(&mut insns, 1, &r);
        assert_eq!(out, Ok(()));
        assert_eq!(insns[1], insn(LDX_DW, 16, 0));
        assert_eq!(
            log,
            [
                "prog 'p': relo #2: patched insn #1 (LDX/ST/STX) off 8 -> 16",
                "prog 'p': relo #2: patched insn #1 (LDX/ST/STX) mem_sz 4 -> 8",
            ]
        );
    }

    #[test]
    fn load_errors() {
        let sized = Resolution {
            orig_sz: 4,
            new_sz: 8,
            ..res(8, 16)
        };
        let mut insns = [insn(LDX_B, 8, 0)];
        let (out, _) = patch(&mut insns, 0, &sized);
        assert_eq!(
            out,
            Err("insn #0: (LDX/ST/STX) unexpected mem size: got 1, exp 4".into())
        );
        let bad_size = Resolution {
            orig_sz: 4,
            new_sz: 3,
            ..res(8, 16)
        };
        let (out, _) = patch(&mut [insn(LDX_W, 8, 0)], 0, &bad_size);
        assert_eq!(
            out,
            Err("insn #0: (LDX/ST/STX) invalid new mem size: 3".into())
        );
        let (out, _) = patch(&mut [insn(LDX_W, 8, 0)], 0, &res(8, 40_000));
        assert_eq!(out, Err("insn #0 (LDX/ST/STX) value too big: 40000".into()));
        let (out, _) = patch(&mut [insn(LDX_W, -8, 0)], 0, &res(8, 16));
        assert_eq!(
            out,
            Err("unexpected insn #0 (LDX/ST/STX) value: got -8, exp 8 -> 16".into())
        );
    }

    #[test]
    fn wrongly_sized_load_is_poisoned() {
        let mut insns = [insn(LDX_W, 8, 0)];
        let r = Resolution {
            fail_memsz_adjust: true,
            ..res(8, 16)
        };
        let (out, log) = patch(&mut insns, 0, &r);
        assert_eq!(out, Ok(()));
        assert_eq!(insns[0], poisoned());
        assert_eq!(
            log,
            [
                "prog 'p': relo #2: insn #0 (LDX/ST/STX) accesses field incorrectly. Make sure you are accessing pointers, unsigned integers, or fields of matching type and size.",
                "prog 'p': relo #2: substituting insn #0 w/ invalid insn",
            ]
        );
    }

    #[test]
    fn ldimm64_is_patched_in_both_halves() {
        let mut insns = [
            Insn::new(LD_IMM64, 1, 0, 0, 2),
            Insn {
                imm: 1,
                ..Insn::default()
            },
        ];
        let (out, log) = patch(&mut insns, 0, &res(0x1_0000_0002, 0x3_0000_0005));
        assert_eq!(out, Ok(()));
        assert_eq!((insns[0].imm, insns[1].imm), (5, 3));
        assert_eq!(
            log,
            ["prog 'p': relo #2: patched insn #0 (LDIMM64) imm64 4294967298 -> 12884901893"]
        );
        let (out, _) = patch(&mut insns[..1], 0, &res(5, 6));
        assert_eq!(out, Err("insn #0: (LDIMM64) has unexpected form".into()));
    }

    #[test]
    fn poison_covers_both_halves_of_ldimm64() {
        let mut insns = [insn(LD_IMM64, 0, 1), Insn::default()];
        let r = Resolution {
            poison: true,
            ..res(1, 0)
        };
        let (out, log) = patch(&mut insns, 0, &r);
        assert_eq!(out, Ok(()));
        assert_eq!(insns, [poisoned(), poisoned()]);
        assert_eq!(
            log,
            [
                "prog 'p': relo #2: substituting insn #1 w/ invalid insn",
                "prog 'p': relo #2: substituting insn #0 w/ invalid insn",
            ]
        );
        assert!(is_poison(&insns[0]));
    }

    #[test]
    fn out_of_range_and_unrecognized_insns_fail() {
        let (out, _) = patch(&mut [insn(JA, 0, 0)], 3, &res(0, 0));
        assert_eq!(
            out,
            Err("insn #3 is past the end of the function (1 insns)".into())
        );
        let (out, _) = patch(&mut [insn(JA, 4, -1)], 0, &res(0, 0));
        assert_eq!(
            out,
            Err("insn #0: trying to relocate unrecognized insn, code:0x5, src:0x2, dst:0x1, off:0x4, imm:0xffffffff".into())
        );
    }
}
