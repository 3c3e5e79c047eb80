//! A minimal `struct bpf_insn` for hand-encoded programs (feature probes, tests).
//! Loaders with their own instruction type pass raw bytes to
//! [`prog_load`](crate::prog::prog_load) instead.

/// `struct bpf_insn`: 8 bytes, registers packed as `dst | src << 4`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BpfInsn {
    /// Opcode.
    pub code: u8,
    /// `dst_reg` in the low nibble, `src_reg` in the high nibble.
    pub regs: u8,
    /// Signed offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

/// Instruction class and field constants used by the builders below.
pub mod op {
    /// `BPF_LD`.
    pub const LD: u8 = 0x00;
    /// `BPF_LDX`.
    pub const LDX: u8 = 0x01;
    /// `BPF_ST`.
    pub const ST: u8 = 0x02;
    /// `BPF_STX`.
    pub const STX: u8 = 0x03;
    /// `BPF_ALU`.
    pub const ALU: u8 = 0x04;
    /// `BPF_JMP`.
    pub const JMP: u8 = 0x05;
    /// `BPF_ALU64`.
    pub const ALU64: u8 = 0x07;
    /// `BPF_W` (4 bytes).
    pub const W: u8 = 0x00;
    /// `BPF_H` (2 bytes).
    pub const H: u8 = 0x08;
    /// `BPF_B` (1 byte).
    pub const B: u8 = 0x10;
    /// `BPF_DW` (8 bytes).
    pub const DW: u8 = 0x18;
    /// `BPF_IMM` mode.
    pub const IMM: u8 = 0x00;
    /// `BPF_MEM` mode.
    pub const MEM: u8 = 0x60;
    /// `BPF_K` source.
    pub const K: u8 = 0x00;
    /// `BPF_X` source.
    pub const X: u8 = 0x08;
    /// `BPF_ADD`.
    pub const ADD: u8 = 0x00;
    /// `BPF_MOV`.
    pub const MOV: u8 = 0xb0;
    /// `BPF_CALL`.
    pub const CALL: u8 = 0x80;
    /// `BPF_EXIT`.
    pub const EXIT: u8 = 0x90;
    /// `BPF_JEQ`.
    pub const JEQ: u8 = 0x10;
}

impl BpfInsn {
    /// Builds an instruction from its fields.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        BpfInsn {
            code,
            regs: (dst & 0xf) | ((src & 0xf) << 4),
            off,
            imm,
        }
    }

    /// `dst = imm` (64-bit).
    pub const fn mov64_imm(dst: u8, imm: i32) -> Self {
        Self::new(op::ALU64 | op::MOV | op::K, dst, 0, 0, imm)
    }

    /// `dst = src` (64-bit).
    pub const fn mov64_reg(dst: u8, src: u8) -> Self {
        Self::new(op::ALU64 | op::MOV | op::X, dst, src, 0, 0)
    }

    /// `dst += imm` (64-bit).
    pub const fn add64_imm(dst: u8, imm: i32) -> Self {
        Self::new(op::ALU64 | op::ADD | op::K, dst, 0, 0, imm)
    }

    /// `dst = *(size *)(src + off)`; `size` is one of [`op::W`], [`op::H`], [`op::B`], [`op::DW`].
    pub const fn ldx_mem(size: u8, dst: u8, src: u8, off: i16) -> Self {
        Self::new(op::LDX | op::MEM | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = src`.
    pub const fn stx_mem(size: u8, dst: u8, src: u8, off: i16) -> Self {
        Self::new(op::STX | op::MEM | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = imm`.
    pub const fn st_mem(size: u8, dst: u8, off: i16, imm: i32) -> Self {
        Self::new(op::ST | op::MEM | size, dst, 0, off, imm)
    }

    /// The two halves of `dst = imm64` (`LD_IMM64`) with a pseudo `src_reg`
    /// (e.g. [`BPF_PSEUDO_MAP_FD`](crate::consts::BPF_PSEUDO_MAP_FD)).
    pub const fn ld_imm64(dst: u8, src: u8, imm: i32, imm_hi: i32) -> [Self; 2] {
        [
            Self::new(op::LD | op::DW | op::IMM, dst, src, 0, imm),
            Self::new(0, 0, 0, 0, imm_hi),
        ]
    }

    /// `call helper` (helper id in `imm`).
    pub const fn call(helper: i32) -> Self {
        Self::new(op::JMP | op::CALL, 0, 0, 0, helper)
    }

    /// `if dst == imm goto pc + off`.
    pub const fn jeq_imm(dst: u8, imm: i32, off: i16) -> Self {
        Self::new(op::JMP | op::JEQ | op::K, dst, 0, off, imm)
    }

    /// `exit`.
    pub const fn exit() -> Self {
        Self::new(op::JMP | op::EXIT, 0, 0, 0, 0)
    }

    /// The instruction's 8 bytes in host (little-endian on BPF hosts) order.
    pub fn to_bytes(self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[0] = self.code;
        out[1] = self.regs;
        out[2..4].copy_from_slice(&self.off.to_ne_bytes());
        out[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        out
    }
}

/// Serializes instructions into the raw byte form [`prog_load`](crate::prog::prog_load) takes.
pub fn insns_to_bytes(insns: &[BpfInsn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.to_bytes()).collect()
}

const _: () = assert!(std::mem::size_of::<BpfInsn>() == 8);
