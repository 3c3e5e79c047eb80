//! On-disk layout of BTF: header, kinds, record sizes, and an endian-aware reader.
//!
//! Follows `include/uapi/linux/btf.h` and Documentation/bpf/btf.rst.

use crate::{BtfError, Result};

/// BTF and .BTF.ext magic, as stored by a little-endian producer.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// Size of `struct btf_header` for version 1 without a layout section.
pub const BTF_HEADER_LEN: usize = 24;
/// Size of `struct btf_header` with `layout_off` and `layout_len` (pahole 1.31+, Linux 7.1+).
pub const BTF_LAYOUT_HEADER_LEN: usize = 32;
/// Size of `struct btf_type` (name_off, info, size/type).
pub const TYPE_HEADER_LEN: usize = 12;
/// Largest vlen the info word holds (`BTF_MAX_VLEN`): 24 bits since Linux 7.1 (older
/// kernels took 16, and encoders left the upper 8 zero).
pub const MAX_VLEN: u32 = 0xff_ffff;
/// Largest kind number the info word holds (`BTF_MAX_KIND`): 7 bits since Linux 7.1.
pub const MAX_KIND: u32 = 0x7f;

/// The kind number of a `btf_type.info` word (bits 24-30, libbpf's `btf_kind`).
#[inline(always)]
pub(crate) fn info_kind(info: u32) -> u32 {
    (info >> 24) & MAX_KIND
}

/// The vlen of a `btf_type.info` word (bits 0-23, libbpf's `btf_vlen`).
#[inline(always)]
pub(crate) fn info_vlen(info: u32) -> u32 {
    info & MAX_VLEN
}

/// A `btf_type.info` word.
#[inline]
pub(crate) fn info_word(kind: u32, vlen: u32, kflag: bool) -> u32 {
    (kind & MAX_KIND) << 24 | (vlen & MAX_VLEN) | (kflag as u32) << 31
}

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

    /// The shape of this kind's records as a layout section describes it (libbpf's
    /// `layouts` table): bytes after the 12-byte header, and bytes per vlen entry.
    /// Void has no records and gets `0, 0`.
    pub fn layout(self) -> KindLayout {
        match EXTRA[self as usize] {
            (0xff, _) => KindLayout::default(),
            (unit, fixed) => KindLayout {
                info_sz: fixed,
                elem_sz: unit,
                flags: 0,
            },
        }
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

/// One entry of a BTF layout section (`struct btf_layout`): how big a kind's records are,
/// so that a reader can step over records of kinds it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KindLayout {
    /// Bytes of the kind's single element after the 12-byte `btf_type` (an INT's encoding,
    /// an ARRAY's `btf_array`).
    pub info_sz: u8,
    /// Bytes of each of the `vlen` elements after that (a member, a parameter).
    pub elem_sz: u8,
    /// Unused so far (the kernel defines none).
    pub flags: u16,
}

impl KindLayout {
    /// The entries for kinds 0 (void) to 19 (ENUM64), as libbpf's `layouts` table and
    /// pahole write them.
    pub fn known() -> Vec<KindLayout> {
        (0..Kind::COUNT as u32)
            .filter_map(Kind::from_u32)
            .map(Kind::layout)
            .collect()
    }
}

/// Size of one `struct btf_layout`.
pub const KIND_LAYOUT_LEN: usize = 4;

/// Per raw kind number (`0..=MAX_KIND`): (bytes per vlen entry, fixed extra bytes);
/// `(0xff, 0xff)` marks a kind this reader does not define (and void, which never has a
/// record). A blob's own table adds the kinds its layout section describes.
pub(crate) type Sizes = [(u8, u8); MAX_KIND as usize + 1];

/// [`Sizes`] of the kinds this reader knows.
pub(crate) const EXTRA: Sizes = {
    let mut t = [(0xffu8, 0xffu8); MAX_KIND as usize + 1];
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
    /// Header length: 24, or 32 with the layout fields. Longer headers are read like
    /// libbpf: the first 32 bytes count, anything after them is ignored.
    pub hdr_len: u32,
    /// Type section offset, relative to the end of the header.
    pub type_off: u32,
    /// Type section length.
    pub type_len: u32,
    /// String section offset, relative to the end of the header.
    pub str_off: u32,
    /// String section length.
    pub str_len: u32,
    /// Layout section offset, relative to the end of the header (0 without one).
    pub layout_off: u32,
    /// Layout section length: 4 bytes per kind (0 without one).
    pub layout_len: u32,
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
        let hdr_len = endian.u32(bytes, 4);
        let h = Header::read(endian, bytes, hdr_len)?;
        h.check_sections(bytes.len())?;
        h.check_layout()?;
        Ok(h)
    }

    /// Reads the fields: as libbpf, the first `min(hdr_len, 32)` bytes over a zeroed
    /// header, so a 24-byte header has no layout section.
    fn read(endian: Endian, bytes: &[u8], hdr_len: u32) -> Result<Header> {
        let n = hdr_len as usize;
        if n < BTF_HEADER_LEN {
            return Err(bad_header(format!("hdr_len {n} < {BTF_HEADER_LEN}")));
        }
        if n > bytes.len() {
            return Err(bad_header(format!(
                "hdr_len {n} past the end of the blob ({} bytes)",
                bytes.len()
            )));
        }
        let mut raw = [0u8; BTF_LAYOUT_HEADER_LEN];
        let known = n.min(BTF_LAYOUT_HEADER_LEN);
        raw[..known].copy_from_slice(&bytes[..known]);
        if let Some(i) = bytes[known..n].iter().position(|&b| b != 0) {
            // libbpf reads such BTF too (and only refuses to modify it).
            log::debug!(
                "BTF header: unknown non-zero data at offset {}, ignored",
                known + i
            );
        }
        Ok(Header {
            endian,
            version: bytes[2],
            flags: bytes[3],
            hdr_len,
            type_off: endian.u32(&raw, 8),
            type_len: endian.u32(&raw, 12),
            str_off: endian.u32(&raw, 16),
            str_len: endian.u32(&raw, 20),
            layout_off: endian.u32(&raw, 24),
            layout_len: endian.u32(&raw, 28),
        })
    }

    /// The type and string sections lie in the blob, aligned and apart.
    fn check_sections(&self, blob_len: usize) -> Result<()> {
        let data_len = (blob_len - self.hdr_len as usize) as u64;
        let (t0, t1) = (self.type_off as u64, end(self.type_off, self.type_len));
        let (s0, s1) = (self.str_off as u64, end(self.str_off, self.str_len));
        if t1 > data_len || s1 > data_len {
            return Err(bad_header(format!(
                "type section {t0}..{t1} or string section {s0}..{s1} past the end of data ({data_len} bytes)"
            )));
        }
        if self.type_off % 4 != 0 {
            return Err(bad_header(format!(
                "type_off {} is not 4-byte aligned",
                self.type_off
            )));
        }
        if t0 < s1 && s0 < t1 {
            return Err(bad_header(format!(
                "type section {t0}..{t1} overlaps string section {s0}..{s1}"
            )));
        }
        Ok(())
    }

    /// The layout section, if any, is 4-byte aligned, whole entries, and between the end
    /// of the types and the start of the strings (libbpf's `btf_parse_hdr`).
    fn check_layout(&self) -> Result<()> {
        if self.layout_len == 0 {
            return Ok(());
        }
        let (l0, l1) = (
            self.layout_off as u64,
            end(self.layout_off, self.layout_len),
        );
        let types_end = end(self.type_off, self.type_len);
        let bad = |reason: String| Err(BtfError::BadLayout { reason });
        if self.layout_off % 4 != 0 {
            return bad(format!("layout_off {l0} is not 4-byte aligned"));
        }
        if self.layout_len as usize % KIND_LAYOUT_LEN != 0 {
            return bad(format!(
                "layout_len {} is not a multiple of {KIND_LAYOUT_LEN} (one entry per kind)",
                self.layout_len
            ));
        }
        if l0 < types_end {
            return bad(format!(
                "layout section {l0}..{l1} starts before the type section {}..{types_end} ends",
                self.type_off
            ));
        }
        if l1 > self.str_off as u64 {
            return bad(format!(
                "layout section {l0}..{l1} runs into the string section at {}",
                self.str_off
            ));
        }
        Ok(())
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

    /// Absolute byte range of the layout section, if the blob has one.
    pub fn layout_range(&self) -> Option<std::ops::Range<usize>> {
        let start = self.hdr_len as usize + self.layout_off as usize;
        (self.layout_len != 0).then(|| start..start + self.layout_len as usize)
    }
}

fn end(off: u32, len: u32) -> u64 {
    off as u64 + len as u64
}

fn bad_header(reason: String) -> BtfError {
    BtfError::BadHeader {
        what: "BTF",
        reason,
    }
}
