//! Whether two declarations of one global agree: their BTF types (libbpf's
//! `glob_sym_btf_matches`) and, for maps, their definitions (`map_defs_match`). Each
//! returns the reason for a mismatch, which the caller puts in a `LinkError::Incompatible`.

use corebpf_btf::{Btf, Kind, Linkage, Type};

use crate::btf_maps::parse_map_def;
use crate::maps::MapSpec;

/// Deeper than any real type; bounds the walk over malformed (cyclic) BTF.
const MAX_DEPTH: u32 = 64;

/// Whether `a_id` in `a` and `b_id` in `b` describe the same type. `exact` compares
/// structs member by member; behind a pointer only the shape matters (a FWD matches a
/// struct of its name), as libbpf.
pub(crate) fn btf_matches(
    a: &Btf,
    a_id: u32,
    b: &Btf,
    b_id: u32,
    exact: bool,
) -> Result<(), String> {
    matches_at(a, a_id, b, b_id, exact, 0)
}

fn matches_at(
    a: &Btf,
    a_id: u32,
    b: &Btf,
    b_id: u32,
    exact: bool,
    depth: u32,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("types [{a_id}] and [{b_id}] nest too deeply"));
    }
    let t1 = a.skip_mods_and_typedefs(a_id).map_err(|e| e.to_string())?;
    let t2 = b.skip_mods_and_typedefs(b_id).map_err(|e| e.to_string())?;
    let (k1, k2) = (t1.kind(), t2.kind());
    if !exact && (k1 == Kind::Fwd) != (k2 == Kind::Fwd) {
        return fwd_matches(&t1, &t2);
    }
    if k1 != k2 {
        return Err(format!("BTF kinds {} and {} differ", k1.name(), k2.name()));
    }
    let named = matches!(
        k1,
        Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Fwd | Kind::Func | Kind::Var
    );
    if named && t1.name() != t2.name() {
        return Err(format!(
            "{} names '{}' and '{}' differ",
            k1.name(),
            t1.name(),
            t2.name()
        ));
    }
    let next = |x: u32, y: u32, exact| matches_at(a, x, b, y, exact, depth + 1);
    match k1 {
        Kind::Void | Kind::Fwd => Ok(()),
        Kind::Int | Kind::Float | Kind::Enum | Kind::Enum64 => {
            if t1.size() != t2.size() {
                return Err(format!(
                    "{k} '{}' ({} bytes) and {k} '{}' ({} bytes) differ",
                    t1.name(),
                    t1.size(),
                    t2.name(),
                    t2.size(),
                    k = k1.name(),
                ));
            }
            Ok(())
        }
        Kind::Ptr => next(t1.type_id().unwrap_or(0), t2.type_id().unwrap_or(0), false),
        Kind::Array => {
            let (x, y) = (t1.array(), t2.array());
            next(
                x.map_or(0, |x| x.elem_type),
                y.map_or(0, |y| y.elem_type),
                exact,
            )
        }
        Kind::Func | Kind::Var => {
            if is_static(&t1) != is_static(&t2) {
                return Err(format!("{} '{}' linkages differ", k1.name(), t1.name()));
            }
            next(t1.type_id().unwrap_or(0), t2.type_id().unwrap_or(0), exact)
        }
        Kind::Struct | Kind::Union => composite_matches(&t1, &t2, exact, next),
        Kind::FuncProto => {
            if t1.vlen() != t2.vlen() {
                return Err(format!(
                    "parameter counts {} and {} differ",
                    t1.vlen(),
                    t2.vlen()
                ));
            }
            for (p1, p2) in t1.params().zip(t2.params()) {
                next(p1.type_id, p2.type_id, exact)?;
            }
            next(t1.type_id().unwrap_or(0), t2.type_id().unwrap_or(0), exact)
        }
        other => Err(format!("unsupported BTF kind {}", other.name())),
    }
}

/// A FWD on one side, a struct or union on the other: names and kinds must agree.
fn fwd_matches(t1: &Type<'_>, t2: &Type<'_>) -> Result<(), String> {
    if t1.name() != t2.name() {
        return Err(format!(
            "forward declaration names '{}' and '{}' differ",
            t1.name(),
            t2.name()
        ));
    }
    let (fwd, full) = if t1.kind() == Kind::Fwd {
        (t1, t2)
    } else {
        (t2, t1)
    };
    let want = if fwd.fwd_is_union() {
        Kind::Union
    } else {
        Kind::Struct
    };
    if full.kind() == want {
        return Ok(());
    }
    Err(format!(
        "{} forward declaration and {} '{}' differ",
        want.name(),
        full.kind().name(),
        full.name()
    ))
}

/// Structs and unions: when `exact`, the same members (names, offsets, types) in order.
fn composite_matches(
    t1: &Type<'_>,
    t2: &Type<'_>,
    exact: bool,
    next: impl Fn(u32, u32, bool) -> Result<(), String>,
) -> Result<(), String> {
    if !exact {
        return Ok(());
    }
    if t1.vlen() != t2.vlen() {
        return Err(format!(
            "{} '{}' has {} and {} fields",
            t1.kind().name(),
            t1.name(),
            t1.vlen(),
            t2.vlen()
        ));
    }
    for (i, (m1, m2)) in t1.members().zip(t2.members()).enumerate() {
        if m1.name() != m2.name() {
            return Err(format!(
                "field #{i} names '{}' and '{}' differ",
                m1.name(),
                m2.name()
            ));
        }
        if m1.bit_offset != m2.bit_offset || m1.bitfield_size != m2.bitfield_size {
            return Err(format!("field #{i} ('{}') offsets differ", m1.name()));
        }
        next(m1.type_id, m2.type_id, exact)?;
    }
    Ok(())
}

fn is_static(t: &Type<'_>) -> bool {
    t.linkage() == Some(Linkage::Static)
}

/// Whether two `.maps` VARs define the same map: type, key and value (sizes and types),
/// max_entries, flags, NUMA node, map_extra, pinning, and the inner map the same way.
pub(crate) fn map_defs_match(
    name: &str,
    a: &Btf,
    a_var: u32,
    b: &Btf,
    b_var: u32,
) -> Result<(), String> {
    let d1 = map_def(name, a, a_var)?;
    let d2 = map_def(name, b, b_var)?;
    defs_match(a, &d1, b, &d2)
}

fn map_def(name: &str, btf: &Btf, var: u32) -> Result<MapSpec, String> {
    let v = btf.type_by_id(var).map_err(|e| e.to_string())?;
    if v.kind() != Kind::Var {
        return Err(format!(
            "map definition [{var}] is a {}, not a VAR",
            v.kind().name()
        ));
    }
    let def = btf
        .skip_mods_and_typedefs(v.type_id().unwrap_or(0))
        .map_err(|e| e.to_string())?;
    parse_map_def(btf, name, def).map_err(|e| format!("invalid map definition: {e}"))
}

fn defs_match(a: &Btf, d1: &MapSpec, b: &Btf, d2: &MapSpec) -> Result<(), String> {
    let differ = |what: &str| Err(format!("map {what} mismatch"));
    if d1.map_type != d2.map_type {
        return differ("type");
    }
    if d1.key_size != d2.key_size {
        return differ("key_size");
    }
    if d1.value_size != d2.value_size {
        return differ("value_size");
    }
    for (what, x, y) in [
        ("key type", d1.btf_key_type_id, d2.btf_key_type_id),
        ("value type", d1.btf_value_type_id, d2.btf_value_type_id),
    ] {
        match (x, y) {
            (None, None) => {}
            (Some(x), Some(y)) => {
                btf_matches(a, x, b, y, true).map_err(|e| format!("map {what} mismatch: {e}"))?
            }
            _ => return differ(what),
        }
    }
    if d1.max_entries != d2.max_entries {
        return differ("max_entries");
    }
    if d1.map_flags != d2.map_flags {
        return differ("map_flags");
    }
    if d1.numa_node != d2.numa_node {
        return differ("numa_node");
    }
    if d1.map_extra != d2.map_extra {
        return differ("map_extra");
    }
    if d1.pinning != d2.pinning {
        return differ("pinning");
    }
    match (&d1.inner, &d2.inner) {
        (None, None) => Ok(()),
        (Some(i1), Some(i2)) => defs_match(a, i1, b, i2),
        _ => differ("inner map"),
    }
}
