//! Patching one instruction with a relocation's result, libbpf's `bpf_core_patch_insn`,
//! including poisoning and the load/store size adjustment.

use super::calc::Resolution;
use super::ReloError;

/// The helper id a poisoned instruction calls (`0xbad2310`): the verifier reports
/// `invalid func unknown#195896080` if it is reachable.
pub const POISON_HELPER: i32 = 195_896_080;

/// A BPF instruction as the kernel lays it out (`struct bpf_insn`), for patching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawInsn {
    /// Opcode.
    pub code: u8,
    /// Destination register in the low nibble, source register in the high nibble.
    pub regs: u8,
    /// Signed offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

const CLASS_LD: u8 = 0x00;
const CLASS_LDX: u8 = 0x01;
const CLASS_ST: u8 = 0x02;
const CLASS_STX: u8 = 0x03;
const CLASS_ALU: u8 = 0x04;
const CLASS_ALU64: u8 = 0x07;
const LD_IMM64: u8 = 0x18;
const CALL: u8 = 0x85;

impl RawInsn {
    /// Decodes 8 little-endian bytes.
    pub fn from_bytes(b: [u8; 8]) -> RawInsn {
        RawInsn {
            code: b[0],
            regs: b[1],
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Encodes as 8 little-endian bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code, self.regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3],
        ]
    }

    fn class(self) -> u8 {
        self.code & 0x07
    }

    /// Whether this is a poisoned CO-RE instruction.
    pub fn is_poison(self) -> bool {
        self.code == CALL && self.imm == POISON_HELPER
    }
}

/// Bytes accessed by a load/store for its size bits.
fn mem_size(code: u8) -> u32 {
    match code & 0x18 {
        0x00 => 4,
        0x08 => 2,
        0x10 => 1,
        _ => 8,
    }
}

/// Size bits for a load/store of `bytes`.
fn size_bits(bytes: u32) -> Option<u8> {
    Some(match bytes {
        4 => 0x00,
        2 => 0x08,
        1 => 0x10,
        8 => 0x18,
        _ => return None,
    })
}

fn poison(
    insns: &mut [RawInsn],
    idx: usize,
    prog: &str,
    relo_idx: usize,
    log: &mut dyn FnMut(String),
) {
    // Poison the second half of an ldimm64 too, so the verifier doesn't report a
    // confusing "unknown opcode 00".
    let n = if insns[idx].code == LD_IMM64 && idx + 1 < insns.len() {
        2
    } else {
        1
    };
    for i in (idx..idx + n).rev() {
        log(format!(
            "prog '{prog}': relo #{relo_idx}: substituting insn #{i} w/ invalid insn"
        ));
        insns[i] = RawInsn {
            code: CALL,
            regs: 0,
            off: 0,
            imm: POISON_HELPER,
        };
    }
}

/// Patches instruction `idx` of `insns` (a function's instructions) with `res`, logging
/// each change in libbpf's words through `log`.
pub fn patch_insn(
    insns: &mut [RawInsn],
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
        CLASS_ALU | CLASS_ALU64 => p.alu(insn),
        CLASS_LDX | CLASS_ST | CLASS_STX => p.mem(insn),
        CLASS_LD => p.ldimm64(insn),
        _ => Err(ReloError::UnexpectedInsn {
            insn: idx,
            reason: format!(
                "trying to relocate unrecognized insn, code:{:#x}, src:{:#x}, dst:{:#x}, off:{:#x}, imm:{:#x}",
                insn.code,
                insn.regs >> 4,
                insn.regs & 0xf,
                insn.off,
                insn.imm
            ),
        }),
    }
}

/// One instruction being patched with one relocation's result.
struct Patcher<'a> {
    insns: &'a mut [RawInsn],
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
    fn alu(&mut self, insn: RawInsn) -> Result<(), ReloError> {
        let (idx, new_val) = (self.idx, self.res.new_val);
        if insn.code & 0x08 != 0 {
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
    fn mem(&mut self, insn: RawInsn) -> Result<(), ReloError> {
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
    fn mem_size(&mut self, insn: RawInsn) -> Result<(), ReloError> {
        let (idx, orig_sz, new_sz) = (self.idx, self.res.orig_sz, self.res.new_sz);
        let have = mem_size(insn.code);
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
    fn ldimm64(&mut self, insn: RawInsn) -> Result<(), ReloError> {
        let (idx, new_val) = (self.idx, self.res.new_val);
        let next = self.insns.get(idx + 1).copied();
        let well_formed = insn.code == LD_IMM64
            && insn.regs >> 4 == 0
            && insn.off == 0
            && next.is_some_and(|n| n.code == 0 && n.regs == 0 && n.off == 0);
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

    fn insn(code: u8, off: i16, imm: i32) -> RawInsn {
        RawInsn {
            code,
            regs: 0x21,
            off,
            imm,
        }
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
    fn patch(
        insns: &mut [RawInsn],
        idx: usize,
        r: &Resolution,
    ) -> (Result<(), String>, Vec<String>) {
        let mut lines = Vec::new();
        let out = patch_insn(insns, idx, "p", 2, r, &mut |l| lines.push(l));
        (out.map_err(|e| e.to_string()), lines)
    }

    fn poisoned() -> RawInsn {
        RawInsn {
            code: CALL,
            regs: 0,
            off: 0,
            imm: POISON_HELPER,
        }
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
            RawInsn {
                code: LD_IMM64,
                regs: 0x01,
                off: 0,
                imm: 2,
            },
            RawInsn {
                imm: 1,
                ..RawInsn::default()
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
        let mut insns = [insn(LD_IMM64, 0, 1), RawInsn::default()];
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
        assert!(insns[0].is_poison());
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
