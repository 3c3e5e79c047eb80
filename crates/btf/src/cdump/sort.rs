//! bpftool's sorted dump order (`bpftool btf dump ... format c`, the default since
//! bpftool 7.5): by rank (anonymous enums, named enums, base types, structs and unions,
//! named function prototypes, the rest), then by the name a type sorts under (a typedef
//! or pointer sorts under what it refers to), then its own name, then a hash of its shape,
//! then id. Ordering still decides what comes first where C needs it; sorting only picks
//! the order in which independent definitions appear.
//!
//! bpftool skips the first type of its sorted list (it assumes that is void, but an
//! anonymous enum sorts first), losing a top-level anonymous enum; here only void is
//! skipped.

use super::names::{cstr, tname};
use super::CDumper;
use crate::raw::Kind;
use crate::types::Type;

/// Rank of types that sort last (anonymous composites, pointers, functions ...).
const MAX_RANK: u8 = 10;
/// Deepest reference chain followed for a sort key (real chains are a few links).
const MAX_KEY_DEPTH: u32 = 32;

/// Type ids (void excluded) in bpftool's sorted order.
pub(super) fn sorted_ids(d: &CDumper<'_>) -> Vec<u32> {
    let types = &d.types;
    let ty = |id: u32| types.get(id as usize).copied().unwrap_or(types[0]);
    // (rank, sort name, own name, id); the shape hash only breaks ties, so it is computed
    // for tied runs only.
    let mut keys: Vec<(u8, &[u8], &[u8], u32)> = types
        .iter()
        .skip(1)
        .map(|&t| {
            (
                rank(&ty, t, false, 0),
                sort_name(&ty, t, false, 0),
                tname(&t),
                t.id(),
            )
        })
        .collect();
    keys.sort_unstable();
    let mut ids = Vec::with_capacity(keys.len());
    let mut tied: Vec<(u64, u32)> = Vec::new();
    for run in keys.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
        if run.len() == 1 {
            ids.push(run[0].3);
            continue;
        }
        tied.clear();
        tied.extend(
            run.iter()
                .map(|k| (disambig_hash(&ty, ty(k.3), true, 0), k.3)),
        );
        tied.sort_unstable();
        ids.extend(tied.iter().map(|&(_, id)| id));
    }
    ids
}

/// Whether `kind` is a reference bpftool's keys look through.
fn is_ref(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::TypeTag
            | Kind::Const
            | Kind::Ptr
            | Kind::Volatile
            | Kind::Restrict
            | Kind::Typedef
            | Kind::DeclTag
    )
}

fn rank<'a>(ty: &impl Fn(u32) -> Type<'a>, t: Type<'a>, has_name: bool, depth: u32) -> u8 {
    let has_name = has_name || t.name_off() != 0;
    if depth > MAX_KEY_DEPTH {
        return MAX_RANK;
    }
    match t.kind() {
        Kind::Enum | Kind::Enum64 => has_name as u8,
        Kind::Int | Kind::Float => 2,
        Kind::Struct | Kind::Union if has_name => 3,
        Kind::FuncProto if has_name => 4,
        Kind::Array if has_name => rank(
            ty,
            ty(t.array().map_or(0, |a| a.elem_type)),
            true,
            depth + 1,
        ),
        k if is_ref(k) && has_name => rank(ty, ty(t.type_id().unwrap_or(0)), true, depth + 1),
        _ => MAX_RANK,
    }
}

fn sort_name<'a>(
    ty: &impl Fn(u32) -> Type<'a>,
    t: Type<'a>,
    from_ref: bool,
    depth: u32,
) -> &'a [u8] {
    if depth > MAX_KEY_DEPTH {
        return tname(&t);
    }
    match t.kind() {
        // An anonymous enum sorts under its first enumerator.
        Kind::Enum | Kind::Enum64 if !from_ref && t.name_off() == 0 => t
            .enumerators()
            .next()
            .map_or(&[][..], |e| cstr(t.btf(), e.name_off)),
        Kind::Array => sort_name(
            ty,
            ty(t.array().map_or(0, |a| a.elem_type)),
            true,
            depth + 1,
        ),
        k if is_ref(k) => sort_name(ty, ty(t.type_id().unwrap_or(0)), true, depth + 1),
        _ => tname(&t),
    }
}

/// libbpf's `str_hash` (`h = h * 31 + c` over C `char`s, which are signed on x86).
fn str_hash(s: &[u8]) -> u64 {
    s.iter().fold(0u64, |h, &c| {
        h.wrapping_mul(31).wrapping_add(c as i8 as i64 as u64)
    })
}

fn mix(hash: u64, val: u64) -> u64 {
    hash.wrapping_mul(31).wrapping_add(val)
}

fn mix_name(hash: u64, name: &[u8]) -> u64 {
    if name.is_empty() {
        hash
    } else {
        mix(hash, str_hash(name))
    }
}

fn disambig_hash<'a>(ty: &impl Fn(u32) -> Type<'a>, t: Type<'a>, members: bool, depth: u32) -> u64 {
    let mut hash = mix_name(0, tname(&t));
    if depth > MAX_KEY_DEPTH {
        return hash;
    }
    match t.kind() {
        Kind::Enum | Kind::Enum64 => {
            for e in t.enumerators() {
                hash = mix_name(hash, cstr(t.btf(), e.name_off));
            }
        }
        Kind::Struct | Kind::Union if members => {
            for m in t.members() {
                hash = mix_name(hash, cstr(t.btf(), m.name_off));
                hash = mix(hash, disambig_hash(ty, ty(m.type_id), false, depth + 1));
            }
        }
        Kind::Array => {
            let a = t.array().unwrap_or(crate::Array {
                elem_type: 0,
                index_type: 0,
                nelems: 0,
            });
            hash = mix(hash, a.nelems as u64);
            hash = mix(hash, disambig_hash(ty, ty(a.elem_type), members, depth + 1));
        }
        k if is_ref(k) => {
            hash = mix(
                hash,
                disambig_hash(ty, ty(t.type_id().unwrap_or(0)), members, depth + 1),
            );
        }
        _ => {}
    }
    hash
}
