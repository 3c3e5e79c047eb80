//! [`Insn`]: one 8-byte `struct bpf_insn`, with opcode field accessors, the constants of
//! the BPF instruction set (`BPF_LD`, `BPF_ALU64`, `BPF_JEQ`, ...) and builders for
//! hand-assembled programs (feature probes, tests).

/// Size of one instruction in bytes (`BPF_INSN_SZ`).
pub const INSN_SIZE: usize = 8;

/// Instruction classes (`code & 0x07`).
pub mod class {
    /// `BPF_LD`: non-standard loads (`LD_IMM64`, legacy `LD_ABS`/`LD_IND`).
    pub const LD: u8 = 0x00;
    /// `BPF_LDX`: loads from memory into a register.
    pub const LDX: u8 = 0x01;
    /// `BPF_ST`: stores of an immediate.
    pub const ST: u8 = 0x02;
    /// `BPF_STX`: stores of a register (and atomics).
    pub const STX: u8 = 0x03;
    /// `BPF_ALU`: 32-bit arithmetic.
    pub const ALU: u8 = 0x04;
    /// `BPF_JMP`: 64-bit jumps, calls, exit.
    pub const JMP: u8 = 0x05;
    /// `BPF_JMP32`: 32-bit compares.
    pub const JMP32: u8 = 0x06;
    /// `BPF_ALU64`: 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;
}

/// Access sizes (`code & 0x18`) of load/store classes.
pub mod size {
    /// `BPF_W`: 4 bytes.
    pub const W: u8 = 0x00;
    /// `BPF_H`: 2 bytes.
    pub const H: u8 = 0x08;
    /// `BPF_B`: 1 byte.
    pub const B: u8 = 0x10;
    /// `BPF_DW`: 8 bytes.
    pub const DW: u8 = 0x18;
}

/// Modes (`code & 0xe0`) of load/store classes.
pub mod mode {
    /// `BPF_IMM` (`LD_IMM64`).
    pub const IMM: u8 = 0x00;
    /// `BPF_ABS` (legacy packet access).
    pub const ABS: u8 = 0x20;
    /// `BPF_IND` (legacy packet access).
    pub const IND: u8 = 0x40;
    /// `BPF_MEM`: regular memory access.
    pub const MEM: u8 = 0x60;
    /// `BPF_MEMSX`: sign-extending load.
    pub const MEMSX: u8 = 0x80;
    /// `BPF_ATOMIC`: atomic operation (STX only).
    pub const ATOMIC: u8 = 0xc0;
}

/// Source operand (`code & 0x08`) of ALU and JMP classes.
pub mod src {
    /// `BPF_K`: the immediate.
    pub const K: u8 = 0x00;
    /// `BPF_X`: the source register.
    pub const X: u8 = 0x08;
}

/// ALU operations (`code & 0xf0`).
pub mod alu {
    /// `BPF_ADD`.
    pub const ADD: u8 = 0x00;
    /// `BPF_SUB`.
    pub const SUB: u8 = 0x10;
    /// `BPF_MUL`.
    pub const MUL: u8 = 0x20;
    /// `BPF_DIV`.
    pub const DIV: u8 = 0x30;
    /// `BPF_OR`.
    pub const OR: u8 = 0x40;
    /// `BPF_AND`.
    pub const AND: u8 = 0x50;
    /// `BPF_LSH`.
    pub const LSH: u8 = 0x60;
    /// `BPF_RSH`.
    pub const RSH: u8 = 0x70;
    /// `BPF_NEG`.
    pub const NEG: u8 = 0x80;
    /// `BPF_MOD`.
    pub const MOD: u8 = 0x90;
    /// `BPF_XOR`.
    pub const XOR: u8 = 0xa0;
    /// `BPF_MOV`.
    pub const MOV: u8 = 0xb0;
    /// `BPF_ARSH`.
    pub const ARSH: u8 = 0xc0;
    /// `BPF_END` (byte swap).
    pub const END: u8 = 0xd0;
}

/// Jump operations (`code & 0xf0`).
pub mod jmp {
    /// `BPF_JA`.
    pub const JA: u8 = 0x00;
    /// `BPF_JEQ`.
    pub const JEQ: u8 = 0x10;
    /// `BPF_JGT`.
    pub const JGT: u8 = 0x20;
    /// `BPF_JGE`.
    pub const JGE: u8 = 0x30;
    /// `BPF_JSET`.
    pub const JSET: u8 = 0x40;
    /// `BPF_JNE`.
    pub const JNE: u8 = 0x50;
    /// `BPF_JSGT`.
    pub const JSGT: u8 = 0x60;
    /// `BPF_JSGE`.
    pub const JSGE: u8 = 0x70;
    /// `BPF_CALL`.
    pub const CALL: u8 = 0x80;
    /// `BPF_EXIT`.
    pub const EXIT: u8 = 0x90;
    /// `BPF_JLT`.
    pub const JLT: u8 = 0xa0;
    /// `BPF_JLE`.
    pub const JLE: u8 = 0xb0;
    /// `BPF_JSLT`.
    pub const JSLT: u8 = 0xc0;
    /// `BPF_JSLE`.
    pub const JSLE: u8 = 0xd0;
}

/// `src_reg` values with a special meaning (`BPF_PSEUDO_*`, the same values as the
/// `BPF_PSEUDO_*` constants of [`consts`](crate::consts)).
pub mod pseudo {
    use crate::consts;

    /// `LD_IMM64`: `imm` is a map fd.
    pub const MAP_FD: u8 = consts::BPF_PSEUDO_MAP_FD;
    /// `LD_IMM64`: `imm` is a map fd, the second half's `imm` an offset into its value.
    pub const MAP_VALUE: u8 = consts::BPF_PSEUDO_MAP_VALUE;
    /// `LD_IMM64`: `imm` is the BTF id of a kernel variable.
    pub const BTF_ID: u8 = consts::BPF_PSEUDO_BTF_ID;
    /// `LD_IMM64`: `imm` is an instruction offset to a function (callbacks).
    pub const FUNC: u8 = consts::BPF_PSEUDO_FUNC;
    /// `LD_IMM64`: `imm` is an index into `fd_array`.
    pub const MAP_IDX: u8 = consts::BPF_PSEUDO_MAP_IDX;
    /// `LD_IMM64`: `imm` is an index into `fd_array`, plus a value offset.
    pub const MAP_IDX_VALUE: u8 = consts::BPF_PSEUDO_MAP_IDX_VALUE;
    /// `CALL`: `imm` is a pc-relative offset to a BPF function.
    pub const CALL: u8 = consts::BPF_PSEUDO_CALL;
    /// `CALL`: `imm` is the BTF id of a kernel function.
    pub const KFUNC_CALL: u8 = consts::BPF_PSEUDO_KFUNC_CALL;
}

/// One BPF instruction (`struct bpf_insn`). `LD_IMM64` occupies two consecutive `Insn`s:
/// the second holds the upper 32 bits of the immediate in its `imm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Insn {
    /// Opcode (`class | size/op | mode/src`).
    pub code: u8,
    /// Destination register (0..=10).
    pub dst: u8,
    /// Source register, or a `BPF_PSEUDO_*` marker.
    pub src: u8,
    /// Signed offset (jumps, memory accesses).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// An instruction from its fields.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// Decodes 8 little-endian bytes.
    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Decodes a byte slice whose length is a multiple of 8 (a trailing partial
    /// instruction is ignored; callers check lengths first).
    pub fn decode_all(bytes: &[u8]) -> Vec<Insn> {
        bytes
            .chunks_exact(INSN_SIZE)
            .map(|c| Insn::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect()
    }

    /// Encodes as the kernel's 8 little-endian bytes.
    pub fn to_bytes(&self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// Encodes a sequence of instructions (what `BPF_PROG_LOAD` takes).
    pub fn encode_all(insns: &[Insn]) -> Vec<u8> {
        insns.iter().flat_map(|i| i.to_bytes()).collect()
    }

    /// The instruction class (`BPF_CLASS(code)`).
    pub const fn class(&self) -> u8 {
        self.code & 0x07
    }

    /// The operation of ALU/JMP classes (`BPF_OP(code)`).
    pub const fn op(&self) -> u8 {
        self.code & 0xf0
    }

    /// The source operand kind of ALU/JMP classes (`BPF_SRC(code)`): [`src::K`] or [`src::X`].
    pub const fn src_kind(&self) -> u8 {
        self.code & 0x08
    }

    /// The access size of load/store classes (`BPF_SIZE(code)`).
    pub const fn size(&self) -> u8 {
        self.code & 0x18
    }

    /// The access size in bytes of load/store classes.
    pub const fn size_bytes(&self) -> u32 {
        match self.size() {
            size::W => 4,
            size::H => 2,
            size::B => 1,
            _ => 8,
        }
    }

    /// The mode of load/store classes (`BPF_MODE(code)`).
    pub const fn mode(&self) -> u8 {
        self.code & 0xe0
    }

    /// `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 16-byte 64-bit immediate load.
    pub const fn is_ldimm64(&self) -> bool {
        self.code == class::LD | size::DW | mode::IMM
    }

    /// `BPF_JMP | BPF_CALL`, any kind (helper, BPF function, kfunc).
    pub const fn is_call(&self) -> bool {
        self.code == class::JMP | jmp::CALL
    }

    /// A call of a helper (`src_reg` 0).
    pub const fn is_helper_call(&self) -> bool {
        self.is_call() && self.src == 0
    }

    /// A call of a BPF function (`src_reg == BPF_PSEUDO_CALL`, pc-relative `imm`).
    pub const fn is_pseudo_call(&self) -> bool {
        self.is_call() && self.src == pseudo::CALL
    }

    /// A kfunc call (`src_reg == BPF_PSEUDO_KFUNC_CALL`).
    pub const fn is_kfunc_call(&self) -> bool {
        self.is_call() && self.src == pseudo::KFUNC_CALL
    }

    /// An `LD_IMM64` of a function address (`src_reg == BPF_PSEUDO_FUNC`): a callback.
    pub const fn is_pseudo_func(&self) -> bool {
        self.is_ldimm64() && self.src == pseudo::FUNC
    }

    /// `BPF_JMP | BPF_EXIT`.
    pub const fn is_exit(&self) -> bool {
        self.code == class::JMP | jmp::EXIT
    }

    /// A jump with a pc-relative `off` (any JMP/JMP32 except call and exit).
    pub const fn is_jump(&self) -> bool {
        (self.class() == class::JMP || self.class() == class::JMP32)
            && self.op() != jmp::CALL
            && self.op() != jmp::EXIT
    }

    /// An ALU or ALU64 instruction.
    pub const fn is_alu(&self) -> bool {
        self.class() == class::ALU || self.class() == class::ALU64
    }

    /// A load from memory (`BPF_LDX | BPF_MEM` or `BPF_MEMSX`), what CO-RE byte_sz patches.
    pub const fn is_ldx_mem(&self) -> bool {
        self.class() == class::LDX && (self.mode() == mode::MEM || self.mode() == mode::MEMSX)
    }
}

/// Builders for hand-assembled programs (feature probes, tests, benchmarks).
impl Insn {
    /// `dst = imm` (64-bit).
    pub const fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(class::ALU64 | alu::MOV | src::K, dst, 0, 0, imm)
    }

    /// `dst = src` (64-bit).
    pub const fn mov64_reg(dst: u8, src: u8) -> Insn {
        Insn::new(class::ALU64 | alu::MOV | src::X, dst, src, 0, 0)
    }

    /// `dst += imm` (64-bit).
    pub const fn add64_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(class::ALU64 | alu::ADD | src::K, dst, 0, 0, imm)
    }

    /// `dst = *(size *)(src + off)`; `size` is one of [`size::W`], [`size::H`], [`size::B`],
    /// [`size::DW`].
    pub const fn ldx_mem(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(class::LDX | mode::MEM | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = src`.
    pub const fn stx_mem(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(class::STX | mode::MEM | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = imm`.
    pub const fn st_mem(size: u8, dst: u8, off: i16, imm: i32) -> Insn {
        Insn::new(class::ST | mode::MEM | size, dst, 0, off, imm)
    }

    /// The two halves of `dst = imm64` (`LD_IMM64`) with a pseudo `src_reg`
    /// (e.g. [`pseudo::MAP_FD`]): `imm` goes in the first half, `imm_hi` in the second.
    pub const fn ld_imm64(dst: u8, src: u8, imm: i32, imm_hi: i32) -> [Insn; 2] {
        [
            Insn::new(class::LD | size::DW | mode::IMM, dst, src, 0, imm),
            Insn::new(0, 0, 0, 0, imm_hi),
        ]
    }

    /// `call helper` (helper id in `imm`).
    pub const fn call(helper: i32) -> Insn {
        Insn::new(class::JMP | jmp::CALL, 0, 0, 0, helper)
    }

    /// `if dst == imm goto pc + off`.
    pub const fn jeq_imm(dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(class::JMP | jmp::JEQ | src::K, dst, 0, off, imm)
    }

    /// `exit`.
    pub const fn exit() -> Insn {
        Insn::new(class::JMP | jmp::EXIT, 0, 0, 0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        let b = [0x18, 0x21, 0xfe, 0xff, 0x78, 0x56, 0x34, 0x12];
        let i = Insn::from_bytes(b);
        assert_eq!(
            (i.code, i.dst, i.src, i.off, i.imm),
            (0x18, 1, 2, -2, 0x12345678)
        );
        assert!(i.is_ldimm64());
        assert_eq!(i.to_bytes(), b);
        assert_eq!(Insn::decode_all(&Insn::encode_all(&[i, i])), vec![i, i]);
    }

    #[test]
    fn classify() {
        let call = Insn::new(0x85, 0, 1, 0, -1);
        assert!(call.is_call() && call.is_pseudo_call() && !call.is_helper_call());
        assert!(Insn::new(0x95, 0, 0, 0, 0).is_exit());
        assert!(Insn::new(0x15, 0, 0, 3, 0).is_jump());
        assert!(Insn::new(0x61, 1, 6, 0, 0).is_ldx_mem());
        assert_eq!(Insn::new(0x61, 1, 6, 0, 0).size_bytes(), 4);
    }

    #[test]
    fn builders_encode_like_the_kernel() {
        let cases: [(Insn, [u8; 8]); 10] = [
            (Insn::mov64_imm(0, 2), [0xb7, 0x00, 0, 0, 2, 0, 0, 0]),
            (Insn::mov64_reg(2, 10), [0xbf, 0xa2, 0, 0, 0, 0, 0, 0]),
            (
                Insn::add64_imm(2, -4),
                [0x07, 0x02, 0, 0, 0xfc, 0xff, 0xff, 0xff],
            ),
            (
                Insn::ldx_mem(size::W, 2, 1, 4),
                [0x61, 0x12, 4, 0, 0, 0, 0, 0],
            ),
            (
                Insn::stx_mem(size::DW, 10, 1, -72),
                [0x7b, 0x1a, 0xb8, 0xff, 0, 0, 0, 0],
            ),
            (
                Insn::st_mem(size::B, 2, 0, 0xab),
                [0x72, 0x02, 0, 0, 0xab, 0, 0, 0],
            ),
            (Insn::call(130), [0x85, 0x00, 0, 0, 130, 0, 0, 0]),
            (Insn::jeq_imm(7, 0, 3), [0x15, 0x07, 3, 0, 0, 0, 0, 0]),
            (Insn::exit(), [0x95, 0, 0, 0, 0, 0, 0, 0]),
            (
                Insn::new(class::JMP | jmp::JGT | src::X, 4, 3, 4, 0),
                [0x2d, 0x34, 4, 0, 0, 0, 0, 0],
            ),
        ];
        for (insn, bytes) in cases {
            assert_eq!(insn.to_bytes(), bytes, "{insn:?}");
        }
        let ld = Insn::ld_imm64(1, pseudo::MAP_VALUE, 7, 16);
        assert_eq!(
            Insn::encode_all(&ld),
            [0x18, 0x21, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0]
        );
        assert!(ld[0].is_ldimm64());
    }
}
