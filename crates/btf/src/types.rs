//! [`Type`]: a zero-copy view of one BTF type record, and the views of its parts
//! (members, enumerators, parameters, data-section variables).

use crate::raw::{info_kind, info_vlen, Endian, Kind, TYPE_HEADER_LEN};
use crate::Btf;

/// A view of one type record. Cheap to copy; decodes fields from the blob on access.
#[derive(Clone, Copy)]
pub struct Type<'a> {
    btf: &'a Btf,
    id: u32,
    rec: &'a [u8],
}

/// `BTF_INT_SIGNED` in an INT's encoding.
pub const INT_SIGNED: u8 = 1;
/// `BTF_INT_CHAR`.
pub const INT_CHAR: u8 = 2;
/// `BTF_INT_BOOL`.
pub const INT_BOOL: u8 = 4;

/// `BTF_VAR_STATIC` and friends: a VAR's or FUNC's linkage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    /// Static (file-local).
    Static,
    /// Global, defined here.
    Global,
    /// Extern, defined elsewhere (`.kconfig`, `.ksyms`).
    Extern,
    /// A value the kernel does not define.
    Other(u32),
}

impl Linkage {
    fn from_u32(v: u32) -> Linkage {
        match v {
            0 => Linkage::Static,
            1 => Linkage::Global,
            2 => Linkage::Extern,
            v => Linkage::Other(v),
        }
    }
}

impl<'a> Type<'a> {
    /// The implicit `void` (id 0).
    pub(crate) fn void(btf: &'a Btf) -> Type<'a> {
        Type {
            btf,
            id: 0,
            rec: &[],
        }
    }

    pub(crate) fn new(btf: &'a Btf, id: u32, rec: &'a [u8]) -> Type<'a> {
        Type { btf, id, rec }
    }

    #[inline(always)]
    fn e(&self) -> Endian {
        self.btf.endian()
    }

    #[inline(always)]
    fn word(&self, i: usize) -> u32 {
        if self.rec.is_empty() {
            return 0;
        }
        self.e().u32(self.rec, i * 4)
    }

    /// The BTF this type belongs to.
    pub fn btf(&self) -> &'a Btf {
        self.btf
    }

    /// Its type id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Its kind; [`Kind::Void`] for a type of a kind this reader does not know (see
    /// [`Type::is_unknown_kind`]), which reads as opaque: no size, members or references.
    pub fn kind(&self) -> Kind {
        Kind::from_u32(self.raw_kind()).unwrap_or(Kind::Void)
    }

    /// The kind number as stored in the info word (bits 24-30); 0 for void.
    pub fn raw_kind(&self) -> u32 {
        info_kind(self.word(1))
    }

    /// Whether this is a type of a kind this reader does not know, which the parse
    /// stepped over using the BTF's layout section ([`Btf::unknown_kinds`]).
    pub fn is_unknown_kind(&self) -> bool {
        Kind::from_u32(self.raw_kind()).is_none()
    }

    /// Offset of its name in the string section.
    pub fn name_off(&self) -> u32 {
        self.word(0)
    }

    /// Its name; empty for anonymous types, `<invalid utf-8>` if the bytes are not UTF-8
    /// (use [`Type::name_bytes`] to compare names exactly).
    pub fn name(&self) -> &'a str {
        self.btf
            .str_at(self.name_off())
            .unwrap_or("<invalid utf-8>")
    }

    /// Its name as bytes.
    pub fn name_bytes(&self) -> &'a [u8] {
        self.btf.str_bytes_at(self.name_off()).unwrap_or(&[])
    }

    /// The info word's vlen (members, enumerators, parameters, variables): bits 0-23.
    pub fn vlen(&self) -> u32 {
        info_vlen(self.word(1))
    }

    /// The info word's kind flag: bitfield member encoding, union FWD, signed enum,
    /// attribute-style DECL_TAG/TYPE_TAG.
    pub fn kflag(&self) -> bool {
        self.word(1) >> 31 != 0
    }

    /// The size in bytes for INT, STRUCT, UNION, ENUM, ENUM64, DATASEC and FLOAT; 0 otherwise.
    pub fn size(&self) -> u32 {
        if self.kind().has_size() {
            self.word(2)
        } else {
            0
        }
    }

    /// The referenced type for PTR, TYPEDEF, modifiers, FUNC, FUNC_PROTO (return type),
    /// VAR and DECL_TAG; `None` for other kinds.
    pub fn type_id(&self) -> Option<u32> {
        self.kind().has_type_ref().then(|| self.word(2))
    }

    /// Whether this is a struct or union.
    pub fn is_composite(&self) -> bool {
        matches!(self.kind(), Kind::Struct | Kind::Union)
    }

    /// Whether this is an enum or enum64.
    pub fn is_any_enum(&self) -> bool {
        matches!(self.kind(), Kind::Enum | Kind::Enum64)
    }

    /// For INT: the encoding bits (see [`INT_SIGNED`], [`INT_CHAR`], [`INT_BOOL`]).
    pub fn int_encoding(&self) -> u8 {
        if self.kind() == Kind::Int {
            ((self.word(3) >> 24) & 0xf) as u8
        } else {
            0
        }
    }

    /// For INT: the bit offset of the value inside its storage (0 in practice).
    pub fn int_offset(&self) -> u32 {
        if self.kind() == Kind::Int {
            (self.word(3) >> 16) & 0xff
        } else {
            0
        }
    }

    /// For INT: the number of value bits.
    pub fn int_bits(&self) -> u32 {
        if self.kind() == Kind::Int {
            self.word(3) & 0xff
        } else {
            0
        }
    }

    /// For ARRAY: element type, index type and element count.
    pub fn array(&self) -> Option<Array> {
        (self.kind() == Kind::Array).then(|| Array {
            elem_type: self.word(3),
            index_type: self.word(4),
            nelems: self.word(5),
        })
    }

    /// For STRUCT and UNION: the members in declaration order (empty for other kinds).
    pub fn members(&self) -> Members<'a> {
        let n = if self.is_composite() { self.vlen() } else { 0 };
        Members { ty: *self, i: 0, n }
    }

    /// For STRUCT and UNION: member `i`.
    pub fn member(&self, i: u32) -> Option<Member<'a>> {
        self.members().nth(i as usize)
    }

    /// For ENUM and ENUM64: the enumerators in order (empty for other kinds).
    pub fn enumerators(&self) -> Enumerators<'a> {
        let n = if self.is_any_enum() { self.vlen() } else { 0 };
        Enumerators { ty: *self, i: 0, n }
    }

    /// For ENUM and ENUM64: whether values are signed (the kind flag).
    pub fn enum_signed(&self) -> bool {
        self.is_any_enum() && self.kflag()
    }

    /// For FUNC_PROTO: the parameters (a last one with type 0 means `...`).
    pub fn params(&self) -> Params<'a> {
        let n = if self.kind() == Kind::FuncProto {
            self.vlen()
        } else {
            0
        };
        Params { ty: *self, i: 0, n }
    }

    /// For VAR: its linkage; for FUNC: the linkage in vlen (static, global, extern).
    pub fn linkage(&self) -> Option<Linkage> {
        match self.kind() {
            Kind::Var => Some(Linkage::from_u32(self.word(3))),
            Kind::Func => Some(Linkage::from_u32(self.vlen())),
            _ => None,
        }
    }

    /// For DATASEC: the variables it holds, with their offsets and sizes.
    pub fn datasec_vars(&self) -> DatasecVars<'a> {
        let n = if self.kind() == Kind::Datasec {
            self.vlen()
        } else {
            0
        };
        DatasecVars { ty: *self, i: 0, n }
    }

    /// For DECL_TAG: the member or parameter index it applies to, `-1` for the whole type.
    pub fn decl_tag_component(&self) -> Option<i32> {
        (self.kind() == Kind::DeclTag).then(|| self.word(3) as i32)
    }

    /// For FWD: whether it declares a union (kind flag) rather than a struct.
    pub fn fwd_is_union(&self) -> bool {
        self.kind() == Kind::Fwd && self.kflag()
    }

    /// The raw record bytes (12-byte header and kind-specific data).
    pub fn raw(&self) -> &'a [u8] {
        self.rec
    }
}

impl std::fmt::Debug for Type<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.id, crate::fmt::KindName(*self))
    }
}

/// An ARRAY's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Array {
    /// Element type id.
    pub elem_type: u32,
    /// Index type id.
    pub index_type: u32,
    /// Number of elements (0 for a flexible array member).
    pub nelems: u32,
}

/// One struct or union member.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    btf: &'a Btf,
    /// Index of the member within its struct/union.
    pub index: u32,
    /// Offset of its name.
    pub name_off: u32,
    /// Its type id.
    pub type_id: u32,
    /// Bit offset from the start of the struct.
    pub bit_offset: u32,
    /// Bitfield size in bits, 0 for a plain member.
    pub bitfield_size: u32,
}

impl<'a> Member<'a> {
    /// Its name; empty for an anonymous member (an embedded struct or union).
    pub fn name(&self) -> &'a str {
        self.btf.str_at(self.name_off).unwrap_or("<invalid utf-8>")
    }

    /// Its name as bytes.
    pub fn name_bytes(&self) -> &'a [u8] {
        self.btf.str_bytes_at(self.name_off).unwrap_or(&[])
    }
}

/// Iterator over a struct's or union's members.
#[derive(Clone)]
pub struct Members<'a> {
    ty: Type<'a>,
    i: u32,
    n: u32,
}

impl<'a> Iterator for Members<'a> {
    type Item = Member<'a>;
    fn next(&mut self) -> Option<Member<'a>> {
        if self.i >= self.n {
            return None;
        }
        let base = TYPE_HEADER_LEN + self.i as usize * 12;
        let e = self.ty.e();
        let raw_off = e.u32(self.ty.rec, base + 8);
        let (bit_offset, bitfield_size) = if self.ty.kflag() {
            (raw_off & 0xff_ffff, raw_off >> 24)
        } else {
            (raw_off, 0)
        };
        let m = Member {
            btf: self.ty.btf,
            index: self.i,
            name_off: e.u32(self.ty.rec, base),
            type_id: e.u32(self.ty.rec, base + 4),
            bit_offset,
            bitfield_size,
        };
        self.i += 1;
        Some(m)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.n - self.i) as usize;
        (n, Some(n))
    }

    fn nth(&mut self, n: usize) -> Option<Member<'a>> {
        self.i = self.i.saturating_add(n.min(u32::MAX as usize) as u32);
        self.next()
    }
}

impl ExactSizeIterator for Members<'_> {}

/// One enumerator of an ENUM or ENUM64.
#[derive(Debug, Clone, Copy)]
pub struct Enumerator<'a> {
    btf: &'a Btf,
    /// Offset of its name.
    pub name_off: u32,
    /// The value's bits, sign-extended to 64 bits for signed 32-bit enums.
    pub value: u64,
    /// Whether the enum is signed (kind flag).
    pub signed: bool,
}

impl<'a> Enumerator<'a> {
    /// Its name.
    pub fn name(&self) -> &'a str {
        self.btf.str_at(self.name_off).unwrap_or("<invalid utf-8>")
    }

    /// Its name as bytes.
    pub fn name_bytes(&self) -> &'a [u8] {
        self.btf.str_bytes_at(self.name_off).unwrap_or(&[])
    }
}

/// Iterator over an enum's enumerators.
#[derive(Clone)]
pub struct Enumerators<'a> {
    ty: Type<'a>,
    i: u32,
    n: u32,
}

impl<'a> Iterator for Enumerators<'a> {
    type Item = Enumerator<'a>;
    fn next(&mut self) -> Option<Enumerator<'a>> {
        if self.i >= self.n {
            return None;
        }
        let e = self.ty.e();
        let signed = self.ty.kflag();
        let (name_off, value) = if self.ty.kind() == Kind::Enum {
            let base = TYPE_HEADER_LEN + self.i as usize * 8;
            let v = e.u32(self.ty.rec, base + 4);
            let v = if signed {
                v as i32 as i64 as u64
            } else {
                v as u64
            };
            (e.u32(self.ty.rec, base), v)
        } else {
            let base = TYPE_HEADER_LEN + self.i as usize * 12;
            let lo = e.u32(self.ty.rec, base + 4) as u64;
            let hi = e.u32(self.ty.rec, base + 8) as u64;
            (e.u32(self.ty.rec, base), hi << 32 | lo)
        };
        self.i += 1;
        Some(Enumerator {
            btf: self.ty.btf,
            name_off,
            value,
            signed,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.n - self.i) as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Enumerators<'_> {}

/// One FUNC_PROTO parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param<'a> {
    btf: &'a Btf,
    /// Offset of its name (0 in prototypes without names).
    pub name_off: u32,
    /// Its type id (0 with no name means a trailing `...`).
    pub type_id: u32,
}

impl<'a> Param<'a> {
    /// Its name (may be empty).
    pub fn name(&self) -> &'a str {
        self.btf.str_at(self.name_off).unwrap_or("<invalid utf-8>")
    }
}

/// Iterator over a function prototype's parameters.
#[derive(Clone)]
pub struct Params<'a> {
    ty: Type<'a>,
    i: u32,
    n: u32,
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;
    fn next(&mut self) -> Option<Param<'a>> {
        if self.i >= self.n {
            return None;
        }
        let base = TYPE_HEADER_LEN + self.i as usize * 8;
        let e = self.ty.e();
        self.i += 1;
        Some(Param {
            btf: self.ty.btf,
            name_off: e.u32(self.ty.rec, base),
            type_id: e.u32(self.ty.rec, base + 4),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.n - self.i) as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Params<'_> {}

/// One variable in a DATASEC (`struct btf_var_secinfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasecVar {
    /// The VAR (or FUNC, for `.ksyms` kfuncs) type id.
    pub type_id: u32,
    /// Offset within the section.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// Iterator over a DATASEC's variables.
#[derive(Clone)]
pub struct DatasecVars<'a> {
    ty: Type<'a>,
    i: u32,
    n: u32,
}

impl Iterator for DatasecVars<'_> {
    type Item = DatasecVar;
    fn next(&mut self) -> Option<DatasecVar> {
        if self.i >= self.n {
            return None;
        }
        let base = TYPE_HEADER_LEN + self.i as usize * 12;
        let e = self.ty.e();
        self.i += 1;
        Some(DatasecVar {
            type_id: e.u32(self.ty.rec, base),
            offset: e.u32(self.ty.rec, base + 4),
            size: e.u32(self.ty.rec, base + 8),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.n - self.i) as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for DatasecVars<'_> {}
