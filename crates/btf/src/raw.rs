//! On-disk layout of BTF: header, kinds, record sizes, and an endian-aware reader.
//!
//! Follows `include/uapi/linux/btf.h` and Documentation/bpf/btf.rst.

use crate::{BtfError, Result};

/// BTF and .BTF.ext magic, as stored by a little-endian producer.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// Size of `struct btf_header` for version 1.
pub const BTF_HEADER_LEN: usize = 24;
/// Size of `struct btf_type` (name_off, info, size/type).
pub const TYPE_HEADER_LEN: usize = 12;
/// Largest vlen the kernel accepts (`BTF_MAX_VLEN`).
pub const MAX_VLEN: u32 = 0xffff;

/// Byte order of a blob; BTF carries it implicitly through its magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian (x86, arm64, bpfel).
    Little,
    /// Big-endian (s390x, bpfeb).
    Big,
}

impl Endian {
    /// Detects the byte order from the first two bytes of a BTF or .BTF.ext blob.
    pub fn from_magic(what: &'static str, bytes: &[u8]) -> Result<Endian> {
        let b: [u8; 2] = bytes
            .get(..2)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| BtfError::Truncated {
                what: format!("{what} magic"),
                offset: 0,
                need: 2,
                have: bytes.len(),
            })?;
        if u16::from_le_bytes(b) == BTF_MAGIC {
            Ok(Endian::Little)
        } else if u16::from_be_bytes(b) == BTF_MAGIC {
            Ok(Endian::Big)
        } else {
            Err(BtfError::BadMagic {
                what,
                magic: u16::from_le_bytes(b),
            })
        }
    }

    /// Reads a u32 at `off`; the caller has checked the bounds (0 if it has not).
    #[inline(always)]
    pub fn u32(self, bytes: &[u8], off: usize) -> u32 {
        let Some(b) = bytes.get(off..).and_then(|s| s.first_chunk::<4>()) else {
            return 0;
        };
        match self {
            Endian::Little => u32::from_le_bytes(*b),
            Endian::Big => u32::from_be_bytes(*b),
        }
    }

    /// Reads a u32 at `off`, or reports `what` as truncated.
    pub fn u32_checked(self, bytes: &[u8], off: usize, what: &str) -> Result<u32> {
        if off.checked_add(4).is_none_or(|end| end > bytes.len()) {
            return Err(BtfError::Truncated {
                what: what.to_string(),
                offset: off,
                need: 4,
                have: bytes.len().saturating_sub(off),
            });
        }
        Ok(self.u32(bytes, off))
    }

    /// Writes a u32 in this byte order.
    pub fn put_u32(self, out: &mut Vec<u8>, v: u32) {
        match self {
            Endian::Little => out.extend_from_slice(&v.to_le_bytes()),
            Endian::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

/// A BTF kind (`BTF_KIND_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// The implicit type 0.
    Void = 0,
    /// `BTF_KIND_INT`.
    Int = 1,
    /// `BTF_KIND_PTR`.
    Ptr = 2,
    /// `BTF_KIND_ARRAY`.
    Array = 3,
    /// `BTF_KIND_STRUCT`.
    Struct = 4,
    /// `BTF_KIND_UNION`.
    Union = 5,
    /// `BTF_KIND_ENUM` (up to 32-bit values).
    Enum = 6,
    /// `BTF_KIND_FWD` (kflag set: union).
    Fwd = 7,
    /// `BTF_KIND_TYPEDEF`.
    Typedef = 8,
    /// `BTF_KIND_VOLATILE`.
    Volatile = 9,
    /// `BTF_KIND_CONST`.
    Const = 10,
    /// `BTF_KIND_RESTRICT`.
    Restrict = 11,
    /// `BTF_KIND_FUNC`.
    Func = 12,
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto = 13,
    /// `BTF_KIND_VAR`.
    Var = 14,
    /// `BTF_KIND_DATASEC`.
    Datasec = 15,
    /// `BTF_KIND_FLOAT`.
    Float = 16,
    /// `BTF_KIND_DECL_TAG`.
    DeclTag = 17,
    /// `BTF_KIND_TYPE_TAG`.
    TypeTag = 18,
    /// `BTF_KIND_ENUM64`.
    Enum64 = 19,
}

impl Kind {
    /// Number of kinds including `Void`.
    pub const COUNT: usize = 20;

    /// The kind for a raw kind number, if the kernel defines it.
    pub fn from_u32(k: u32) -> Option<Kind> {
        use Kind::*;
        Some(match k {
            0 => Void,
            1 => Int,
            2 => Ptr,
            3 => Array,
            4 => Struct,
            5 => Union,
            6 => Enum,
            7 => Fwd,
            8 => Typedef,
            9 => Volatile,
            10 => Const,
            11 => Restrict,
            12 => Func,
            13 => FuncProto,
            14 => Var,
            15 => Datasec,
            16 => Float,
            17 => DeclTag,
            18 => TypeTag,
            19 => Enum64,
            _ => return None,
        })
    }

    /// The name libbpf prints for this kind (`btf_kind_str`): `struct`, `func_proto`, ...
    pub fn name(self) -> &'static str {
        use Kind::*;
        match self {
            Void => "void",
            Int => "int",
            Ptr => "ptr",
            Array => "array",
            Struct => "struct",
            Union => "union",
            Enum => "enum",
            Fwd => "fwd",
            Typedef => "typedef",
            Volatile => "volatile",
            Const => "const",
            Restrict => "restrict",
            Func => "func",
            FuncProto => "func_proto",
            Var => "var",
            Datasec => "datasec",
            Float => "float",
            DeclTag => "decl_tag",
            TypeTag => "type_tag",
            Enum64 => "enum64",
        }
    }

    /// Bytes that follow the 12-byte header for a record of this kind with `vlen` entries.
    #[inline(always)]
    pub fn extra_len(self, vlen: u32) -> usize {
        let (unit, fixed) = EXTRA[self as usize];
        unit as usize * vlen as usize + fixed as usize
    }

    /// Whether the third header word is a size (rather than a type id).
    pub fn has_size(self) -> bool {
        use Kind::*;
        matches!(self, Int | Struct | Union | Enum | Enum64 | Datasec | Float)
    }

    /// Whether the third header word is a type id.
    pub fn has_type_ref(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Ptr | Typedef
                | Volatile
                | Const
                | Restrict
                | Func
                | FuncProto
                | Var
                | DeclTag
                | TypeTag
        )
    }

    /// Whether this is a modifier that C tooling looks through (const, volatile, restrict, type tag).
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Per raw kind number: (bytes per vlen entry, fixed extra bytes); `(0xff, 0xff)` marks a
/// kind the kernel does not define (and void, which never has a record).
pub(crate) const EXTRA: [(u8, u8); 32] = {
    let mut t = [(0xffu8, 0xffu8); 32];
    t[Kind::Int as usize] = (0, 4);
    t[Kind::Ptr as usize] = (0, 0);
    t[Kind::Array as usize] = (0, 12);
    t[Kind::Struct as usize] = (12, 0);
    t[Kind::Union as usize] = (12, 0);
    t[Kind::Enum as usize] = (8, 0);
    t[Kind::Fwd as usize] = (0, 0);
    t[Kind::Typedef as usize] = (0, 0);
    t[Kind::Volatile as usize] = (0, 0);
    t[Kind::Const as usize] = (0, 0);
    t[Kind::Restrict as usize] = (0, 0);
    t[Kind::Func as usize] = (0, 0);
    t[Kind::FuncProto as usize] = (8, 0);
    t[Kind::Var as usize] = (0, 4);
    t[Kind::Datasec as usize] = (12, 0);
    t[Kind::Float as usize] = (0, 0);
    t[Kind::DeclTag as usize] = (0, 4);
    t[Kind::TypeTag as usize] = (0, 0);
    t[Kind::Enum64 as usize] = (12, 0);
    t
};

/// `struct btf_header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Byte order of the blob.
    pub endian: Endian,
    /// Version (1).
    pub version: u8,
    /// Flags (0).
    pub flags: u8,
    /// Header length (24 for version 1; larger headers are accepted if the tail is zero).
    pub hdr_len: u32,
    /// Type section offset, relative to the end of the header.
    pub type_off: u32,
    /// Type section length.
    pub type_len: u32,
    /// String section offset, relative to the end of the header.
    pub str_off: u32,
    /// String section length.
    pub str_len: u32,
}

impl Header {
    /// Parses and checks a BTF header against the blob length.
    pub fn parse(bytes: &[u8]) -> Result<Header> {
        let endian = Endian::from_magic("BTF", bytes)?;
        if bytes.len() < BTF_HEADER_LEN {
            return Err(BtfError::Truncated {
                what: "BTF header".into(),
                offset: 0,
                need: BTF_HEADER_LEN,
                have: bytes.len(),
            });
        }
        let version = bytes[2];
        if version != 1 {
            return Err(BtfError::BadVersion {
                what: "BTF",
                version,
            });
        }
        let h = Header {
            endian,
            version,
            flags: bytes[3],
            hdr_len: endian.u32(bytes, 4),
            type_off: endian.u32(bytes, 8),
            type_len: endian.u32(bytes, 12),
            str_off: endian.u32(bytes, 16),
            str_len: endian.u32(bytes, 20),
        };
        let bad = |reason: String| BtfError::BadHeader {
            what: "BTF",
            reason,
        };
        let hdr_len = h.hdr_len as usize;
        if hdr_len < BTF_HEADER_LEN {
            return Err(bad(format!("hdr_len {hdr_len} < {BTF_HEADER_LEN}")));
        }
        if hdr_len > bytes.len() {
            return Err(bad(format!(
                "hdr_len {hdr_len} past the end of the blob ({} bytes)",
                bytes.len()
            )));
        }
        if bytes[BTF_HEADER_LEN..hdr_len].iter().any(|&b| b != 0) {
            return Err(bad("unknown non-zero header fields".into()));
        }
        let data_len = (bytes.len() - hdr_len) as u64;
        let (t0, t1) = (h.type_off as u64, h.type_off as u64 + h.type_len as u64);
        let (s0, s1) = (h.str_off as u64, h.str_off as u64 + h.str_len as u64);
        if t1 > data_len || s1 > data_len {
            return Err(bad(format!(
                "type section {t0}..{t1} or string section {s0}..{s1} past the end of data ({data_len} bytes)"
            )));
        }
        if h.type_off % 4 != 0 {
            return Err(bad(format!(
                "type_off {} is not 4-byte aligned",
                h.type_off
            )));
        }
        if t0 < s1 && s0 < t1 {
            return Err(bad(format!(
                "type section {t0}..{t1} overlaps string section {s0}..{s1}"
            )));
        }
        Ok(h)
    }

    /// Absolute byte range of the type section.
    pub fn type_range(&self) -> std::ops::Range<usize> {
        let start = self.hdr_len as usize + self.type_off as usize;
        start..start + self.type_len as usize
    }

    /// Absolute byte range of the string section.
    pub fn str_range(&self) -> std::ops::Range<usize> {
        let start = self.hdr_len as usize + self.str_off as usize;
        start..start + self.str_len as usize
    }
}
