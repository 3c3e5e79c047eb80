//! A disassembler printing instructions the way `bpftool prog dump xlated` (the kernel's
//! `print_bpf_insn`) does: `r1 = *(u32 *)(r6 + 0)`, `call bpf_map_lookup_elem#1`,
//! `if r0 == 0x0 goto pc+3`, `r1 = 0x0 ll`. Used by logs and `corebpf inspect --disasm`.

use std::fmt::Write as _;

use crate::helpers::helper_name;
use crate::insn::{alu, class, jmp, mode, pseudo, size, src, Insn};

fn alu_op(op: u8, signed: bool) -> &'static str {
    match op {
        alu::ADD => "+=",
        alu::SUB => "-=",
        alu::MUL => "*=",
        alu::DIV if signed => "s/=",
        alu::DIV => "/=",
        alu::OR => "|=",
        alu::AND => "&=",
        alu::LSH => "<<=",
        alu::RSH => ">>=",
        alu::MOD if signed => "s%=",
        alu::MOD => "%=",
        alu::XOR => "^=",
        alu::MOV => "=",
        alu::ARSH => "s>>=",
        _ => "?=",
    }
}

fn jmp_op(op: u8) -> &'static str {
    match op {
        jmp::JEQ => "==",
        jmp::JGT => ">",
        jmp::JGE => ">=",
        jmp::JSET => "&",
        jmp::JNE => "!=",
        jmp::JSGT => "s>",
        jmp::JSGE => "s>=",
        jmp::JLT => "<",
        jmp::JLE => "<=",
        jmp::JSLT => "s<",
        jmp::JSLE => "s<=",
        _ => "?",
    }
}

fn size_name(i: &Insn, signed: bool) -> &'static str {
    match (i.size(), signed) {
        (size::W, false) => "u32",
        (size::H, false) => "u16",
        (size::B, false) => "u8",
        (size::DW, false) => "u64",
        (size::W, true) => "s32",
        (size::H, true) => "s16",
        (size::B, true) => "s8",
        _ => "s64",
    }
}

/// `(r6 + 0)`, `(r10 - 8)`.
fn mem(reg: u8, off: i16) -> String {
    if off < 0 {
        format!("(r{reg} - {})", -(off as i32))
    } else {
        format!("(r{reg} + {off})")
    }
}

fn pc(off: i64) -> String {
    format!("pc{off:+}")
}

/// Disassembles the instruction at `idx` of `insns`. Returns the text and the number of
/// slots it used (2 for `LD_IMM64`, else 1). `idx` past the end gives `("", 1)`.
pub fn disasm_insn(insns: &[Insn], idx: usize) -> (String, usize) {
    let Some(i) = insns.get(idx) else {
        return (String::new(), 1);
    };
    let (d, s) = (i.dst, i.src);
    let text = match i.class() {
        class::ALU | class::ALU64 => alu_insn(i),
        class::STX if i.mode() == mode::MEM => {
            format!("*({} *){} = r{s}", size_name(i, false), mem(d, i.off))
        }
        class::STX if i.mode() == mode::ATOMIC => atomic_insn(i),
        class::ST if i.mode() == mode::MEM => {
            format!("*({} *){} = {}", size_name(i, false), mem(d, i.off), i.imm)
        }
        class::LDX if i.mode() == mode::MEM || i.mode() == mode::MEMSX => format!(
            "r{d} = *({} *){}",
            size_name(i, i.mode() == mode::MEMSX),
            mem(s, i.off)
        ),
        class::LD if i.mode() == mode::ABS => {
            format!("r0 = *({} *)skb[{}]", size_name(i, false), i.imm)
        }
        class::LD if i.mode() == mode::IND => {
            format!("r0 = *({} *)skb[r{s} + {}]", size_name(i, false), i.imm)
        }
        class::LD if i.is_ldimm64() => {
            let hi = insns.get(idx + 1).map_or(0, |n| n.imm);
            return (ldimm64_insn(i, hi), 2);
        }
        class::JMP | class::JMP32 => jmp_insn(i),
        _ => format!("unknown opcode {:#04x}", i.code),
    };
    (text, 1)
}

/// ALU and ALU64: `r0 += r1`, `w2 <<= 3`, byte swaps, negation, sign-extending moves.
fn alu_insn(i: &Insn) -> String {
    let (d, s) = (i.dst, i.src);
    let r = if i.class() == class::ALU64 { 'r' } else { 'w' };
    match i.op() {
        alu::END => {
            let kind = match (i.class(), i.src_kind()) {
                (class::ALU64, _) => "bswap",
                (_, src::X) => "be",
                _ => "le",
            };
            format!("r{d} = {kind}{} r{d}", i.imm)
        }
        alu::NEG => format!("{r}{d} = -{r}{d}"),
        alu::MOV if i.src_kind() == src::X && i.off != 0 => {
            format!("{r}{d} = (s{}){r}{s}", i.off)
        }
        op if i.src_kind() == src::X => {
            format!("{r}{d} {} {r}{s}", alu_op(op, i.off == 1))
        }
        op => format!("{r}{d} {} {}", alu_op(op, i.off == 1), i.imm),
    }
}

/// Atomic STX: `lock *(u64 *)(r1 + 0) += r2`, `r2 = atomic64_fetch_add(...)`, xchg, cmpxchg.
fn atomic_insn(i: &Insn) -> String {
    let s = i.src;
    let w = if i.size() == size::DW { "64" } else { "" };
    let ptr = format!("({} *){}", size_name(i, false), mem(i.dst, i.off));
    let base = i.imm & !1;
    let fetch = i.imm & 1 != 0;
    match (base, fetch) {
        (0xe0, true) => format!("r{s} = atomic{w}_xchg({ptr}, r{s})"),
        (0xf0, true) => format!("r0 = atomic{w}_cmpxchg({ptr}, r0, r{s})"),
        (op, false) => format!("lock *{ptr} {} r{s}", alu_op(op as u8, false)),
        (op, true) => {
            let n = match op as u8 {
                alu::ADD => "add",
                alu::AND => "and",
                alu::OR => "or",
                alu::XOR => "xor",
                _ => "?",
            };
            format!("r{s} = atomic{w}_fetch_{n}({ptr}, r{s})")
        }
    }
}

/// `LD_IMM64` (`hi`: the second slot's `imm`): by its pseudo source a map, a map value, a
/// BTF id, a callback, else the 64-bit constant.
fn ldimm64_insn(i: &Insn, hi: i32) -> String {
    let d = i.dst;
    match i.src {
        pseudo::MAP_FD => format!("r{d} = map[fd:{}] ll", i.imm),
        pseudo::MAP_VALUE => format!("r{d} = map[fd:{}][0]+{} ll", i.imm, hi),
        pseudo::MAP_IDX => format!("r{d} = map[idx:{}] ll", i.imm),
        pseudo::MAP_IDX_VALUE => format!("r{d} = map[idx:{}][0]+{} ll", i.imm, hi),
        pseudo::BTF_ID => format!("r{d} = btf_id[{}] ll", i.imm),
        pseudo::FUNC => format!("r{d} = subprog[{}] ll", pc(i.imm as i64)),
        _ => {
            let v = (i.imm as u32 as u64) | ((hi as u32 as u64) << 32);
            format!("r{d} = {v:#x} ll")
        }
    }
}

/// JMP and JMP32: calls (BPF function, kfunc, helper), exit, gotos, conditional jumps.
fn jmp_insn(i: &Insn) -> String {
    let (d, s) = (i.dst, i.src);
    let r = if i.class() == class::JMP { 'r' } else { 'w' };
    match i.op() {
        jmp::CALL if i.class() == class::JMP => match s {
            pseudo::CALL => format!("call {}", pc(i.imm as i64)),
            pseudo::KFUNC_CALL => format!("call kfunc#{}", i.imm),
            _ => match helper_name(i.imm) {
                Some(n) => format!("call {n}#{}", i.imm),
                None => format!("call unknown#{}", i.imm),
            },
        },
        jmp::EXIT if i.class() == class::JMP => "exit".to_string(),
        jmp::JA if i.class() == class::JMP => format!("goto {}", pc(i.off as i64)),
        jmp::JA => format!("gotol {}", pc(i.imm as i64)),
        op if i.src_kind() == src::X => {
            format!("if {r}{d} {} {r}{s} goto {}", jmp_op(op), pc(i.off as i64))
        }
        op => format!(
            "if {r}{d} {} {:#x} goto {}",
            jmp_op(op),
            i.imm,
            pc(i.off as i64)
        ),
    }
}

/// Disassembles a whole program, one `NNNN: (code) text` line per instruction (as
/// `bpftool prog dump xlated` numbers them; `LD_IMM64` takes two slots).
pub fn disasm(insns: &[Insn]) -> String {
    let mut out = String::new();
    let mut idx = 0;
    while idx < insns.len() {
        let (text, n) = disasm_insn(insns, idx);
        let _ = writeln!(out, "{idx:4}: ({:02x}) {text}", insns[idx].code);
        idx += n;
    }
    out
}

/// Like [`disasm`], appending `  ; <note>` to instructions `note(idx)` describes (map
/// names, call targets).
pub fn disasm_annotated(insns: &[Insn], note: &dyn Fn(usize) -> Option<String>) -> String {
    let mut out = String::new();
    let mut idx = 0;
    while idx < insns.len() {
        let (text, n) = disasm_insn(insns, idx);
        let _ = write!(out, "{idx:4}: ({:02x}) {text}", insns[idx].code);
        if let Some(c) = note(idx) {
            let _ = write!(out, "  ; {c}");
        }
        out.push('\n');
        idx += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm;

    fn one(i: &[Insn]) -> String {
        disasm_insn(i, 0).0
    }

    #[test]
    fn formats_like_bpftool() {
        assert_eq!(
            one(&[asm::ldx_mem(size::W, 1, 6, 0)]),
            "r1 = *(u32 *)(r6 + 0)"
        );
        assert_eq!(
            one(&[asm::stx_mem(size::DW, 10, 1, -8)]),
            "*(u64 *)(r10 - 8) = r1"
        );
        assert_eq!(one(&[asm::call_helper(1)]), "call bpf_map_lookup_elem#1");
        assert_eq!(
            one(&[asm::jmp_imm(jmp::JEQ, 0, 0, 3)]),
            "if r0 == 0x0 goto pc+3"
        );
        assert_eq!(one(&asm::ld_imm64(1, 0)), "r1 = 0x0 ll");
        assert_eq!(one(&asm::ld_map_fd(1, 7)), "r1 = map[fd:7] ll");
        assert_eq!(one(&[asm::mov64_imm(0, 42)]), "r0 = 42");
        assert_eq!(one(&[asm::alu64_reg(alu::ADD, 0, 1)]), "r0 += r1");
        assert_eq!(one(&[asm::alu32_imm(alu::LSH, 2, 3)]), "w2 <<= 3");
        assert_eq!(one(&[asm::exit()]), "exit");
        assert_eq!(one(&[Insn::new(0x85, 0, 1, 0, -1)]), "call pc-1");
        let prog = disasm(&[asm::mov64_imm(0, 0), asm::exit()]);
        assert_eq!(prog, "   0: (b7) r0 = 0\n   1: (95) exit\n");
    }
}
