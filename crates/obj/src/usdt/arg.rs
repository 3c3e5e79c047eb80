//! x86-64 USDT argument specs (libbpf's `parse_usdt_arg` and `calc_pt_regs_off`) and their
//! encoding as `struct __bpf_usdt_spec`, in the layout of the `usdt.bpf.h` an object was
//! built with.
//!
//! An argument is `SIZE@LOCATION`, SIZE being 1, 2, 4 or 8 bytes, negative when signed:
//! `-4@$5` (constant), `8@%rax` (register), `-4@-12(%rbp)` (memory at register + offset),
//! `8@8(%rdi,%rsi,8)` (memory at base + index * scale + offset; libbpf 1.7). Arguments are
//! separated by spaces; spaces between the tokens of one argument are allowed, as libbpf's
//! `sscanf` patterns allow them.

use super::{UsdtError, UsdtNote, USDT_MAX_ARG_CNT};

/// A register operand: its 64-bit name and its offset in the kernel's x86-64
/// `struct pt_regs` (what the BPF side reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// The 64-bit register's name (`rax` for `%eax`, `%ax` and `%al` too).
    pub name: &'static str,
    /// `offsetof(struct pt_regs, <reg>)`.
    pub pt_regs_off: u16,
}

/// Where an argument's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgLocation {
    /// An immediate constant (`$-9`).
    Const(i64),
    /// A register's value (`%edi`).
    Reg(Register),
    /// Memory at register + offset (`-20(%rbp)`).
    Deref {
        /// The address register.
        reg: Register,
        /// The displacement.
        offset: i64,
    },
    /// Memory at base + index * scale + offset (`-96(%rbp,%rax,8)`).
    Sib {
        /// The base register.
        base: Register,
        /// The index register.
        index: Register,
        /// 1, 2, 4 or 8.
        scale: u8,
        /// The displacement.
        offset: i64,
    },
}

/// One decoded argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsdtArg {
    /// Size in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// Whether the value is signed (sign-extended to 64 bits).
    pub signed: bool,
    /// Where the value is.
    pub loc: ArgLocation,
}

/// How an argument is read, as `corebpf usdt list` prints it: `s32 %rdi`,
/// `u8 [%rsp-30]`, `s64 [%rdi+%rsi*8+8]`, `s32 $-42`.
impl std::fmt::Display for UsdtArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.signed { 's' } else { 'u' };
        write!(f, "{sign}{} ", u32::from(self.size) * 8)?;
        let off = |o: i64| {
            if o == 0 {
                String::new()
            } else {
                format!("{o:+}")
            }
        };
        match self.loc {
            ArgLocation::Const(v) => write!(f, "${v}"),
            ArgLocation::Reg(r) => write!(f, "%{}", r.name),
            ArgLocation::Deref { reg, offset } => write!(f, "[%{}{}]", reg.name, off(offset)),
            ArgLocation::Sib {
                base,
                index,
                scale,
                offset,
            } => write!(f, "[%{}+%{}*{scale}{}]", base.name, index.name, off(offset)),
        }
    }
}

/// What is wrong with one argument spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgError {
    /// The text matches none of the forms.
    #[error("unrecognized argument spec (expected SIZE@$CONST, SIZE@%REG, SIZE@OFF(%REG) or SIZE@OFF(%BASE,%INDEX,SCALE))")]
    Syntax,
    /// The size is not 1, 2, 4 or 8 (negated when signed).
    #[error("unsupported argument size {0} (expected 1, 2, 4 or 8, negative when signed)")]
    BadSize(i64),
    /// A number does not fit 64 bits.
    #[error("number out of range")]
    Overflow,
    /// An x86-64 register name this decoder does not know.
    #[error("unrecognized register '%{0}'")]
    UnknownRegister(String),
    /// A SIB scale other than 1, 2, 4, 8.
    #[error("invalid SIB scale {0} (expected 1, 2, 4 or 8)")]
    BadScale(i64),
    /// More than [`USDT_MAX_ARG_CNT`] arguments.
    #[error("too many arguments (> {USDT_MAX_ARG_CNT})")]
    TooMany,
    /// The binary is not x86-64.
    #[error("argument specs of e_machine {0} are not supported (x86-64 only)")]
    UnsupportedArch(u16),
    /// A scale-index-base argument, and the object's `usdt.bpf.h` (libbpf < 1.7) cannot
    /// read one.
    #[error("scale-index-base arguments need an object built with libbpf >= 1.7's usdt.bpf.h (this one's __bpf_usdt_specs has the older layout)")]
    SibNeedsNewLayout,
}

/// Why an argument string could not be decoded: the argument's index and text, and what
/// is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgFailure {
    /// The argument's index.
    pub arg: usize,
    /// Its text.
    pub spec: String,
    /// What is wrong.
    pub reason: ArgError,
}

impl ArgFailure {
    /// This failure as the error of `note`.
    pub(super) fn for_note(self, note: &UsdtNote) -> UsdtError {
        if self.reason == ArgError::TooMany {
            return UsdtError::TooManyArgs {
                note: note.index,
                probe: note.probe(),
                args: note.args.clone(),
            };
        }
        UsdtError::Arg {
            note: note.index,
            probe: note.probe(),
            arg: self.arg,
            spec: self.spec,
            reason: self.reason,
        }
    }
}

/// x86-64 registers by every name (64, 32, 16, 8 bits) with their `struct pt_regs`
/// offsets (arch/x86/include/asm/ptrace.h).
const REGS: &[([&str; 4], u16)] = &[
    (["rip", "eip", "", ""], 128),
    (["rax", "eax", "ax", "al"], 80),
    (["rbx", "ebx", "bx", "bl"], 40),
    (["rcx", "ecx", "cx", "cl"], 88),
    (["rdx", "edx", "dx", "dl"], 96),
    (["rsi", "esi", "si", "sil"], 104),
    (["rdi", "edi", "di", "dil"], 112),
    (["rbp", "ebp", "bp", "bpl"], 32),
    (["rsp", "esp", "sp", "spl"], 152),
    (["r8", "r8d", "r8w", "r8b"], 72),
    (["r9", "r9d", "r9w", "r9b"], 64),
    (["r10", "r10d", "r10w", "r10b"], 56),
    (["r11", "r11d", "r11w", "r11b"], 48),
    (["r12", "r12d", "r12w", "r12b"], 24),
    (["r13", "r13d", "r13w", "r13b"], 16),
    (["r14", "r14d", "r14w", "r14b"], 8),
    (["r15", "r15d", "r15w", "r15b"], 0),
];

impl Register {
    /// The register named `name` (without `%`), by any of its widths.
    pub fn by_name(name: &str) -> Option<Register> {
        if name.is_empty() {
            return None;
        }
        REGS.iter()
            .find(|(names, _)| names.contains(&name))
            .map(|(names, off)| Register {
                name: names[0],
                pt_regs_off: *off,
            })
    }
}

/// Decodes a whole argument string (`-4@%edi 8@-8(%rbp)`).
pub fn parse_args(args: &str) -> Result<Vec<UsdtArg>, ArgFailure> {
    let mut out = Vec::new();
    let mut p = Parser { s: args, pos: 0 };
    p.skip_ws();
    while !p.at_end() {
        let start = p.pos;
        let fail = |p: &Parser<'_>, arg: usize, reason: ArgError| ArgFailure {
            arg,
            spec: p.s[start..].split_whitespace().next().unwrap_or("").into(),
            reason,
        };
        if out.len() >= USDT_MAX_ARG_CNT {
            return Err(fail(&p, out.len(), ArgError::TooMany));
        }
        let arg = p.arg().map_err(|e| fail(&p, out.len(), e))?;
        out.push(arg);
        p.skip_ws();
    }
    Ok(out)
}

/// A cursor over an argument string.
struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// Skips spaces, then consumes `c` or fails.
    fn expect(&mut self, c: u8) -> Result<(), ArgError> {
        self.skip_ws();
        if self.peek() != Some(c) {
            return Err(ArgError::Syntax);
        }
        self.pos += 1;
        Ok(())
    }

    /// A decimal integer with an optional sign, after optional spaces (as `%ld`).
    fn int(&mut self) -> Result<i64, ArgError> {
        self.skip_ws();
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits {
            return Err(ArgError::Syntax);
        }
        self.s[start..self.pos]
            .parse::<i64>()
            .map_err(|_| ArgError::Overflow)
    }

    /// `%name`, the name ending at a space, `,` or `)`.
    fn register(&mut self) -> Result<Register, ArgError> {
        self.expect(b'%')?;
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !c.is_ascii_whitespace() && c != b',' && c != b')')
        {
            self.pos += 1;
        }
        let name = &self.s[start..self.pos];
        Register::by_name(name).ok_or_else(|| ArgError::UnknownRegister(truncate(name)))
    }

    /// One `SIZE@LOCATION`.
    fn arg(&mut self) -> Result<UsdtArg, ArgError> {
        let size = self.int()?;
        self.expect(b'@')?;
        self.skip_ws();
        let loc = match self.peek() {
            Some(b'$') => {
                self.pos += 1;
                ArgLocation::Const(self.int()?)
            }
            Some(b'%') => ArgLocation::Reg(self.register()?),
            _ => self.memory()?,
        };
        let (signed, size) = (size < 0, size.unsigned_abs());
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(ArgError::BadSize(if signed {
                (size as i64).wrapping_neg()
            } else {
                size as i64
            }));
        }
        Ok(UsdtArg {
            size: size as u8,
            signed,
            loc,
        })
    }

    /// `[OFF](%REG)` or `[OFF](%BASE,%INDEX[,SCALE])`.
    fn memory(&mut self) -> Result<ArgLocation, ArgError> {
        let offset = if self.peek() == Some(b'(') {
            0
        } else {
            self.int()?
        };
        self.expect(b'(')?;
        let base = self.register()?;
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(ArgLocation::Deref { reg: base, offset });
        }
        self.expect(b',')?;
        let index = self.register()?;
        self.skip_ws();
        let scale = if self.peek() == Some(b',') {
            self.pos += 1;
            self.int()?
        } else {
            1
        };
        self.expect(b')')?;
        let scale = match scale {
            1 | 2 | 4 | 8 => scale as u8,
            s => return Err(ArgError::BadScale(s)),
        };
        Ok(ArgLocation::Sib {
            base,
            index,
            scale,
            offset,
        })
    }
}

/// A register name as an error shows it: at most 16 characters of hostile input.
fn truncate(name: &str) -> String {
    name.chars().take(16).collect()
}

/// The layout of `struct __bpf_usdt_spec` an object was built with, told by the size of its
/// `__bpf_usdt_specs` map's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecLayout {
    /// libbpf up to 1.6: 16-byte argument specs (`enum` arg_type at 8, reg_off at 12),
    /// 208-byte specs; no scale-index-base arguments.
    Libbpf11,
    /// libbpf 1.7: 24-byte argument specs (8-bit arg_type at 8, 12-bit idx_reg_off and
    /// 4-bit scale_bitshift at 10, reg_off at 14), 304-byte specs.
    Libbpf17,
}

/// `enum __bpf_usdt_arg_type`.
const ARG_CONST: u8 = 0;
const ARG_REG: u8 = 1;
const ARG_REG_DEREF: u8 = 2;
const ARG_SIB: u8 = 3;

impl SpecLayout {
    /// The layout whose `struct __bpf_usdt_spec` has `size` bytes.
    pub fn from_value_size(size: usize) -> Option<SpecLayout> {
        [SpecLayout::Libbpf11, SpecLayout::Libbpf17]
            .into_iter()
            .find(|l| l.spec_size() == size)
    }

    /// Bytes of one `struct __bpf_usdt_arg_spec`.
    fn arg_size(self) -> usize {
        match self {
            SpecLayout::Libbpf11 => 16,
            SpecLayout::Libbpf17 => 24,
        }
    }

    /// Bytes of `struct __bpf_usdt_spec`: the arguments, `usdt_cookie`, `arg_cnt`, padded
    /// to 8.
    pub fn spec_size(self) -> usize {
        (self.arg_size() * USDT_MAX_ARG_CNT + 8 + 2).next_multiple_of(8)
    }
}

/// A probe's `struct __bpf_usdt_spec`: its arguments and the user's USDT cookie
/// (`bpf_usdt_cookie()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtSpec {
    /// The decoded arguments (at most [`USDT_MAX_ARG_CNT`]).
    pub args: Vec<UsdtArg>,
    /// The value `bpf_usdt_cookie()` returns.
    pub cookie: u64,
}

impl UsdtSpec {
    /// The spec as the BPF side reads it (native byte order, x86-64), in `layout`.
    pub fn to_bytes(&self, layout: SpecLayout) -> Result<Vec<u8>, ArgFailure> {
        let mut out = vec![0u8; layout.spec_size()];
        if self.args.len() > USDT_MAX_ARG_CNT {
            return Err(ArgFailure {
                arg: USDT_MAX_ARG_CNT,
                spec: String::new(),
                reason: ArgError::TooMany,
            });
        }
        for (i, a) in self.args.iter().enumerate() {
            let at = i * layout.arg_size();
            encode_arg(a, layout, &mut out[at..at + layout.arg_size()]).map_err(|reason| {
                ArgFailure {
                    arg: i,
                    spec: String::new(),
                    reason,
                }
            })?;
        }
        let at = USDT_MAX_ARG_CNT * layout.arg_size();
        out[at..at + 8].copy_from_slice(&self.cookie.to_ne_bytes());
        out[at + 8..at + 10].copy_from_slice(&(self.args.len() as i16).to_ne_bytes());
        Ok(out)
    }
}

/// One `struct __bpf_usdt_arg_spec` into `out` (zeroed, `layout.arg_size()` bytes).
fn encode_arg(a: &UsdtArg, layout: SpecLayout, out: &mut [u8]) -> Result<(), ArgError> {
    let (arg_type, val_off, reg_off, idx) = match a.loc {
        ArgLocation::Const(v) => (ARG_CONST, v, 0, None),
        ArgLocation::Reg(r) => (ARG_REG, 0, r.pt_regs_off, None),
        ArgLocation::Deref { reg, offset } => (ARG_REG_DEREF, offset, reg.pt_regs_off, None),
        ArgLocation::Sib {
            base,
            index,
            scale,
            offset,
        } => (ARG_SIB, offset, base.pt_regs_off, Some((index, scale))),
    };
    out[0..8].copy_from_slice(&(val_off as u64).to_ne_bytes());
    // arg_bitshift: 64 - size * 8 bits are shifted out (and sign-extended if signed).
    let bitshift = 64 - a.size * 8;
    match layout {
        SpecLayout::Libbpf11 => {
            if idx.is_some() {
                return Err(ArgError::SibNeedsNewLayout);
            }
            out[8..12].copy_from_slice(&u32::from(arg_type).to_ne_bytes());
            out[12..14].copy_from_slice(&(reg_off as i16).to_ne_bytes());
            out[14] = u8::from(a.signed);
            out[15] = bitshift;
        }
        SpecLayout::Libbpf17 => {
            out[8] = arg_type;
            if let Some((index, scale)) = idx {
                let shift = u16::from(scale.trailing_zeros() as u8);
                let packed = (index.pt_regs_off & 0xfff) | (shift << 12);
                out[10..12].copy_from_slice(&packed.to_ne_bytes());
            }
            out[14..16].copy_from_slice(&(reg_off as i16).to_ne_bytes());
            out[16] = u8::from(a.signed);
            out[17] = bitshift;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str) -> Register {
        Register::by_name(name).unwrap()
    }

    fn one(s: &str) -> Result<UsdtArg, ArgError> {
        parse_args(s).map(|v| v[0]).map_err(|f| f.reason)
    }

    #[test]
    fn every_form_decodes() {
        let c = |size, signed, loc| UsdtArg { size, signed, loc };
        assert_eq!(one("-4@$5"), Ok(c(4, true, ArgLocation::Const(5))));
        assert_eq!(one("-4@$-9"), Ok(c(4, true, ArgLocation::Const(-9))));
        assert_eq!(one("8@%rax"), Ok(c(8, false, ArgLocation::Reg(reg("rax")))));
        assert_eq!(one("-1@%sil"), Ok(c(1, true, ArgLocation::Reg(reg("rsi")))));
        assert_eq!(one("2@%r9w"), Ok(c(2, false, ArgLocation::Reg(reg("r9")))));
        assert_eq!(
            one("-4@-1204(%rbp)"),
            Ok(c(
                4,
                true,
                ArgLocation::Deref {
                    reg: reg("rbp"),
                    offset: -1204
                }
            ))
        );
        assert_eq!(
            one("8@(%rsp)"),
            Ok(c(
                8,
                false,
                ArgLocation::Deref {
                    reg: reg("rsp"),
                    offset: 0
                }
            ))
        );
        let sib = |offset, scale| ArgLocation::Sib {
            base: reg("rdi"),
            index: reg("rsi"),
            scale,
            offset,
        };
        assert_eq!(one("-8@(%rdi,%rsi,8)"), Ok(c(8, true, sib(0, 8))));
        assert_eq!(one("-8@8(%rdi,%rsi,8)"), Ok(c(8, true, sib(8, 8))));
        assert_eq!(one("1@-96(%rdi,%rsi)"), Ok(c(1, false, sib(-96, 1))));
        assert_eq!(one("1@(%rdi, %rsi)"), Ok(c(1, false, sib(0, 1))));
        // libbpf's sscanf patterns allow spaces between tokens.
        assert_eq!(
            one(" 8 @ %rdx "),
            Ok(c(8, false, ArgLocation::Reg(reg("rdx"))))
        );
        let all = parse_args("-4@-1204(%rbp) -4@%edi -8@-1216(%rbp) -8@%r8 -4@$5 -8@%r9 8@%rdx 8@%r10 -4@$-9 -2@%cx -2@%ax -1@%sil").unwrap();
        assert_eq!(all.len(), 12);
        assert_eq!(parse_args("").unwrap(), vec![]);
        assert_eq!(parse_args("   ").unwrap(), vec![]);
    }

    #[test]
    fn register_offsets_are_pt_regs() {
        assert_eq!(reg("eax").pt_regs_off, 80);
        assert_eq!(reg("r15b").pt_regs_off, 0);
        assert_eq!(reg("rip").pt_regs_off, 128);
        assert_eq!(reg("spl").pt_regs_off, 152);
        assert_eq!(reg("di").name, "rdi");
        assert!(Register::by_name("").is_none());
    }

    #[test]
    fn bad_specs_are_typed_errors() {
        assert_eq!(one("3@%rax"), Err(ArgError::BadSize(3)));
        assert_eq!(one("-16@%rax"), Err(ArgError::BadSize(-16)));
        assert_eq!(one("0@$1"), Err(ArgError::BadSize(0)));
        assert_eq!(
            one("8@%xmm0"),
            Err(ArgError::UnknownRegister("xmm0".into()))
        );
        assert_eq!(one("8@%"), Err(ArgError::UnknownRegister(String::new())));
        assert_eq!(one("8@(%rdi,%rsi,3)"), Err(ArgError::BadScale(3)));
        assert_eq!(one("8@counter(%rip)"), Err(ArgError::Syntax));
        assert_eq!(one("%rax"), Err(ArgError::Syntax));
        assert_eq!(one("8@$"), Err(ArgError::Syntax));
        assert_eq!(one("8@-4(%rbp"), Err(ArgError::Syntax));
        assert_eq!(one("8@$99999999999999999999"), Err(ArgError::Overflow));
        assert_eq!(
            one("-9223372036854775808@$1"),
            Err(ArgError::BadSize(i64::MIN))
        );
        let long = format!("8@%{}", "a".repeat(1000));
        assert_eq!(one(&long), Err(ArgError::UnknownRegister("a".repeat(16))));
        let thirteen = vec!["8@%rax"; 13].join(" ");
        let e = parse_args(&thirteen).unwrap_err();
        assert_eq!((e.arg, e.reason), (12, ArgError::TooMany));
        let e = parse_args("8@%rax 4@%bogus").unwrap_err();
        assert_eq!((e.arg, e.spec.as_str()), (1, "4@%bogus"));
    }

    #[test]
    fn specs_encode_in_both_layouts() {
        assert_eq!(SpecLayout::Libbpf11.spec_size(), 208);
        assert_eq!(SpecLayout::Libbpf17.spec_size(), 304);
        assert_eq!(SpecLayout::from_value_size(304), Some(SpecLayout::Libbpf17));
        assert_eq!(SpecLayout::from_value_size(200), None);
        let spec = UsdtSpec {
            args: parse_args("-4@-12(%rbp) 2@$7").unwrap(),
            cookie: 0xabcd,
        };
        let old = spec.to_bytes(SpecLayout::Libbpf11).unwrap();
        assert_eq!(&old[0..8], &(-12i64).to_ne_bytes());
        assert_eq!(&old[8..12], &2u32.to_ne_bytes()); // BPF_USDT_ARG_REG_DEREF
        assert_eq!(&old[12..14], &32i16.to_ne_bytes()); // rbp
        assert_eq!((old[14], old[15]), (1, 32));
        assert_eq!(&old[16..24], &7u64.to_ne_bytes());
        assert_eq!((old[24], old[30], old[31]), (0, 0, 48));
        assert_eq!(&old[192..200], &0xabcdu64.to_ne_bytes());
        assert_eq!(&old[200..202], &2i16.to_ne_bytes());
        let new = spec.to_bytes(SpecLayout::Libbpf17).unwrap();
        assert_eq!((new[8], new[9], new[10], new[11]), (2, 0, 0, 0));
        assert_eq!(&new[14..16], &32i16.to_ne_bytes());
        assert_eq!((new[16], new[17]), (1, 32));
        assert_eq!(&new[24..32], &7u64.to_ne_bytes());
        assert_eq!(&new[288..296], &0xabcdu64.to_ne_bytes());
        assert_eq!(&new[296..298], &2i16.to_ne_bytes());
        let sib = UsdtSpec {
            args: parse_args("-8@8(%rdi,%rsi,8)").unwrap(),
            cookie: 0,
        };
        let b = sib.to_bytes(SpecLayout::Libbpf17).unwrap();
        assert_eq!(b[8], 3);
        // idx_reg_off = 104 (rsi) in the low 12 bits, scale_bitshift = 3 above.
        assert_eq!(u16::from_ne_bytes([b[10], b[11]]), 104 | (3 << 12));
        assert_eq!(&b[14..16], &112i16.to_ne_bytes()); // rdi
        let e = sib.to_bytes(SpecLayout::Libbpf11).unwrap_err();
        assert_eq!(e.reason, ArgError::SibNeedsNewLayout);
    }
}
