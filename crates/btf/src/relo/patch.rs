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
