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

#[cfg(test)]
mod tests {
    //! Expected values are libbpf's `bpf_core_calc_field_relo` formulas worked by hand:
    //! plain field: byte_off = bit_off / 8, byte_sz = size, bit_sz = 8 * size;
    //! bitfield: byte_sz starts at the type's size and doubles until
    //! bit_off + bit_sz - byte_off * 8 <= byte_sz * 8, byte_off = bit_off / 8 / byte_sz * byte_sz;
    //! lshift_u64 = 64 - (bit_off + bit_sz - byte_off * 8) (little-endian),
    //! (8 - byte_sz) * 8 + (bit_off - byte_off * 8) (big-endian); rshift_u64 = 64 - bit_sz.

    use super::super::fixture::{build, local};
    use super::*;
    use crate::{Btf, BtfBuilder, MemberSpec, INT_SIGNED};

    fn spec<'b>(btf: &'b Btf, root: u32, access: &str, kind: CoreReloKind) -> Spec<'b> {
        Spec::parse(btf, root, access, kind).unwrap()
    }

    /// (value, validate) of field relocation `kind` on the fixture's `access`.
    fn local_value(access: &str, kind: CoreReloKind) -> (u64, bool) {
        let (btf, id) = local();
        let mut validate = false;
        let (v, _, _) = calc_field(&spec(&btf, id.s, access, kind), Some(&mut validate)).unwrap();
        (v, validate)
    }

    #[test]
    fn plain_field_values() {
        // `int b` at byte 8: bit_off 64, bit_sz 32, byte_off 8, byte_sz 4.
        use CoreReloKind::*;
        assert_eq!(local_value("0:1", FieldByteOffset), (8, true));
        assert_eq!(local_value("0:1", FieldByteSize), (4, true));
        assert_eq!(local_value("0:1", FieldSigned), (1, true));
        assert_eq!(
            local_value("0:1", FieldLshiftU64),
            (64 - (64 + 32 - 64), true)
        );
        assert_eq!(local_value("0:1", FieldRshiftU64), (32, true));
        // `long a` at byte 0 fills the register: no shifts.
        assert_eq!(local_value("0:0", FieldLshiftU64), (0, true));
        assert_eq!(local_value("0:0", FieldRshiftU64), (0, true));
    }

    #[test]
    fn bitfield_values() {
        // `unsigned char w: 6` at bit 228: a 1-byte load at 28 would end at bit 232 < 234,
        // so the load widens to 2 bytes at 28 (228 + 6 - 224 = 10 <= 16).
        use CoreReloKind::*;
        assert_eq!(local_value("0:4", FieldByteOffset), (28, false));
        assert_eq!(local_value("0:4", FieldByteSize), (2, false));
        assert_eq!(local_value("0:4", FieldSigned), (0, true));
        assert_eq!(local_value("0:4", FieldLshiftU64), (64 - 10, false));
        assert_eq!(local_value("0:4", FieldRshiftU64), (64 - 6, true));
        let (btf, id) = local();
        let s = spec(&btf, id.s, "0:4", FieldByteOffset);
        let (loc, _) = field_location(&s, &s.accessors[1]).unwrap();
        assert_eq!(
            loc,
            FieldLoc {
                bit_off: 228,
                bit_sz: 6,
                byte_off: 28,
                byte_sz: 2,
                bitfield: true,
                type_id: id.uchar,
            }
        );
    }

    #[test]
    fn bitfield_load_is_the_smallest_covering_power_of_two() {
        assert_eq!(bitfield_load(228, 6, 1), Ok((28, 2)));
        assert_eq!(bitfield_load(3, 5, 4), Ok((0, 4)));
        // 4 bits at bit 30 of a char: 1 → 2 → 4 → 8 bytes, all at byte 0.
        assert_eq!(bitfield_load(30, 4, 1), Ok((0, 8)));
        assert_eq!(bitfield_load(8, 60, 8), Err(ReloError::Bitfield));
    }

    #[test]
    fn lshift_depends_on_byte_order() {
        let loc = FieldLoc {
            bit_off: 228,
            bit_sz: 6,
            byte_off: 28,
            byte_sz: 2,
            bitfield: true,
            type_id: 0,
        };
        assert_eq!(lshift_u64(&loc, Endian::Little), 54);
        assert_eq!(lshift_u64(&loc, Endian::Big), (8 - 2) * 8 + (228 - 224));
    }

    #[test]
    fn signedness_of_ints_and_enums() {
        let (btf, id) = local();
        let signed = |id| is_signed(btf.type_by_id(id).unwrap());
        assert!(signed(id.int));
        assert!(!signed(id.uint));
        assert!(signed(id.e), "enum with the signed flag");
        assert!(!signed(id.e64));
        assert!(!signed(id.s));
    }

    #[test]
    fn byte_offset_reports_the_field_size_and_type_for_load_adjustment() {
        let (btf, id) = local();
        let s = spec(&btf, id.s, "0:1", CoreReloKind::FieldByteOffset);
        assert_eq!(calc_field(&s, None).unwrap(), (8, 4, id.int));
        let s = spec(&btf, id.s, "0:4", CoreReloKind::FieldByteOffset);
        assert_eq!(
            calc_field(&s, None).unwrap(),
            (28, 0, 0),
            "not for bitfields"
        );
        let s = spec(&btf, id.s, "0:1", CoreReloKind::FieldByteSize);
        assert_eq!(calc_field(&s, None).unwrap(), (4, 0, 0));
    }

    #[test]
    fn array_element_has_only_offset_and_size() {
        let (btf, id) = local();
        let s = spec(&btf, id.s, "0:3:1", CoreReloKind::FieldByteOffset);
        assert_eq!(calc_field(&s, None).unwrap(), (24, 4, id.int));
        let s = spec(&btf, id.s, "0:3:1", CoreReloKind::FieldByteSize);
        assert_eq!(calc_field(&s, None).unwrap(), (4, 0, 0));
        let s = spec(&btf, id.s, "0:3:1", CoreReloKind::FieldSigned);
        let e = calc_field(&s, None).unwrap_err();
        assert_eq!(e, ReloError::ArrayAccess(CoreReloKind::FieldSigned));
        assert_eq!(
            e.to_string(),
            "relocation <signed> can't be applied to array access"
        );
    }

    #[test]
    fn field_moved_in_the_target() {
        let (lbtf, id) = local();
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let s = b.add_struct(
            "s",
            24,
            &[MemberSpec::new("x", int, 0), MemberSpec::new("b", int, 16)],
        );
        let tbtf = build(b);
        let l = spec(&lbtf, id.s, "0:1", CoreReloKind::FieldByteOffset);
        let t = spec(&tbtf, s, "0:1", CoreReloKind::FieldByteOffset);
        let res = calc_relo(&l, Some(&t)).unwrap();
        assert_eq!(
            res,
            Resolution {
                orig_val: 8,
                new_val: 16,
                validate: true,
                orig_sz: 4,
                new_sz: 4,
                orig_type_id: id.int,
                new_type_id: int,
                ..Resolution::default()
            }
        );
    }

    #[test]
    fn size_change_is_safe_only_for_unsigned_ints_and_pointers() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let uint = b.add_int("unsigned int", 4, 0);
        let long = b.add_int("long", 8, INT_SIGNED);
        let ulong = b.add_int("unsigned long", 8, 0);
        let narrow = b.add_struct(
            "s",
            8,
            &[MemberSpec::new("i", int, 0), MemberSpec::new("u", uint, 4)],
        );
        let wide = b.add_struct(
            "s",
            16,
            &[
                MemberSpec::new("i", long, 0),
                MemberSpec::new("u", ulong, 8),
            ],
        );
        let btf = build(b);
        let res = |access| {
            let l = spec(&btf, narrow, access, CoreReloKind::FieldByteOffset);
            let t = spec(&btf, wide, access, CoreReloKind::FieldByteOffset);
            calc_relo(&l, Some(&t)).unwrap()
        };
        let signed = res("0:0");
        assert_eq!((signed.orig_sz, signed.new_sz), (4, 8));
        assert!(signed.fail_memsz_adjust);
        let unsigned = res("0:1");
        assert_eq!((unsigned.new_val, unsigned.new_sz), (8, 8));
        assert!(!unsigned.fail_memsz_adjust);
    }

    #[test]
    fn field_exists_is_zero_without_a_target_and_never_poisons() {
        let (btf, id) = local();
        let l = spec(&btf, id.s, "0:1", CoreReloKind::FieldExists);
        let res = calc_relo(&l, None).unwrap();
        assert_eq!((res.orig_val, res.new_val, res.poison), (1, 0, false));
        let res = calc_relo(&l, Some(&l)).unwrap();
        assert_eq!((res.orig_val, res.new_val, res.poison), (1, 1, false));
        let l = spec(&btf, id.s, "0:1", CoreReloKind::FieldByteOffset);
        let res = calc_relo(&l, None).unwrap();
        assert_eq!((res.orig_val, res.poison), (8, true));
    }

    #[test]
    fn type_based_values() {
        let (lbtf, id) = local();
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let s = b.add_struct("s", 40, &[MemberSpec::new("b", int, 0)]);
        let tbtf = build(b);
        let res = |kind, targ: bool| {
            let l = spec(&lbtf, id.s, "0", kind);
            let t = spec(&tbtf, s, "0", kind);
            calc_relo(&l, targ.then_some(&t)).unwrap()
        };
        let r = res(CoreReloKind::TypeIdTarget, true);
        assert_eq!(
            (r.orig_val, r.new_val, r.validate),
            (id.s as u64, s as u64, false)
        );
        let r = res(CoreReloKind::TypeSize, true);
        assert_eq!((r.orig_val, r.new_val, r.validate), (32, 40, true));
        let r = res(CoreReloKind::TypeExists, true);
        assert_eq!((r.orig_val, r.new_val), (1, 1));
        let r = res(CoreReloKind::TypeMatches, true);
        assert_eq!((r.orig_val, r.new_val), (1, 1));
        // No matching target type: zero, not poison.
        let r = res(CoreReloKind::TypeExists, false);
        assert_eq!((r.orig_val, r.new_val, r.poison), (1, 0, false));
        let r = res(CoreReloKind::TypeSize, false);
        assert_eq!((r.orig_val, r.new_val, r.poison), (32, 0, false));
    }

    #[test]
    fn enumval_values() {
        let (lbtf, id) = local();
        let mut b = BtfBuilder::new();
        let t = b.add_enum64("e", 8, false, &[("B", 9)]);
        let u = b.add_enum("u", 4, false, &[("HIGH", 0x8000_0000)]);
        let tbtf = build(b);
        let l = spec(&lbtf, id.e, "1", CoreReloKind::EnumvalValue);
        let targ = spec(&tbtf, t, "0", CoreReloKind::EnumvalValue);
        let r = calc_relo(&l, Some(&targ)).unwrap();
        // B = -2 in a 32-bit enum: sign-extended, as libbpf's __s32.
        assert_eq!((r.orig_val, r.new_val), ((-2i64) as u64, 9));
        assert_eq!(r.orig_val, 0xffff_ffff_ffff_fffe);
        let r = calc_relo(&l, None).unwrap();
        assert!(r.poison, "enumval_value without a target");
        // Even an unsigned 32-bit enum's value is sign-extended.
        let high = spec(&tbtf, u, "0", CoreReloKind::EnumvalValue);
        assert_eq!(calc_enumval(&high).unwrap(), 0xffff_ffff_8000_0000);
        let big = spec(&lbtf, id.e64, "0", CoreReloKind::EnumvalValue);
        assert_eq!(calc_enumval(&big).unwrap(), 1 << 40);
        let l = spec(&lbtf, id.e, "1", CoreReloKind::EnumvalExists);
        let r = calc_relo(&l, None).unwrap();
        assert_eq!((r.orig_val, r.new_val, r.poison), (1, 0, false));
        let targ = spec(&tbtf, t, "0", CoreReloKind::EnumvalExists);
        let r = calc_relo(&l, Some(&targ)).unwrap();
        assert_eq!((r.orig_val, r.new_val), (1, 1));
    }

    #[test]
    fn type_id_local_is_not_calculated_here() {
        let (btf, id) = local();
        let l = spec(&btf, id.s, "0", CoreReloKind::TypeIdLocal);
        assert_eq!(calc_relo(&l, None), Err(ReloError::Unsupported(6)));
    }
}
