//! Struct and union layouts: the Rust fields (members, explicit padding, bitfield storage)
//! at the BTF's offsets, and the accessor methods for bitfields and union members.

use corebpf_btf::{Kind, Member, Type};

use crate::model::{Prim, Ty, Types};
use crate::names::{escape, sanitize, Namespace};
use crate::GenError;

/// One Rust field.
#[derive(Debug)]
pub(crate) struct Field {
    /// Its name (escaped).
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// Its byte offset.
    pub offset: u32,
    /// Its doc line.
    pub doc: String,
}

/// Where an accessor's value lives in its storage field.
#[derive(Debug)]
pub(crate) enum Place {
    /// Whole bytes at this offset in the storage.
    Bytes(u32),
    /// `bits` bits from bit `bit` of the storage (little-endian bit numbering).
    Bits { bit: u32, bits: u32 },
}

/// A getter/setter pair over a storage field (a bitfield, a union member).
#[derive(Debug)]
pub(crate) struct Accessor {
    /// The getter's name (escaped); the setter is `set_<name>`.
    pub name: String,
    /// The setter's name (escaped).
    pub setter: String,
    /// The storage field's name.
    pub field: String,
    /// The value's type.
    pub ty: Ty,
    /// Where it lives.
    pub place: Place,
    /// The doc line.
    pub doc: String,
}

/// A struct's or union's Rust layout.
#[derive(Debug)]
pub(crate) struct Layout {
    /// `#[repr(C, packed)]`: some member is not at an offset its Rust alignment allows.
    pub packed: bool,
    /// Whether it is a union (one byte-array field, accessors for the members).
    pub union: bool,
    /// The fields in order.
    pub fields: Vec<Field>,
    /// Accessors of bitfields and union members.
    pub accessors: Vec<Accessor>,
    /// The Rust alignment.
    pub align: u32,
}

/// How one member sits: a plain member, or a bitfield.
struct Slot<'a> {
    m: Member<'a>,
    /// C name, or `__anon_<index>` for an anonymous member.
    name: String,
    bitfield: Option<(u32, u32)>,
}

/// Lays out struct or union `t`, named `name` (member types reached from here are named
/// `<name>__<member>` when anonymous).
pub(crate) fn layout(types: &mut Types<'_>, t: Type<'_>, name: &str) -> Result<Layout, GenError> {
    let slots = slots(types, t)?;
    let mut fields_ns = Namespace::default();
    let mut methods_ns = Namespace::default();
    for s in &slots {
        fields_ns.take(&s.name);
    }
    let mut l = Layout {
        packed: false,
        union: t.kind() == Kind::Union,
        fields: Vec::new(),
        accessors: Vec::new(),
        align: 1,
    };
    if l.union {
        union_fields(types, &slots, name, t.size(), &mut l, &mut methods_ns)?;
    } else {
        struct_fields(
            types,
            &slots,
            name,
            t.size(),
            &mut l,
            &mut fields_ns,
            &mut methods_ns,
        )?;
    }
    finish(types, &mut l, t.size());
    Ok(l)
}

/// The members with their names and bitfield positions.
fn slots<'a>(types: &Types<'a>, t: Type<'a>) -> Result<Vec<Slot<'a>>, GenError> {
    t.members()
        .map(|m| {
            let name = match m.name() {
                "" => format!("__anon_{}", m.index),
                n => n.to_string(),
            };
            let bitfield = bitfield(types, m)?;
            Ok(Slot { m, name, bitfield })
        })
        .collect()
}

/// `(bit offset, bits)` if member `m` is a bitfield: a bitfield size, an offset that is not
/// whole bytes, or (BTF without the kind flag) an INT narrower than its storage.
fn bitfield(types: &Types<'_>, m: Member<'_>) -> Result<Option<(u32, u32)>, GenError> {
    if m.bitfield_size > 0 {
        return Ok(Some((m.bit_offset, m.bitfield_size)));
    }
    let mt = types.btf.skip_mods_and_typedefs(m.type_id)?;
    let too_far = || {
        types.unsupported(
            m.type_id,
            m.name(),
            "its bit offset or width does not fit in 32 bits",
        )
    };
    if mt.kind() == Kind::Int
        && (u64::from(mt.int_bits()) != u64::from(mt.size()) * 8 || mt.int_offset() != 0)
    {
        let bit = m
            .bit_offset
            .checked_add(mt.int_offset())
            .ok_or_else(too_far)?;
        return Ok(Some((bit, mt.int_bits())));
    }
    if m.bit_offset % 8 != 0 {
        let bits = types
            .btf
            .size_of(m.type_id)?
            .checked_mul(8)
            .ok_or_else(too_far)?;
        return Ok(Some((m.bit_offset, bits)));
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
fn struct_fields(
    types: &mut Types<'_>,
    slots: &[Slot<'_>],
    name: &str,
    size: u32,
    l: &mut Layout,
    fields_ns: &mut Namespace,
    methods_ns: &mut Namespace,
) -> Result<(), GenError> {
    let mut cursor = 0u32;
    let mut i = 0;
    while i < slots.len() {
        let s = &slots[i];
        if s.bitfield.is_some() {
            let run = slots[i..]
                .iter()
                .take_while(|s| s.bitfield.is_some())
                .count();
            cursor = bitfield_run(
                types,
                &slots[i..i + run],
                (name, size),
                cursor,
                l,
                fields_ns,
                methods_ns,
            )?;
            i += run;
            continue;
        }
        let off = s.m.bit_offset / 8;
        let what = format!("{name}.{}", s.name);
        if off < cursor {
            return Err(types.unsupported(s.m.type_id, &what, "it overlaps the member before"));
        }
        pad(l, fields_ns, cursor, off);
        let ty = types.ty_of(s.m.type_id, &member_hint(name, &s.name), &what)?;
        let msize = types.size_of(&ty);
        let end = u64::from(off) + msize;
        if end > u64::from(size) {
            return Err(types.unsupported(s.m.type_id, &what, "it ends past its struct"));
        }
        let doc = format!("`{}` at offset {off} ({msize} bytes).", c_member(types, s));
        l.fields.push(Field {
            name: escape(&sanitize(&s.name)),
            ty,
            offset: off,
            doc,
        });
        cursor = end as u32;
        i += 1;
    }
    pad(l, fields_ns, cursor, size);
    Ok(())
}

/// One run of adjacent bitfields: a byte-array storage field covering them and an accessor
/// per bitfield. Returns the byte after the storage.
#[allow(clippy::too_many_arguments)]
fn bitfield_run(
    types: &mut Types<'_>,
    run: &[Slot<'_>],
    (name, size): (&str, u32),
    cursor: u32,
    l: &mut Layout,
    fields_ns: &mut Namespace,
    methods_ns: &mut Namespace,
) -> Result<u32, GenError> {
    let first_bit = run
        .iter()
        .filter_map(|s| s.bitfield)
        .map(|b| b.0)
        .min()
        .unwrap_or(0);
    let end_bit = run
        .iter()
        .filter_map(|s| s.bitfield)
        .map(|(off, bits)| u64::from(off) + u64::from(bits))
        .max()
        .unwrap_or(0);
    let start = first_bit / 8;
    let end_byte = end_bit.div_ceil(8);
    let refuse = |why: &str| {
        let s = &run[0];
        Err(types.unsupported(s.m.type_id, &format!("{name}.{}", s.name), why))
    };
    if start < cursor {
        return refuse("it overlaps the member before");
    }
    if end_byte > u64::from(size) {
        return refuse("it ends past its struct");
    }
    let end = end_byte as u32; // at most `size`
    pad(l, fields_ns, cursor, start);
    let field = fields_ns.take(&format!("__bf_{start}"));
    l.fields.push(Field {
        name: field.clone(),
        ty: Ty::Array(Box::new(Ty::Prim(Prim::U8)), end - start),
        offset: start,
        doc: format!("Bitfield storage: bytes {start}..{end} (see the accessors)."),
    });
    for s in run {
        let (bit, bits) = s.bitfield.unwrap_or((0, 0));
        let ty = bitfield_type(types, s, name)?;
        let doc = format!("`{}`: {bits} bits at bit {bit}.", c_member(types, s));
        let place = Place::Bits {
            bit: bit - start * 8,
            bits,
        };
        push_accessor(l, methods_ns, &s.name, &field, ty, place, doc);
    }
    Ok(end)
}

/// A bitfield's value type: an integer, `bool` or an enum newtype, at most 64 bits.
fn bitfield_type(types: &mut Types<'_>, s: &Slot<'_>, name: &str) -> Result<Ty, GenError> {
    let what = format!("{name}.{}", s.name);
    let ty = types.ty_of(s.m.type_id, &member_hint(name, &s.name), &what)?;
    let bits = s.bitfield.map_or(0, |b| b.1);
    let ok = match &ty {
        Ty::Prim(p) => !matches!(p, Prim::F32 | Prim::F64) && p.size() <= 8,
        Ty::Named(i) => matches!(types.decls[*i].body, crate::model::Body::Enum { .. }),
        Ty::Array(..) => false,
    };
    if !ok || bits > 64 {
        return Err(types.unsupported(s.m.type_id, &what, "a bitfield of this type"));
    }
    Ok(ty)
}

fn union_fields(
    types: &mut Types<'_>,
    slots: &[Slot<'_>],
    name: &str,
    size: u32,
    l: &mut Layout,
    methods_ns: &mut Namespace,
) -> Result<(), GenError> {
    l.fields.push(Field {
        name: "raw".to_string(),
        ty: Ty::Array(Box::new(Ty::Prim(Prim::U8)), size),
        offset: 0,
        doc: "The union's bytes (see the accessors).".to_string(),
    });
    for s in slots {
        let what = format!("{name}.{}", s.name);
        let (ty, place) = match s.bitfield {
            Some((bit, bits)) => (bitfield_type(types, s, name)?, Place::Bits { bit, bits }),
            None => {
                let ty = types.ty_of(s.m.type_id, &member_hint(name, &s.name), &what)?;
                (ty, Place::Bytes(s.m.bit_offset / 8))
            }
        };
        let end = match place {
            Place::Bytes(off) => u64::from(off) + types.size_of(&ty),
            Place::Bits { bit, bits } => (u64::from(bit) + u64::from(bits)).div_ceil(8),
        };
        if end > u64::from(size) {
            return Err(types.unsupported(s.m.type_id, &what, "it ends past its union"));
        }
        let doc = format!("`{}`.", c_member(types, s));
        push_accessor(l, methods_ns, &s.name, "raw", ty, place, doc);
    }
    Ok(())
}

fn push_accessor(
    l: &mut Layout,
    methods_ns: &mut Namespace,
    member: &str,
    field: &str,
    ty: Ty,
    place: Place,
    doc: String,
) {
    let (name, setter) = methods_ns.take_pair(member);
    l.accessors.push(Accessor {
        name,
        setter,
        field: field.to_string(),
        ty,
        place,
        doc,
    });
}

/// Explicit padding from `from` to `to`.
fn pad(l: &mut Layout, fields_ns: &mut Namespace, from: u32, to: u32) {
    if to > from {
        l.fields.push(Field {
            name: fields_ns.take(&format!("__pad_{from}")),
            ty: Ty::Array(Box::new(Ty::Prim(Prim::U8)), to - from),
            offset: from,
            doc: "Padding.".to_string(),
        });
    }
}

/// Packed if a field sits where its Rust alignment would move it or the size is not a
/// multiple of the alignment; the Rust alignment otherwise.
fn finish(types: &Types<'_>, l: &mut Layout, size: u32) {
    let align = l
        .fields
        .iter()
        .map(|f| types.align_of(&f.ty))
        .max()
        .unwrap_or(1);
    let misplaced = l
        .fields
        .iter()
        .any(|f| f.offset % types.align_of(&f.ty) != 0);
    l.packed = misplaced || size % align != 0;
    l.align = if l.packed { 1 } else { align };
}

/// How the C source declares a member (`__u32 pid`, `union <anon> (anonymous member)`).
fn c_member(types: &Types<'_>, s: &Slot<'_>) -> String {
    let ty = crate::model::c_type(types.btf, s.m.type_id);
    if s.m.name().is_empty() {
        format!("{ty} (anonymous member)")
    } else {
        format!("{ty} {}", s.m.name())
    }
}

/// The name an anonymous type of member `member` of `parent` gets: `<parent>__<member>`
/// (`event__anon_3` for an anonymous member).
fn member_hint(parent: &str, member: &str) -> String {
    format!("{parent}__{}", member.trim_start_matches('_'))
}
