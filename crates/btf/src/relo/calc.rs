//! Computing a relocation's value from a spec (libbpf's `bpf_core_calc_relo` and its field,
//! type and enum-value helpers).

use crate::ext::CoreReloKind;
use crate::raw::{Endian, Kind};

use super::spec::Spec;
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
    let btf = spec.btf;
    let acc = spec.accessors.last().ok_or(ReloError::Overflow)?;
    if acc.name.is_none() {
        // An array element (or the root) accessed by index.
        let sz = btf.size_of(acc.type_id)?;
        if let Some(v) = validate {
            *v = true;
        }
        return match kind {
            CoreReloKind::FieldByteOffset => Ok(((spec.bit_offset / 8) as u64, sz, acc.type_id)),
            CoreReloKind::FieldByteSize => Ok((sz as u64, 0, 0)),
            k => Err(ReloError::ArrayAccess(k)),
        };
    }
    let t = btf.type_by_id(acc.type_id)?;
    let m = t.member(acc.idx).ok_or(ReloError::Overflow)?;
    let mt = btf.skip_mods_and_typedefs(m.type_id)?;
    let field_type_id = mt.id();
    let bit_off = spec.bit_offset;
    let mut bit_sz = m.bitfield_size;
    let bitfield = bit_sz > 0;
    let (byte_off, byte_sz);
    if bitfield {
        let mut sz = mt.size().max(1);
        let mut off = bit_off / 8 / sz * sz;
        // The smallest power-of-two load that covers the bitfield.
        while bit_off + bit_sz - off * 8 > sz * 8 {
            if sz >= 8 {
                return Err(ReloError::Bitfield);
            }
            sz *= 2;
            off = bit_off / 8 / sz * sz;
        }
        (byte_off, byte_sz) = (off, sz);
    } else {
        byte_sz = btf.size_of(field_type_id)?;
        byte_off = bit_off / 8;
        bit_sz = byte_sz.saturating_mul(8);
    }
    // For bitfields the compiler may have chosen differently; only signedness and the
    // right shift are unambiguous.
    let mut v = !bitfield;
    let val: u64 = match kind {
        CoreReloKind::FieldByteOffset => {
            let (sz, ty) = if bitfield {
                (0, 0)
            } else {
                (byte_sz, field_type_id)
            };
            if let Some(out) = validate {
                *out = v;
            }
            return Ok((byte_off as u64, sz, ty));
        }
        CoreReloKind::FieldByteSize => byte_sz as u64,
        CoreReloKind::FieldSigned => {
            v = true;
            ((mt.is_any_enum() && mt.kflag())
                || (mt.kind() == Kind::Int && mt.int_encoding() & crate::INT_SIGNED != 0))
                as u64
        }
        CoreReloKind::FieldLshiftU64 => match btf.endian() {
            Endian::Little => 64u64.wrapping_sub((bit_off + bit_sz - byte_off * 8) as u64),
            Endian::Big => ((8 - byte_sz as u64) * 8).wrapping_add((bit_off - byte_off * 8) as u64),
        },
        CoreReloKind::FieldRshiftU64 => {
            v = true;
            64u64.wrapping_sub(bit_sz as u64)
        }
        k => return Err(ReloError::Unsupported(k as u32)),
    };
    if let Some(out) = validate {
        *out = v;
    }
    Ok((val, 0, 0))
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
