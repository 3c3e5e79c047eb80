//! Computing a relocation's value from a spec (libbpf's `bpf_core_calc_relo` and its field,
//! type and enum-value helpers).

use crate::ext::CoreReloKind;
use crate::raw::{Endian, Kind};
use crate::Type;

use super::spec::{Accessor, Spec};
use super::ReloError;

/// The outcome of one relocation against one candidate (or against none): the value the
/// instruction has and the value it gets (libbpf's `bpf_core_relo_res`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    /// The value computed from the local spec (what the instruction should hold).
    pub orig_val: u64,
    /// The value computed from the target spec.
    pub new_val: u64,
    /// No usable target: replace the instruction with an invalid call.
    pub poison: bool,
    /// Check that the instruction holds `orig_val` before patching.
    pub validate: bool,
    /// A load/store's size would change in a way that reads a wrong value.
    pub fail_memsz_adjust: bool,
    /// Local field size (for load/store size adjustment), 0 if not applicable.
    pub orig_sz: u32,
    /// Target field size.
    pub new_sz: u32,
    /// Local field type id.
    pub orig_type_id: u32,
    /// Target field type id.
    pub new_type_id: u32,
}

/// Computes the local and target values for `local` against `targ` (`None`: no matching
/// candidate).
pub(crate) fn calc_relo(
    local: &Spec<'_>,
    targ: Option<&Spec<'_>>,
) -> Result<Resolution, ReloError> {
    let mut res = Resolution {
        validate: true,
        ..Resolution::default()
    };
    let kind = local.kind;
    let mut validate = true;
    if kind.is_field_based() {
        (res.orig_val, res.orig_sz, res.orig_type_id) = calc_field(local, Some(&mut validate))?;
        (res.new_val, res.new_sz, res.new_type_id) = match targ {
            Some(t) => calc_field(t, None)?,
            None if kind == CoreReloKind::FieldExists => (0, 0, 0),
            None => return Ok(poisoned(res)),
        };
    } else if kind.is_type_based() {
        res.orig_val = calc_type(local, Some(&mut validate))?;
        // Type-based relocations resolve to zero when no target type matched.
        res.new_val = match targ {
            Some(t) => calc_type(t, None)?,
            None => 0,
        };
    } else {
        res.orig_val = calc_enumval(local)?;
        res.new_val = match targ {
            Some(t) => calc_enumval(t)?,
            None if kind == CoreReloKind::EnumvalExists => 0,
            None => return Ok(poisoned(res)),
        };
    }
    res.validate = validate;
    if kind.is_field_based() && res.orig_sz != res.new_sz {
        if let Some(targ) = targ {
            let o = local.btf.type_by_id(res.orig_type_id)?;
            let n = targ.btf.type_by_id(res.new_type_id)?;
            // Safe size changes: a pointer (BPF pointers are 64-bit) or an unsigned integer,
            // both zero-extended by a narrower load.
            let ptrs = o.kind() == Kind::Ptr && n.kind() == Kind::Ptr;
            let unsigned = o.kind() == Kind::Int
                && n.kind() == Kind::Int
                && o.int_encoding() != crate::INT_SIGNED
                && n.int_encoding() != crate::INT_SIGNED;
            res.fail_memsz_adjust = !(ptrs || unsigned);
        }
    }
    Ok(res)
}

/// No usable target: the instruction gets poisoned (libbpf's -EUCLEAN).
fn poisoned(mut res: Resolution) -> Resolution {
    res.poison = true;
    res
}

/// (value, field size for load/store adjustment, field type id) of a field relocation.
fn calc_field(spec: &Spec<'_>, validate: Option<&mut bool>) -> Result<(u64, u32, u32), ReloError> {
    let kind = spec.kind;
    if kind == CoreReloKind::FieldExists {
        return Ok((1, 0, 0));
    }
    let acc = spec.accessors.last().ok_or(ReloError::Overflow)?;
    if acc.name.is_none() {
        return calc_element(spec, acc.type_id, validate);
    }
    let (loc, mt) = field_location(spec, acc)?;
    let (val, v) = field_value(kind, &loc, mt, spec.btf.endian())?;
    if let Some(out) = validate {
        *out = v;
    }
    if kind == CoreReloKind::FieldByteOffset && !loc.bitfield {
        // A plain field's load/store may need its size adjusted to the target's.
        return Ok((val, loc.byte_sz, loc.type_id));
    }
    Ok((val, 0, 0))
}

/// A field relocation whose last accessor is an array element (or the root) accessed by
/// index: only its offset and size make sense.
fn calc_element(
    spec: &Spec<'_>,
    type_id: u32,
    validate: Option<&mut bool>,
) -> Result<(u64, u32, u32), ReloError> {
    let sz = spec.btf.size_of(type_id)?;
    if let Some(v) = validate {
        *v = true;
    }
    match spec.kind {
        CoreReloKind::FieldByteOffset => Ok(((spec.bit_offset / 8) as u64, sz, type_id)),
        CoreReloKind::FieldByteSize => Ok((sz as u64, 0, 0)),
        k => Err(ReloError::ArrayAccess(k)),
    }
}

/// Where a member lives and how it is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldLoc {
    /// Bit offset from the root.
    bit_off: u32,
    /// Bits wide (the bitfield's width, or the whole field's).
    bit_sz: u32,
    /// Offset of the load that reads it.
    byte_off: u32,
    /// Size of that load.
    byte_sz: u32,
    /// Whether it is a bitfield.
    bitfield: bool,
    /// Its type, modifiers and typedefs skipped.
    type_id: u32,
}

/// Locates the member named by the last accessor `acc` of `spec` (libbpf's
/// `bpf_core_calc_field_relo` up to the switch on the kind).
fn field_location<'a>(spec: &Spec<'a>, acc: &Accessor) -> Result<(FieldLoc, Type<'a>), ReloError> {
    let btf = spec.btf;
    let t = btf.type_by_id(acc.type_id)?;
    let m = t.member(acc.idx).ok_or(ReloError::Overflow)?;
    let mt = btf.skip_mods_and_typedefs(m.type_id)?;
    let bit_off = spec.bit_offset;
    let mut loc = FieldLoc {
        bit_off,
        bit_sz: m.bitfield_size,
        byte_off: 0,
        byte_sz: 0,
        bitfield: m.bitfield_size > 0,
        type_id: mt.id(),
    };
    if loc.bitfield {
        (loc.byte_off, loc.byte_sz) = bitfield_load(bit_off, loc.bit_sz, mt.size())?;
    } else {
        loc.byte_sz = btf.size_of(loc.type_id)?;
        loc.byte_off = bit_off / 8;
        loc.bit_sz = loc.byte_sz.saturating_mul(8);
    }
    Ok((loc, mt))
}

/// (byte offset, byte size) of the smallest naturally aligned power-of-two load, at least
/// the field type's size, that covers `bit_sz` bits at `bit_off`.
fn bitfield_load(bit_off: u32, bit_sz: u32, type_size: u32) -> Result<(u32, u32), ReloError> {
    let mut sz = type_size.max(1);
    let mut off = bit_off / 8 / sz * sz;
    while bit_off + bit_sz - off * 8 > sz * 8 {
        if sz >= 8 {
            return Err(ReloError::Bitfield);
        }
        sz *= 2;
        off = bit_off / 8 / sz * sz;
    }
    Ok((off, sz))
}

/// (value, whether the instruction's current value can be validated) of field relocation
/// `kind` for the field at `loc` of type `mt`, in BTF of byte order `endian`.
fn field_value(
    kind: CoreReloKind,
    loc: &FieldLoc,
    mt: Type<'_>,
    endian: Endian,
) -> Result<(u64, bool), ReloError> {
    // For bitfields the compiler may have chosen differently; only signedness and the
    // right shift are unambiguous.
    let ambiguous = loc.bitfield;
    Ok(match kind {
        CoreReloKind::FieldByteOffset => (loc.byte_off as u64, !ambiguous),
        CoreReloKind::FieldByteSize => (loc.byte_sz as u64, !ambiguous),
        CoreReloKind::FieldSigned => (is_signed(mt) as u64, true),
        CoreReloKind::FieldLshiftU64 => (lshift_u64(loc, endian), !ambiguous),
        CoreReloKind::FieldRshiftU64 => (64u64.wrapping_sub(loc.bit_sz as u64), true),
        k => return Err(ReloError::Unsupported(k as u32)),
    })
}

/// Whether a field of type `mt` is signed: a signed INT, or an enum with the signed flag.
fn is_signed(mt: Type<'_>) -> bool {
    (mt.is_any_enum() && mt.kflag())
        || (mt.kind() == Kind::Int && mt.int_encoding() & crate::INT_SIGNED != 0)
}

/// Left shift that puts the field's top bit at bit 63 of a 64-bit register after a
/// `byte_sz` load.
fn lshift_u64(loc: &FieldLoc, endian: Endian) -> u64 {
    match endian {
        Endian::Little => 64u64.wrapping_sub((loc.bit_off + loc.bit_sz - loc.byte_off * 8) as u64),
        Endian::Big => {
            ((8 - loc.byte_sz as u64) * 8).wrapping_add((loc.bit_off - loc.byte_off * 8) as u64)
        }
    }
}

/// Value of a type-based relocation (`spec` is the local or the matched target spec).
fn calc_type(spec: &Spec<'_>, validate: Option<&mut bool>) -> Result<u64, ReloError> {
    Ok(match spec.kind {
        CoreReloKind::TypeIdTarget => {
            // Type ids in instructions can change when objects are linked: don't validate.
            if let Some(v) = validate {
                *v = false;
            }
            spec.root_type_id as u64
        }
        CoreReloKind::TypeExists | CoreReloKind::TypeMatches => 1,
        CoreReloKind::TypeSize => spec.btf.size_of(spec.root_type_id)? as u64,
        k => return Err(ReloError::Unsupported(k as u32)),
    })
}

/// Value of an enum-value relocation: 1 for existence, else the enumerator's value (a
/// 32-bit enum's value sign-extended, as libbpf stores it in an `__s32`).
fn calc_enumval(spec: &Spec<'_>) -> Result<u64, ReloError> {
    if spec.kind == CoreReloKind::EnumvalExists {
        return Ok(1);
    }
    let acc = spec.accessors.first().ok_or(ReloError::Overflow)?;
    let t = spec.btf.type_by_id(acc.type_id)?;
    let e = t
        .enumerators()
        .nth(acc.idx as usize)
        .ok_or(ReloError::Overflow)?;
    Ok(if t.kind() == Kind::Enum {
        e.value as u32 as i32 as i64 as u64
    } else {
        e.value
    })
}
