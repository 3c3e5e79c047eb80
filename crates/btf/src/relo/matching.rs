//! libbpf's CO-RE compatibility rules: does a target type match a local spec
//! (`bpf_core_spec_match`), are two fields, types, or whole type graphs compatible
//! (`bpf_core_fields_are_compat`, `bpf_core_types_are_compat`, `bpf_core_types_match`).
//!
//! Results are `Ok(true)` (match), `Ok(false)` (no match) or an error for malformed BTF,
//! like libbpf's 1 / 0 / negative errno.

use crate::ext::CoreReloKind;
use crate::index::essential_len;
use crate::raw::Kind;
use crate::{Btf, Type};

use super::spec::{is_flex_arr, mul_bits, Accessor, Spec, MAX_SPEC_LEN};
use super::ReloError;

/// Deepest recursion of the compatibility checks (libbpf's `depth = 32`).
pub(crate) const MAX_DEPTH: u32 = 32;

fn too_deep() -> ReloError {
    ReloError::TooDeep
}

/// Same kind, or both enums (ENUM and ENUM64 are interchangeable for CO-RE). A type of a
/// kind this reader does not know is opaque and compatible with nothing (libbpf compares
/// the kind numbers, which differ from every kind a local type can have).
pub(crate) fn kinds_compat(a: Type<'_>, b: Type<'_>) -> bool {
    if a.is_unknown_kind() || b.is_unknown_kind() {
        return false;
    }
    a.kind() == b.kind() || (a.is_any_enum() && b.is_any_enum())
}

fn essential(name: &[u8]) -> &[u8] {
    &name[..essential_len(name)]
}

/// Names equal ignoring `___flavor` suffixes; an anonymous side matches anything
/// (libbpf's `bpf_core_names_match`).
fn names_match(a: &[u8], b: &[u8]) -> bool {
    a.is_empty() || b.is_empty() || essential(a) == essential(b)
}

/// Matches `local` against target root `targ_id` in `targ`: whether it matches, and the
/// target spec as far as matching got (libbpf logs the partial spec of a non-matching
/// candidate).
pub(crate) fn spec_match<'t>(
    local: &Spec<'_>,
    targ: &'t Btf,
    targ_id: u32,
) -> Result<(bool, Spec<'t>), ReloError> {
    let mut out = Spec::empty(targ, targ_id, local.kind);
    let ok = spec_match_into(local, targ, targ_id, &mut out)?;
    Ok((ok, out))
}

fn spec_match_into(
    local: &Spec<'_>,
    targ: &Btf,
    targ_id: u32,
    out: &mut Spec<'_>,
) -> Result<bool, ReloError> {
    if local.kind.is_type_based() {
        return type_spec_match(local, targ, targ_id);
    }
    let Some(local_first) = local.accessors.first() else {
        return Ok(false);
    };
    if local.kind.is_enumval_based() {
        return enumval_spec_match(local_first, targ, targ_id, out);
    }
    field_spec_match(local, targ, targ_id, out)
}

/// A type-based relocation: the root types are compatible (or, for `TYPE_MATCHES`, match).
fn type_spec_match(local: &Spec<'_>, targ: &Btf, targ_id: u32) -> Result<bool, ReloError> {
    if local.kind == CoreReloKind::TypeMatches {
        types_match(
            local.btf,
            local.root_type_id,
            targ,
            targ_id,
            false,
            MAX_DEPTH,
        )
    } else {
        types_are_compat(local.btf, local.root_type_id, targ, targ_id, MAX_DEPTH)
    }
}

/// An enum-value relocation: the target enum has an enumerator of the same essential
/// name as the local accessor's.
fn enumval_spec_match(
    local_first: &Accessor,
    targ: &Btf,
    targ_id: u32,
    out: &mut Spec<'_>,
) -> Result<bool, ReloError> {
    let t = targ.skip_mods_and_typedefs(targ_id)?;
    if !t.is_any_enum() {
        return Ok(false);
    }
    let want = local_first.name.as_deref().unwrap_or("").as_bytes();
    for (i, e) in t.enumerators().enumerate() {
        if essential(e.name_bytes()) == essential(want) {
            out.accessors.push(Accessor {
                type_id: t.id(),
                idx: i as u32,
                name: Some(e.name().to_string()),
            });
            out.raw.push(i as u32);
            return Ok(true);
        }
    }
    Ok(false)
}

/// A field relocation: every local accessor, by name or index, leads somewhere in the
/// target too.
fn field_spec_match(
    local: &Spec<'_>,
    targ: &Btf,
    targ_id: u32,
    out: &mut Spec<'_>,
) -> Result<bool, ReloError> {
    let mut targ_id = targ_id;
    for (i, acc) in local.accessors.iter().enumerate() {
        let t = targ.skip_mods_and_typedefs(targ_id)?;
        targ_id = t.id();
        let next = if acc.name.is_some() {
            match_member(local.btf, acc, targ, targ_id, out, 0)?
        } else {
            match_index(acc, i, t, targ, out)?
        };
        match next {
            Some(next) => targ_id = next,
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// An index accessor (the `i`-th) on target type `t`: pushes it onto `out` and returns
/// the element type, or `None` when `t` has no such element.
fn match_index(
    acc: &Accessor,
    i: usize,
    t: Type<'_>,
    targ: &Btf,
    out: &mut Spec<'_>,
) -> Result<Option<u32>, ReloError> {
    let mut targ_id = t.id();
    // The root index treats the root type itself as an array element; later indices
    // must land on an array in the target too.
    if i > 0 {
        let Some(a) = t.array() else { return Ok(None) };
        let flex = is_flex_arr(targ, out.accessors.last(), a.nelems);
        if !flex && acc.idx >= a.nelems {
            return Ok(None);
        }
        targ_id = targ.skip_mods_and_typedefs(a.elem_type)?.id();
    }
    if out.raw.len() == MAX_SPEC_LEN {
        return Err(too_deep());
    }
    out.accessors.push(Accessor {
        type_id: targ_id,
        idx: acc.idx,
        name: None,
    });
    out.raw.push(acc.idx);
    let sz = targ.size_of(targ_id)?;
    out.bit_offset = mul_bits(acc.idx, sz)
        .and_then(|b| out.bit_offset.checked_add(b))
        .ok_or(ReloError::Overflow)?;
    Ok(Some(targ_id))
}

/// Finds the member named like local accessor `acc` in target composite `targ_id`,
/// descending into anonymous members; pushes its raw indices and accessor onto `spec`
/// and returns the member's type id (libbpf's `bpf_core_match_member`).
fn match_member(
    local: &Btf,
    acc: &Accessor,
    targ: &Btf,
    targ_id: u32,
    spec: &mut Spec<'_>,
    depth: u32,
) -> Result<Option<u32>, ReloError> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let local_t = local.type_by_id(acc.type_id)?;
    let Some(local_m) = local_t.member(acc.idx) else {
        return Ok(None);
    };
    let local_name = local_m.name_bytes();
    let t = targ.skip_mods_and_typedefs(targ_id)?;
    if !t.is_composite() {
        return Ok(None);
    }
    for (i, m) in t.members().enumerate() {
        if spec.raw.len() == MAX_SPEC_LEN {
            return Err(too_deep());
        }
        // Speculate that this member is the one.
        spec.bit_offset = spec.bit_offset.wrapping_add(m.bit_offset);
        spec.raw.push(i as u32);
        let name = m.name_bytes();
        if name.is_empty() {
            if let Some(found) = match_member(local, acc, targ, m.type_id, spec, depth + 1)? {
                return Ok(Some(found));
            }
        } else if name == local_name {
            if !fields_are_compat(local, local_m.type_id, targ, m.type_id)? {
                return Ok(None);
            }
            spec.accessors.push(Accessor {
                type_id: t.id(),
                idx: i as u32,
                name: Some(m.name().to_string()),
            });
            return Ok(Some(m.type_id));
        }
        spec.bit_offset = spec.bit_offset.wrapping_sub(m.bit_offset);
        spec.raw.pop();
    }
    Ok(None)
}

/// Whether a local field type can be relocated to a target field type
/// (libbpf's `bpf_core_fields_are_compat`).
pub(crate) fn fields_are_compat(
    local: &Btf,
    local_id: u32,
    targ: &Btf,
    targ_id: u32,
) -> Result<bool, ReloError> {
    let (mut lid, mut tid) = (local_id, targ_id);
    for _ in 0..MAX_DEPTH {
        let l = local.skip_mods_and_typedefs(lid)?;
        let t = targ.skip_mods_and_typedefs(tid)?;
        if l.is_composite() && t.is_composite() {
            return Ok(true);
        }
        if !kinds_compat(l, t) {
            return Ok(false);
        }
        return Ok(match l.kind() {
            Kind::Ptr | Kind::Float => true,
            Kind::Fwd | Kind::Enum | Kind::Enum64 => names_match(l.name_bytes(), t.name_bytes()),
            // Reject only deprecated bitfield-like integers.
            Kind::Int => l.int_offset() == 0 && t.int_offset() == 0,
            Kind::Array => {
                lid = l.array().map_or(0, |a| a.elem_type);
                tid = t.array().map_or(0, |a| a.elem_type);
                continue;
            }
            _ => false,
        });
    }
    Err(too_deep())
}

/// Whether two types are compatible for type-based relocations
/// (libbpf's `__bpf_core_types_are_compat`); names were matched by the caller.
pub(crate) fn types_are_compat(
    local: &Btf,
    local_id: u32,
    targ: &Btf,
    targ_id: u32,
    level: u32,
) -> Result<bool, ReloError> {
    if !kinds_compat(local.type_by_id(local_id)?, targ.type_by_id(targ_id)?) {
        return Ok(false);
    }
    let (mut lid, mut tid) = (local_id, targ_id);
    for _ in 0..MAX_DEPTH {
        let l = local.skip_mods_and_typedefs(lid)?;
        let t = targ.skip_mods_and_typedefs(tid)?;
        if !kinds_compat(l, t) {
            return Ok(false);
        }
        match l.kind() {
            Kind::Void | Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Fwd => {
                return Ok(true)
            }
            Kind::Int => return Ok(l.int_offset() == 0 && t.int_offset() == 0),
            Kind::Ptr => {
                lid = l.type_id().unwrap_or(0);
                tid = t.type_id().unwrap_or(0);
            }
            Kind::Array => {
                lid = l.array().map_or(0, |a| a.elem_type);
                tid = t.array().map_or(0, |a| a.elem_type);
            }
            Kind::FuncProto => {
                if l.vlen() != t.vlen() {
                    return Ok(false);
                }
                for (lp, tp) in l.params().zip(t.params()) {
                    if level == 0 {
                        return Err(too_deep());
                    }
                    let lp = local.skip_mods_and_typedefs(lp.type_id)?.id();
                    let tp = targ.skip_mods_and_typedefs(tp.type_id)?.id();
                    if !types_are_compat(local, lp, targ, tp, level - 1)? {
                        return Ok(false);
                    }
                }
                lid = local.skip_mods_and_typedefs(l.type_id().unwrap_or(0))?.id();
                tid = targ.skip_mods_and_typedefs(t.type_id().unwrap_or(0))?.id();
            }
            _ => return Ok(false),
        }
    }
    Err(too_deep())
}

/// `bpf_core_type_matches()` semantics (libbpf's `__bpf_core_types_match`): a stricter,
/// structural match used by `TYPE_MATCHES`.
pub(crate) fn types_match(
    local: &Btf,
    local_id: u32,
    targ: &Btf,
    targ_id: u32,
    behind_ptr: bool,
    level: u32,
) -> Result<bool, ReloError> {
    let (mut lid, mut tid, mut behind_ptr) = (local_id, targ_id, behind_ptr);
    for _ in 0..MAX_DEPTH {
        if level == 0 {
            return Err(too_deep());
        }
        let l = local.skip_mods_and_typedefs(lid)?;
        let t = targ.skip_mods_and_typedefs(tid)?;
        if !names_match(l.name_bytes(), t.name_bytes()) {
            return Ok(false);
        }
        match match_step(local, l, targ, t, behind_ptr, level)? {
            Step::Done(ok) => return Ok(ok),
            Step::Follow(next) => (lid, tid, behind_ptr) = next,
        }
    }
    Err(too_deep())
}

/// One step of [`types_match`]: a verdict, or the (local, target, behind a pointer) types
/// to compare next.
enum Step {
    Done(bool),
    Follow((u32, u32, bool)),
}

/// Compares same-named `l` and `t` (modifiers and typedefs skipped) by kind.
fn match_step(
    local: &Btf,
    l: Type<'_>,
    targ: &Btf,
    t: Type<'_>,
    behind_ptr: bool,
    level: u32,
) -> Result<Step, ReloError> {
    let follow = |lid: Option<u32>, tid: Option<u32>, behind_ptr| {
        Step::Follow((lid.unwrap_or(0), tid.unwrap_or(0), behind_ptr))
    };
    if l.is_unknown_kind() || t.is_unknown_kind() {
        return Ok(Step::Done(false));
    }
    Ok(match l.kind() {
        Kind::Void => Step::Done(t.kind() == Kind::Void),
        Kind::Fwd => Step::Done(fwd_matches(l, t)),
        Kind::Enum | Kind::Enum64 => Step::Done(t.is_any_enum() && enums_match(l, t)),
        Kind::Struct | Kind::Union if behind_ptr => Step::Done(composite_behind_ptr_matches(l, t)),
        Kind::Struct | Kind::Union => Step::Done(
            l.kind() == t.kind() && composites_match(local, l, targ, t, behind_ptr, level)?,
        ),
        Kind::Int => Step::Done(ints_match(l, t)),
        Kind::Ptr if t.kind() == Kind::Ptr => follow(l.type_id(), t.type_id(), true),
        Kind::Array => match (l.array(), t.array()) {
            (Some(la), Some(ta)) if la.nelems == ta.nelems => {
                follow(Some(la.elem_type), Some(ta.elem_type), behind_ptr)
            }
            _ => Step::Done(false),
        },
        Kind::FuncProto => {
            if !params_match(local, l, targ, t, behind_ptr, level)? {
                return Ok(Step::Done(false));
            }
            follow(l.type_id(), t.type_id(), behind_ptr)
        }
        _ => Step::Done(false),
    })
}

/// A local forward declaration matches a struct/union or a forward declaration of the
/// same flavor (struct or union).
fn fwd_matches(l: Type<'_>, t: Type<'_>) -> bool {
    let local_union = l.kflag();
    if t.is_composite() {
        return local_union == (t.kind() == Kind::Union);
    }
    t.kind() == Kind::Fwd && local_union == t.kflag()
}

/// Behind a pointer, a struct/union matches the same kind or a forward declaration of it
/// (its members are not compared).
fn composite_behind_ptr_matches(l: Type<'_>, t: Type<'_>) -> bool {
    if l.kind() == t.kind() {
        return true;
    }
    t.kind() == Kind::Fwd && (l.kind() == Kind::Union) == t.kflag()
}

/// INTs match with the same size and signedness.
fn ints_match(l: Type<'_>, t: Type<'_>) -> bool {
    if t.kind() != Kind::Int {
        return false;
    }
    let ls = l.int_encoding() & crate::INT_SIGNED;
    let ts = t.int_encoding() & crate::INT_SIGNED;
    l.size() == t.size() && ls == ts
}

/// Function prototypes match with the same number of parameters, each matching.
fn params_match(
    local: &Btf,
    l: Type<'_>,
    targ: &Btf,
    t: Type<'_>,
    behind_ptr: bool,
    level: u32,
) -> Result<bool, ReloError> {
    if t.kind() != Kind::FuncProto || l.vlen() != t.vlen() {
        return Ok(false);
    }
    for (lp, tp) in l.params().zip(t.params()) {
        if !types_match(local, lp.type_id, targ, tp.type_id, behind_ptr, level - 1)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Same size, and every local enumerator name exists in the target.
fn enums_match(l: Type<'_>, t: Type<'_>) -> bool {
    if l.size() != t.size() || l.vlen() > t.vlen() {
        return false;
    }
    l.enumerators().all(|le| {
        t.enumerators()
            .any(|te| names_match(le.name_bytes(), te.name_bytes()))
    })
}

/// Every local member has a same-named, matching member in the target.
fn composites_match(
    local: &Btf,
    l: Type<'_>,
    targ: &Btf,
    t: Type<'_>,
    behind_ptr: bool,
    level: u32,
) -> Result<bool, ReloError> {
    if l.vlen() > t.vlen() {
        return Ok(false);
    }
    for lm in l.members() {
        let mut matched = false;
        for tm in t.members() {
            if !names_match(lm.name_bytes(), tm.name_bytes()) {
                continue;
            }
            if types_match(local, lm.type_id, targ, tm.type_id, behind_ptr, level - 1)? {
                matched = true;
                break;
            }
        }
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{build, local};
    use super::*;
    use crate::{BtfBuilder, MemberSpec, INT_CHAR, INT_SIGNED};

    /// BTF holding a local and a target type (both sides of a comparison may live in one
    /// BTF: the rules only look at kinds, names and layout).
    fn pair(f: impl FnOnce(&mut BtfBuilder) -> (u32, u32)) -> (Btf, u32, u32) {
        let mut b = BtfBuilder::new();
        let (l, t) = f(&mut b);
        (build(b), l, t)
    }

    fn field_spec<'b>(btf: &'b Btf, root: u32, access: &str) -> Spec<'b> {
        Spec::parse(btf, root, access, CoreReloKind::FieldByteOffset).unwrap()
    }

    /// An INT whose bits start at bit `offset` of its storage (a deprecated encoding).
    fn add_offset_int(b: &mut BtfBuilder, offset: u32) -> u32 {
        let name = b.add_string("int");
        b.add_raw(name, (Kind::Int as u32) << 24, 4, &[(offset << 16) | 28])
    }

    #[test]
    fn names_match_ignores_flavors_and_anonymous_sides() {
        assert!(names_match(b"task_struct___v2", b"task_struct"));
        assert!(names_match(b"s___a", b"s___b"));
        assert!(names_match(b"", b"anything"));
        assert!(!names_match(b"s", b"t"));
        assert!(!names_match(b"s___a", b"sa"));
    }

    #[test]
    fn field_is_found_by_name_through_an_anonymous_union() {
        let (lbtf, id) = local();
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let long = b.add_int("long", 8, INT_SIGNED);
        let u = b.add_union(
            "",
            8,
            &[MemberSpec::new("z", long, 0), MemberSpec::new("b", int, 0)],
        );
        let s = b.add_struct(
            "s",
            24,
            &[MemberSpec::new("a", long, 0), MemberSpec::new("", u, 16)],
        );
        let tbtf = build(b);
        let (ok, t) = spec_match(&field_spec(&lbtf, id.s, "0:1"), &tbtf, s).unwrap();
        assert!(ok);
        assert_eq!(t.raw, [0, 1, 1]);
        assert_eq!(t.bit_offset, 16 * 8);
        assert_eq!(
            t.accessors.last(),
            Some(&Accessor {
                type_id: u,
                idx: 1,
                name: Some("b".into())
            })
        );
        assert_eq!(
            t.to_string(),
            format!("<byte_off> [{s}] struct s.b (0:1:1 @ offset 16)")
        );
    }

    #[test]
    fn local_anonymous_member_matches_a_flattened_target() {
        let (lbtf, id) = local();
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let s = b.add_struct("s", 8, &[MemberSpec::new("y", int, 4)]);
        let tbtf = build(b);
        let (ok, t) = spec_match(&field_spec(&lbtf, id.s, "0:2:1"), &tbtf, s).unwrap();
        assert!(ok);
        assert_eq!((t.raw.as_slice(), t.bit_offset), (&[0, 0][..], 32));
    }

    #[test]
    fn missing_field_does_not_match_and_keeps_the_partial_spec() {
        let (lbtf, id) = local();
        let mut b = BtfBuilder::new();
        let long = b.add_int("long", 8, INT_SIGNED);
        let s = b.add_struct("s", 8, &[MemberSpec::new("a", long, 0)]);
        let tbtf = build(b);
        let (ok, t) = spec_match(&field_spec(&lbtf, id.s, "0:1"), &tbtf, s).unwrap();
        assert!(!ok);
        assert_eq!((t.raw.as_slice(), t.bit_offset), (&[0][..], 0));
        assert_eq!(
            t.to_string(),
            format!("<byte_off> [{s}] struct s (0 @ offset 0)")
        );
    }

    #[test]
    fn array_field_does_not_match_a_scalar_field() {
        let (lbtf, id) = local();
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let s = b.add_struct("s", 24, &[MemberSpec::new("c", int, 20)]);
        let tbtf = build(b);
        let (ok, _) = spec_match(&field_spec(&lbtf, id.s, "0:3:1"), &tbtf, s).unwrap();
        assert!(!ok);
        let (ok, _) = spec_match(&field_spec(&lbtf, id.s, "0:3"), &tbtf, s).unwrap();
        assert!(!ok, "int c[2] against int c");
    }

    #[test]
    fn array_index_must_fit_the_target_array() {
        let (lbtf, id) = local();
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let one = b.add_array(int, int, 1);
        let four = b.add_array(int, int, 4);
        let short = b.add_struct("s", 8, &[MemberSpec::new("c", one, 4)]);
        let long = b.add_struct("s", 24, &[MemberSpec::new("c", four, 8)]);
        let tbtf = build(b);
        let spec = field_spec(&lbtf, id.s, "0:3:1");
        assert!(!spec_match(&spec, &tbtf, short).unwrap().0);
        let (ok, t) = spec_match(&spec, &tbtf, long).unwrap();
        assert!(ok);
        assert_eq!(t.bit_offset, (8 + 4) * 8);
        assert_eq!(
            t.accessors.last().map(|a| (a.type_id, a.idx)),
            Some((int, 1))
        );
    }

    #[test]
    fn fields_are_compat_rules() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let ulong = b.add_int("unsigned long", 8, 0);
        let odd = add_offset_int(&mut b, 4);
        let float = b.add_float("float", 4);
        let e = b.add_enum("e", 4, false, &[("A", 0)]);
        let e64 = b.add_enum64("e", 8, false, &[("A", 0)]);
        let f = b.add_enum("f", 4, false, &[("A", 0)]);
        let anon_enum = b.add_enum("", 4, false, &[("A", 0)]);
        let s = b.add_struct("s", 4, &[MemberSpec::new("i", int, 0)]);
        let u = b.add_union("u", 4, &[MemberSpec::new("i", int, 0)]);
        let p_int = b.add_ptr(int);
        let p_s = b.add_ptr(s);
        let arr2 = b.add_array(int, int, 2);
        let arr8 = b.add_array(ulong, int, 8);
        let btf = build(b);
        let compat = |l, t| fields_are_compat(&btf, l, &btf, t).unwrap();
        // Integers are compatible whatever their size and sign.
        assert!(compat(int, ulong));
        assert!(!compat(int, odd), "bitfield-like INT");
        assert!(!compat(int, float));
        assert!(compat(e, e64), "ENUM and ENUM64 of one name");
        assert!(!compat(e, f));
        assert!(compat(e, anon_enum));
        assert!(compat(s, u), "any two composites");
        assert!(compat(p_int, p_s), "any two pointers");
        assert!(compat(arr2, arr8), "arrays of compatible elements");
        assert!(!compat(arr2, int));
    }

    #[test]
    fn types_are_compat_rules() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let ulong = b.add_int("unsigned long", 8, 0);
        let odd = add_offset_int(&mut b, 4);
        let e = b.add_enum("e", 4, false, &[("A", 0)]);
        let e64 = b.add_enum64("e", 8, false, &[("A", 0)]);
        let s = b.add_struct("s", 4, &[MemberSpec::new("i", int, 0)]);
        let p_int = b.add_ptr(int);
        let p_ulong = b.add_ptr(ulong);
        let p_s = b.add_ptr(s);
        let f_int = b.add_func_proto(int, &[("x", int)]);
        let f_ulong = b.add_func_proto(int, &[("x", ulong)]);
        let f_two = b.add_func_proto(int, &[("x", int), ("y", int)]);
        let f_ptr = b.add_func_proto(int, &[("x", p_int)]);
        let f_ptr_s = b.add_func_proto(int, &[("x", p_s)]);
        let btf = build(b);
        let compat = |l, t| types_are_compat(&btf, l, &btf, t, MAX_DEPTH).unwrap();
        assert!(compat(int, ulong), "size and sign are ignored");
        assert!(!compat(int, odd));
        assert!(!compat(int, e));
        assert!(compat(e, e64));
        assert!(compat(p_int, p_ulong));
        assert!(!compat(p_int, p_s));
        assert!(compat(f_int, f_ulong));
        assert!(!compat(f_int, f_two), "parameter count");
        assert!(!compat(f_ptr, f_ptr_s), "parameter pointee kind");
    }

    #[test]
    fn types_match_compares_struct_member_sets() {
        let (btf, l, t) = pair(|b| {
            let int = b.add_int("int", 4, INT_SIGNED);
            let l = b.add_struct("foo___local", 4, &[MemberSpec::new("a", int, 0)]);
            let t = b.add_struct(
                "foo",
                8,
                &[MemberSpec::new("b", int, 0), MemberSpec::new("a", int, 4)],
            );
            (l, t)
        });
        let matches = |l, t| types_match(&btf, l, &btf, t, false, MAX_DEPTH).unwrap();
        assert!(matches(l, t), "local members are a subset, flavor ignored");
        assert!(!matches(t, l), "more local members than target members");
        let (btf, l, t) = pair(|b| {
            let int = b.add_int("int", 4, INT_SIGNED);
            let long = b.add_int("long", 8, INT_SIGNED);
            let l = b.add_struct(
                "foo",
                8,
                &[MemberSpec::new("a", int, 0), MemberSpec::new("z", int, 4)],
            );
            let t = b.add_struct(
                "foo",
                8,
                &[MemberSpec::new("a", int, 0), MemberSpec::new("b", long, 4)],
            );
            (l, t)
        });
        assert!(!types_match(&btf, l, &btf, t, false, MAX_DEPTH).unwrap());
    }

    #[test]
    fn types_match_needs_same_names_and_kinds() {
        let (btf, l, t) = pair(|b| {
            let int = b.add_int("int", 4, INT_SIGNED);
            let l = b.add_struct("foo", 4, &[MemberSpec::new("a", int, 0)]);
            let t = b.add_struct("bar", 4, &[MemberSpec::new("a", int, 0)]);
            (l, t)
        });
        assert!(!types_match(&btf, l, &btf, t, false, MAX_DEPTH).unwrap());
        let (btf, l, t) = pair(|b| {
            let int = b.add_int("int", 4, INT_SIGNED);
            let l = b.add_struct("foo", 4, &[MemberSpec::new("a", int, 0)]);
            let t = b.add_union("foo", 4, &[MemberSpec::new("a", int, 0)]);
            (l, t)
        });
        assert!(!types_match(&btf, l, &btf, t, false, MAX_DEPTH).unwrap());
    }

    #[test]
    fn types_match_compares_enum_values_by_name_and_size() {
        let mut b = BtfBuilder::new();
        let l = b.add_enum("e", 4, false, &[("A", 0), ("B", 1)]);
        let t = b.add_enum("e", 4, false, &[("C", 5), ("B", 9), ("A", 8)]);
        let other = b.add_enum("e", 4, false, &[("A", 0), ("D", 1)]);
        let wide = b.add_enum64("e", 8, false, &[("A", 0), ("B", 1)]);
        let same_size64 = b.add_enum64("e", 4, false, &[("A", 0), ("B", 1)]);
        let btf = build(b);
        let matches = |l, t| types_match(&btf, l, &btf, t, false, MAX_DEPTH).unwrap();
        assert!(matches(l, t), "names matter, values do not");
        assert!(!matches(other, t), "D is missing in the target");
        assert!(!matches(t, l), "more local enumerators");
        assert!(!matches(l, wide), "size differs");
        assert!(matches(l, same_size64), "ENUM against ENUM64 of one size");
    }

    #[test]
    fn types_match_compares_int_size_and_sign() {
        // One name for all, so only the INT rule decides.
        let mut b = BtfBuilder::new();
        let s32 = b.add_int("int", 4, INT_SIGNED);
        let s32_again = b.add_int("int", 4, INT_SIGNED);
        let u32 = b.add_int("int", 4, 0);
        let s64 = b.add_int("int", 8, INT_SIGNED);
        let char32 = b.add_int("int", 4, INT_CHAR);
        let btf = build(b);
        let matches = |l, t| types_match(&btf, l, &btf, t, false, MAX_DEPTH).unwrap();
        assert!(matches(s32, s32_again));
        assert!(!matches(s32, u32), "signedness");
        assert!(!matches(s32, s64), "size");
        assert!(
            matches(u32, char32),
            "only the signed bit of the encoding counts"
        );
        let (btf, id) = local();
        assert!(
            !types_match(&btf, id.long, &btf, id.ulong, false, MAX_DEPTH).unwrap(),
            "names differ"
        );
    }

    #[test]
    fn types_match_behind_a_pointer_only_compares_kinds() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let long = b.add_int("long", 8, INT_SIGNED);
        let l = b.add_struct("foo", 4, &[MemberSpec::new("a", int, 0)]);
        let t = b.add_struct("foo", 8, &[MemberSpec::new("a", long, 0)]);
        let fwd_s = b.add_fwd("foo", false);
        let fwd_u = b.add_fwd("foo", true);
        let pl = b.add_ptr(l);
        let pt = b.add_ptr(t);
        let p_fwd_s = b.add_ptr(fwd_s);
        let p_fwd_u = b.add_ptr(fwd_u);
        let btf = build(b);
        let matches = |l, t| types_match(&btf, l, &btf, t, false, MAX_DEPTH).unwrap();
        assert!(!matches(l, t), "member a: int against long");
        assert!(matches(pl, pt));
        assert!(matches(pl, p_fwd_s));
        assert!(!matches(pl, p_fwd_u));
        assert!(matches(fwd_s, t), "a local FWD matches the struct");
        assert!(!matches(fwd_u, t), "a union FWD does not");
    }

    #[test]
    fn types_match_compares_array_lengths_and_prototypes() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let uint = b.add_int("unsigned int", 4, 0);
        let a2 = b.add_array(int, int, 2);
        let a2b = b.add_array(int, uint, 2);
        let a3 = b.add_array(int, int, 3);
        let f1 = b.add_func_proto(int, &[("x", int)]);
        let f1b = b.add_func_proto(int, &[("y", int)]);
        let f2 = b.add_func_proto(int, &[("x", uint)]);
        let btf = build(b);
        let matches = |l, t| types_match(&btf, l, &btf, t, false, MAX_DEPTH).unwrap();
        assert!(matches(a2, a2b));
        assert!(!matches(a2, a3));
        assert!(matches(f1, f1b), "parameter names are not compared");
        assert!(!matches(f1, f2));
    }

    #[test]
    fn type_based_specs_use_compat_or_match() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let long = b.add_int("long", 8, INT_SIGNED);
        let l = b.add_struct("s", 4, &[MemberSpec::new("a", int, 0)]);
        let t = b.add_struct("s", 8, &[MemberSpec::new("a", long, 0)]);
        let u = b.add_union("s", 4, &[MemberSpec::new("a", int, 0)]);
        let btf = build(b);
        let spec = |kind| Spec::parse(&btf, l, "0", kind).unwrap();
        let exists = spec(CoreReloKind::TypeExists);
        assert!(
            spec_match(&exists, &btf, t).unwrap().0,
            "layout is not compared"
        );
        assert!(!spec_match(&exists, &btf, u).unwrap().0);
        let matches = spec(CoreReloKind::TypeMatches);
        assert!(
            !spec_match(&matches, &btf, t).unwrap().0,
            "member a differs"
        );
        assert!(spec_match(&matches, &btf, l).unwrap().0);
    }

    #[test]
    fn enumval_spec_matches_an_enumerator_by_essential_name() {
        let (lbtf, id) = local();
        let mut b = BtfBuilder::new();
        let t = b.add_enum64("e", 8, false, &[("C", 7), ("B___v2", 9)]);
        let s = b.add_struct("e", 0, &[]);
        let tbtf = build(b);
        let local_spec = Spec::parse(&lbtf, id.e, "1", CoreReloKind::EnumvalValue).unwrap();
        let (ok, spec) = spec_match(&local_spec, &tbtf, t).unwrap();
        assert!(ok);
        assert_eq!(spec.raw, [1]);
        assert_eq!(spec.accessors[0].name.as_deref(), Some("B___v2"));
        assert!(!spec_match(&local_spec, &tbtf, s).unwrap().0, "not an enum");
        let local_spec = Spec::parse(&lbtf, id.e, "0", CoreReloKind::EnumvalExists).unwrap();
        assert!(
            !spec_match(&local_spec, &tbtf, t).unwrap().0,
            "no A in the target"
        );
    }
}
