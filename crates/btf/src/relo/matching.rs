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
const MAX_DEPTH: u32 = 32;

fn too_deep() -> ReloError {
    ReloError::TooDeep
}

/// Same kind, or both enums (ENUM and ENUM64 are interchangeable for CO-RE).
pub(crate) fn kinds_compat(a: Type<'_>, b: Type<'_>) -> bool {
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
