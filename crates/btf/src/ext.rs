//! `.BTF.ext`: per-section func_info, line_info and CO-RE relocation records
//! (Documentation/bpf/btf.rst, "BTF Ext Section").
//!
//! Instruction offsets are kept as clang wrote them: byte offsets from the start of the ELF
//! section. [`FuncInfo::insn_idx`] and friends convert to instruction indices.

use crate::raw::Endian;
use crate::{Btf, BtfError, Result};

/// Minimum record sizes the kernel ABI defines.
const FUNC_INFO_MIN: u32 = 8;
const LINE_INFO_MIN: u32 = 16;
const CORE_RELO_MIN: u32 = 16;
const EXT_HEADER_MIN: u32 = 24;

/// A parsed `.BTF.ext`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// `bpf_func_info` records per ELF section.
    pub func_info: Vec<ExtSection<FuncInfo>>,
    /// `bpf_line_info` records per ELF section.
    pub line_info: Vec<ExtSection<LineInfo>>,
    /// `bpf_core_relo` records per ELF section.
    pub core_relo: Vec<ExtSection<CoreRelo>>,
}

/// The records of one ELF section (e.g. `kprobe/do_sys_open` or `.text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtSection<T> {
    /// The ELF section name.
    pub sec_name: String,
    /// Its records, in file order.
    pub records: Vec<T>,
}

/// `struct bpf_func_info`: the BTF FUNC describing the function starting at `insn_off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset of the function's first instruction in its section.
    pub insn_off: u32,
    /// The FUNC type id.
    pub type_id: u32,
}

/// `struct bpf_line_info`: the source line of the instruction at `insn_off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    /// Byte offset of the instruction in its section.
    pub insn_off: u32,
    /// String offset of the file name.
    pub file_name_off: u32,
    /// String offset of the source line text.
    pub line_off: u32,
    /// Line number (upper 22 bits) and column (lower 10 bits).
    pub line_col: u32,
}

impl LineInfo {
    /// The line number.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }

    /// The column.
    pub fn col(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// `struct bpf_core_relo`: one CO-RE relocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset of the instruction to patch in its section.
    pub insn_off: u32,
    /// The local (object BTF) root type id.
    pub type_id: u32,
    /// String offset of the access specification (`"0:1:2"`).
    pub access_str_off: u32,
    /// The relocation kind (`enum bpf_core_relo_kind`), see [`CoreReloKind`].
    pub kind: u32,
}

/// `enum bpf_core_relo_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CoreReloKind {
    /// Field byte offset.
    FieldByteOffset = 0,
    /// Field size in bytes.
    FieldByteSize = 1,
    /// Whether the field exists in the target.
    FieldExists = 2,
    /// Whether the field is signed.
    FieldSigned = 3,
    /// Left shift for bitfield extraction.
    FieldLshiftU64 = 4,
    /// Right shift for bitfield extraction.
    FieldRshiftU64 = 5,
    /// Type id in the local BTF.
    TypeIdLocal = 6,
    /// Type id in the target BTF.
    TypeIdTarget = 7,
    /// Whether the type exists in the target.
    TypeExists = 8,
    /// Type size in bytes.
    TypeSize = 9,
    /// Whether the enumerator exists in the target.
    EnumvalExists = 10,
    /// The enumerator's value in the target.
    EnumvalValue = 11,
    /// Whether the target type matches the local one (`bpf_core_type_matches`).
    TypeMatches = 12,
}

impl CoreReloKind {
    /// The kind for a raw value.
    pub fn from_u32(v: u32) -> Option<CoreReloKind> {
        use CoreReloKind::*;
        Some(match v {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }

    /// The short name libbpf prints between `<` and `>` (`byte_off`, `type_matches`, ...).
    pub fn name(self) -> &'static str {
        use CoreReloKind::*;
        match self {
            FieldByteOffset => "byte_off",
            FieldByteSize => "byte_sz",
            FieldExists => "field_exists",
            FieldSigned => "signed",
            FieldLshiftU64 => "lshift_u64",
            FieldRshiftU64 => "rshift_u64",
            TypeIdLocal => "local_type_id",
            TypeIdTarget => "target_type_id",
            TypeExists => "type_exists",
            TypeSize => "type_size",
            EnumvalExists => "enumval_exists",
            EnumvalValue => "enumval_value",
            TypeMatches => "type_matches",
        }
    }

    /// Field-based kinds (access spec walks members and array indices).
    pub fn is_field_based(self) -> bool {
        (self as u32) <= 5
    }

    /// Type-based kinds (the spec is the type alone).
    pub fn is_type_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::TypeIdLocal
                | CoreReloKind::TypeIdTarget
                | CoreReloKind::TypeExists
                | CoreReloKind::TypeSize
                | CoreReloKind::TypeMatches
        )
    }

    /// Enumerator-value-based kinds.
    pub fn is_enumval_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        )
    }
}

impl std::fmt::Display for CoreReloKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FuncInfo {
    /// Instruction index (8-byte units) of the function's start.
    pub fn insn_idx(&self) -> u32 {
        self.insn_off / 8
    }
}

impl CoreRelo {
    /// Instruction index of the patched instruction in its section.
    pub fn insn_idx(&self) -> u32 {
        self.insn_off / 8
    }

    /// The kind, if it is one this crate knows.
    pub fn kind(&self) -> Option<CoreReloKind> {
        CoreReloKind::from_u32(self.kind)
    }
}

impl LineInfo {
    /// Instruction index of the line's first instruction.
    pub fn insn_idx(&self) -> u32 {
        self.insn_off / 8
    }
}

impl BtfExt {
    /// Parses a `.BTF.ext` blob whose strings live in `btf` (the object's `.BTF`).
    pub fn parse(bytes: &[u8], btf: &Btf) -> Result<BtfExt> {
        let e = Endian::from_magic(".BTF.ext", bytes)?;
        let hdr_len = check_header(bytes, e)?;
        let sub = |name, off_at| subsection(bytes, e, hdr_len, name, off_at);
        let mut ext = BtfExt::default();
        if let Some(s) = sub("func_info", 8)? {
            ext.func_info = parse_info(s, e, btf, "func_info", FUNC_INFO_MIN, |r| {
                Ok(FuncInfo {
                    insn_off: e.u32(r, 0),
                    type_id: e.u32(r, 4),
                })
            })?;
        }
        if let Some(s) = sub("line_info", 16)? {
            ext.line_info = parse_info(s, e, btf, "line_info", LINE_INFO_MIN, |r| {
                line_info(r, e, btf)
            })?;
        }
        if let Some(s) = sub("core_relo", 24)? {
            ext.core_relo = parse_info(s, e, btf, "core_relo", CORE_RELO_MIN, |r| {
                core_relo(r, e, btf)
            })?;
        }
        Ok(ext)
    }

    /// The CO-RE relocations of ELF section `sec`, if any.
    pub fn core_relos_of(&self, sec: &str) -> &[CoreRelo] {
        find(&self.core_relo, sec)
    }

    /// The func_info records of ELF section `sec`.
    pub fn func_info_of(&self, sec: &str) -> &[FuncInfo] {
        find(&self.func_info, sec)
    }

    /// The line_info records of ELF section `sec`.
    pub fn line_info_of(&self, sec: &str) -> &[LineInfo] {
        find(&self.line_info, sec)
    }
}

/// Checks the header's size, version and flags; returns `hdr_len`.
fn check_header(bytes: &[u8], e: Endian) -> Result<u32> {
    let bad = |reason: String| BtfError::BadHeader {
        what: ".BTF.ext",
        reason,
    };
    if bytes.len() < EXT_HEADER_MIN as usize {
        return Err(BtfError::Truncated {
            what: ".BTF.ext header".into(),
            offset: 0,
            need: EXT_HEADER_MIN as usize,
            have: bytes.len(),
        });
    }
    if bytes[2] != 1 {
        return Err(BtfError::BadVersion {
            what: ".BTF.ext",
            version: bytes[2],
        });
    }
    if bytes[3] != 0 {
        return Err(bad(format!("unsupported flags {:#x}", bytes[3])));
    }
    let hdr_len = e.u32(bytes, 4);
    if hdr_len < EXT_HEADER_MIN || hdr_len as usize > bytes.len() {
        return Err(bad(format!(
            "hdr_len {hdr_len} outside {EXT_HEADER_MIN}..={}",
            bytes.len()
        )));
    }
    Ok(hdr_len)
}

/// The subsection whose (offset, length) pair sits at header offset `off_at`: `None` when
/// the header is too short to have it or it is empty.
fn subsection<'b>(
    bytes: &'b [u8],
    e: Endian,
    hdr_len: u32,
    name: &'static str,
    off_at: usize,
) -> Result<Option<&'b [u8]>> {
    let data = &bytes[hdr_len as usize..];
    if off_at + 8 > hdr_len as usize {
        return Ok(None);
    }
    let (off, len) = (e.u32(bytes, off_at), e.u32(bytes, off_at + 4));
    if len == 0 {
        return Ok(None);
    }
    let end = off as u64 + len as u64;
    if end > data.len() as u64 {
        return Err(BtfError::BadExt {
            section: name.into(),
            reason: format!(
                "{off}..{end} past the end of the data ({} bytes)",
                data.len()
            ),
        });
    }
    if off % 4 != 0 {
        return Err(BtfError::BadExt {
            section: name.into(),
            reason: format!("offset {off} is not 4-byte aligned"),
        });
    }
    Ok(Some(&data[off as usize..end as usize]))
}

/// One `bpf_line_info` record, its strings checked.
fn line_info(r: &[u8], e: Endian, btf: &Btf) -> Result<LineInfo> {
    let li = LineInfo {
        insn_off: e.u32(r, 0),
        file_name_off: e.u32(r, 4),
        line_off: e.u32(r, 8),
        line_col: e.u32(r, 12),
    };
    check_str(btf, li.file_name_off, "line_info file name")?;
    check_str(btf, li.line_off, "line_info line text")?;
    Ok(li)
}

/// One `bpf_core_relo` record, its access string checked.
fn core_relo(r: &[u8], e: Endian, btf: &Btf) -> Result<CoreRelo> {
    let cr = CoreRelo {
        insn_off: e.u32(r, 0),
        type_id: e.u32(r, 4),
        access_str_off: e.u32(r, 8),
        kind: e.u32(r, 12),
    };
    check_str(btf, cr.access_str_off, "core_relo access string")?;
    Ok(cr)
}

fn find<'a, T>(v: &'a [ExtSection<T>], sec: &str) -> &'a [T] {
    v.iter()
        .find(|s| s.sec_name == sec)
        .map_or(&[], |s| &s.records[..])
}

fn check_str(btf: &Btf, off: u32, what: &str) -> Result<()> {
    if off >= btf.str_len() && off != 0 {
        return Err(BtfError::StringOffset {
            what: format!(".BTF.ext {what}"),
            offset: off,
            len: btf.str_len(),
        });
    }
    Ok(())
}

/// Parses one info subsection: `u32 rec_size`, then `{ u32 sec_name_off; u32 num_info;
/// rec[num_info] }` repeated to the end.
fn parse_info<T>(
    s: &[u8],
    e: Endian,
    btf: &Btf,
    name: &'static str,
    min_rec: u32,
    mut rec: impl FnMut(&[u8]) -> Result<T>,
) -> Result<Vec<ExtSection<T>>> {
    let bad = |sec: &str, reason: String| BtfError::BadExt {
        section: if sec.is_empty() {
            name.to_string()
        } else {
            format!("{name} of section '{sec}'")
        },
        reason,
    };
    let rec_size = e.u32_checked(s, 0, &format!(".BTF.ext {name} record size"))?;
    if rec_size < min_rec || rec_size % 4 != 0 || rec_size > 1024 {
        return Err(bad("", format!("bad record size {rec_size}")));
    }
    let mut out = Vec::new();
    let mut off = 4usize;
    while off < s.len() {
        if s.len() - off < 8 {
            return Err(bad("", format!("truncated section header at offset {off}")));
        }
        let name_off = e.u32(s, off);
        let num = e.u32(s, off + 4);
        let sec_name = btf
            .str_at(name_off)
            .map_err(|_| bad("", format!("bad section name offset {name_off}")))?
            .to_string();
        if num == 0 {
            return Err(bad(&sec_name, "zero records".into()));
        }
        off += 8;
        let bytes = num as u64 * rec_size as u64;
        if bytes > (s.len() - off) as u64 {
            return Err(bad(
                &sec_name,
                format!(
                    "{num} records of {rec_size} bytes past the end ({} bytes left)",
                    s.len() - off
                ),
            ));
        }
        // `num` is bounded by the bytes present, so this allocation is too.
        let mut records = Vec::with_capacity(num as usize);
        for i in 0..num as usize {
            let r = &s[off + i * rec_size as usize..off + (i + 1) * rec_size as usize];
            records.push(rec(r).map_err(|err| bad(&sec_name, format!("record #{i}: {err}")))?);
        }
        off += bytes as usize;
        out.push(ExtSection { sec_name, records });
    }
    Ok(out)
}
