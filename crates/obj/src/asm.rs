//! A small instruction builder for hand-assembled programs (feature probes, the "add 42"
//! example, tests), named like the kernel's `BPF_*` macros in `filter.h`.
//!
//! ```
//! use corebpf_obj::asm;
//! use corebpf_obj::insn::alu;
//! // return ctx_arg + 42
//! let prog = [asm::mov64_reg(0, 1), asm::alu64_imm(alu::ADD, 0, 42), asm::exit()];
//! assert_eq!(corebpf_obj::disasm::disasm(&prog).lines().count(), 3);
//! ```

use crate::insn::{alu as op, class, jmp, mode, pseudo, size, src, Insn};

/// `BPF_MOV64_IMM`: `dst = imm`.
pub const fn mov64_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(class::ALU64 | op::MOV | src::K, dst, 0, 0, imm)
}

/// `BPF_MOV64_REG`: `dst = src`.
pub const fn mov64_reg(dst: u8, src_reg: u8) -> Insn {
    Insn::new(class::ALU64 | op::MOV | src::X, dst, src_reg, 0, 0)
}

/// `BPF_MOV32_IMM`: `w_dst = imm`.
pub const fn mov32_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(class::ALU | op::MOV | src::K, dst, 0, 0, imm)
}

/// `BPF_ALU64_IMM`: `dst op= imm` ([`crate::insn::alu`] operations).
pub const fn alu64_imm(alu_op: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(class::ALU64 | alu_op | src::K, dst, 0, 0, imm)
}

/// `BPF_ALU64_REG`: `dst op= src`.
pub const fn alu64_reg(alu_op: u8, dst: u8, src_reg: u8) -> Insn {
    Insn::new(class::ALU64 | alu_op | src::X, dst, src_reg, 0, 0)
}

/// `BPF_ALU32_IMM`: `w_dst op= imm`.
pub const fn alu32_imm(alu_op: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(class::ALU | alu_op | src::K, dst, 0, 0, imm)
}

/// `BPF_ALU32_REG`: `w_dst op= w_src`.
pub const fn alu32_reg(alu_op: u8, dst: u8, src_reg: u8) -> Insn {
    Insn::new(class::ALU | alu_op | src::X, dst, src_reg, 0, 0)
}

/// `BPF_LDX_MEM`: `dst = *(size *)(src + off)` ([`crate::insn::size`]).
pub const fn ldx_mem(sz: u8, dst: u8, src_reg: u8, off: i16) -> Insn {
    Insn::new(class::LDX | sz | mode::MEM, dst, src_reg, off, 0)
}

/// `BPF_STX_MEM`: `*(size *)(dst + off) = src`.
pub const fn stx_mem(sz: u8, dst: u8, src_reg: u8, off: i16) -> Insn {
    Insn::new(class::STX | sz | mode::MEM, dst, src_reg, off, 0)
}

/// `BPF_ST_MEM`: `*(size *)(dst + off) = imm`.
pub const fn st_mem(sz: u8, dst: u8, off: i16, imm: i32) -> Insn {
    Insn::new(class::ST | sz | mode::MEM, dst, 0, off, imm)
}

/// `BPF_JMP_IMM`: `if dst op imm goto pc+off` ([`crate::insn::jmp`] operations).
pub const fn jmp_imm(jmp_op: u8, dst: u8, imm: i32, off: i16) -> Insn {
    Insn::new(class::JMP | jmp_op | src::K, dst, 0, off, imm)
}

/// `BPF_JMP_REG`: `if dst op src goto pc+off`.
pub const fn jmp_reg(jmp_op: u8, dst: u8, src_reg: u8, off: i16) -> Insn {
    Insn::new(class::JMP | jmp_op | src::X, dst, src_reg, off, 0)
}

/// `BPF_JMP_A`: `goto pc+off`.
pub const fn ja(off: i16) -> Insn {
    Insn::new(class::JMP | jmp::JA, 0, 0, off, 0)
}

/// `BPF_EMIT_CALL`: call helper `id` (`BPF_FUNC_*`, see [`crate::helpers`]).
pub const fn call_helper(id: i32) -> Insn {
    Insn::new(class::JMP | jmp::CALL, 0, 0, 0, id)
}

/// A BPF-to-BPF call `pc+off` (`src_reg` `BPF_PSEUDO_CALL`).
pub const fn call_pseudo(off: i32) -> Insn {
    Insn::new(class::JMP | jmp::CALL, 0, pseudo::CALL, 0, off)
}

/// `BPF_EXIT_INSN`.
pub const fn exit() -> Insn {
    Insn::new(class::JMP | jmp::EXIT, 0, 0, 0, 0)
}

/// `BPF_LD_IMM64_RAW`: a two-slot 64-bit load with `src_reg` `pseudo`.
pub const fn ld_imm64_raw(dst: u8, pseudo_src: u8, imm: u64) -> [Insn; 2] {
    [
        Insn::new(
            class::LD | size::DW | mode::IMM,
            dst,
            pseudo_src,
            0,
            imm as u32 as i32,
        ),
        Insn::new(0, 0, 0, 0, (imm >> 32) as u32 as i32),
    ]
}

/// `BPF_LD_IMM64`: `dst = imm` (two slots).
pub const fn ld_imm64(dst: u8, imm: u64) -> [Insn; 2] {
    ld_imm64_raw(dst, 0, imm)
}

/// `BPF_LD_MAP_FD`: `dst = map fd` (two slots).
pub const fn ld_map_fd(dst: u8, fd: i32) -> [Insn; 2] {
    ld_imm64_raw(dst, pseudo::MAP_FD, fd as u32 as u64)
}

/// `BPF_LD_MAP_VALUE`: `dst = &map value + off` (two slots).
pub const fn ld_map_value(dst: u8, fd: i32, off: u32) -> [Insn; 2] {
    ld_imm64_raw(
        dst,
        pseudo::MAP_VALUE,
        (fd as u32 as u64) | ((off as u64) << 32),
    )
}
