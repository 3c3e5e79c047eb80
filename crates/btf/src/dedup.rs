//! BTF deduplication: merges structurally identical types, as `btf__dedup` does for the
//! types that several compilation units (or several linked objects) repeat.
//!
//! Two types are merged when they are *equivalent*: same kind, name, size, encoding and
//! member/parameter/enumerator names and offsets, and every type they refer to is equivalent
//! in turn. Equivalence is computed as a bisimulation, by partition refinement (Moore's DFA
//! minimisation): every type starts in a class keyed by its own words with type ids left
//! out; each round splits a class whose members refer to different classes; when a round
//! splits nothing, the classes are the equivalence. Reference cycles (a struct holding a
//! pointer to itself, lists through several structs) need no special case: two cyclic
//! graphs of the same shape are never split apart.
//!
//! A `FWD` is then resolved to the struct or union of its name and kind when exactly one
//! such class exists (libbpf's `btf_dedup_resolve_fwds`), and refinement runs again, so
//! `struct foo *` seen through a forward declaration in one unit and through the full
//! definition in another become one pointer.
//!
//! Where this differs from libbpf's algorithm (documented, deliberate):
//! - libbpf deduplicates a struct against the *first* canonical candidate of its hash and
//!   may keep two structurally identical structs apart when their first encounter order
//!   made the hypothetical mapping fail (its "`struct` equivalence is checked against one
//!   candidate at a time"); refinement finds the coarsest equivalence, so it merges at least
//!   as much. A FWD inside a struct's member graph is resolved only when its name is
//!   unambiguous, as libbpf resolves FWDs after struct dedup.
//! - `VAR` and `DATASEC` types are never merged (libbpf keeps them as they are too).
//! - An `ENUM` forward declaration (vlen 0) is not merged into a full enum of its name,
//!   and `ENUM`/`ENUM64` are not considered equivalent to each other (libbpf merges both).
//! - Unreferenced strings are kept (offsets stay valid for `.BTF.ext` records that point
//!   into the string section); libbpf rebuilds the string section.
//!
//! The first type of each class keeps its place: output ids follow the order in which each
//! distinct type first appears, as libbpf's compaction does.

use std::collections::HashMap;

use crate::raw::{info_kind, info_vlen, Endian, Kind, BTF_HEADER_LEN, BTF_MAGIC};
use crate::{Btf, BtfError, Result};

/// The result of [`dedup`]: the deduplicated blob and where each input type went.
#[derive(Debug, Clone)]
pub struct Dedup {
    /// The deduplicated BTF (little-endian, 24-byte header, the input's string section).
    pub btf: Vec<u8>,
    /// `map[old_id]` is the type's id in [`Dedup::btf`] (`map[0] == 0`, void).
    pub map: Vec<u32>,
}

/// Word indices (0 = name_off, 1 = info, 2 = size/type, then kind-specific words) of a
/// record of `kind` with `vlen` entries that hold type ids.
pub fn type_id_slots(kind: Kind, vlen: u32) -> Vec<usize> {
    let mut v = Vec::new();
    if kind.has_type_ref() {
        v.push(2);
    }
    let vlen = vlen as usize;
    match kind {
        Kind::Array => v.extend([3, 4]),
        Kind::Struct | Kind::Union => v.extend((0..vlen).map(|i| 3 + 3 * i + 1)),
        Kind::FuncProto => v.extend((0..vlen).map(|i| 3 + 2 * i + 1)),
        Kind::Datasec => v.extend((0..vlen).map(|i| 3 + 3 * i)),
        _ => {}
    }
    v
}

/// Word indices of a record of `kind` with `vlen` entries that hold string offsets.
pub fn string_slots(kind: Kind, vlen: u32) -> Vec<usize> {
    let mut v = vec![0];
    let vlen = vlen as usize;
    match kind {
        Kind::Struct | Kind::Union | Kind::Enum64 => v.extend((0..vlen).map(|i| 3 + 3 * i)),
        Kind::Enum | Kind::FuncProto => v.extend((0..vlen).map(|i| 3 + 2 * i)),
        _ => {}
    }
    v
}

/// One type record as words, with what [`dedup`] needs to know about it.
struct Record {
    kind: Kind,
    words: Vec<u32>,
    refs: Vec<usize>,
}

/// Deduplicates `btf` (a base BTF, no split). Types of kinds the kernel does not define are
/// refused: which of their words are type ids is unknown.
pub fn dedup(btf: &Btf) -> Result<Dedup> {
    if btf.base().is_some() {
        return Err(BtfError::BadHeader {
            what: "BTF dedup",
            reason: "split BTF is not supported".into(),
        });
    }
    let records = read_records(btf)?;
    let strings = StringIds::new(btf, &records)?;
    let n = records.len();
    let mut alias: Vec<u32> = (0..n as u32).collect();
    let class = refine(&records, &strings, &alias);
    if resolve_fwds(btf, &records, &class, &mut alias)? {
        let class = refine(&records, &strings, &alias);
        return Ok(emit(btf, &records, &class, &alias));
    }
    Ok(emit(btf, &records, &class, &alias))
}

/// Every record (index 0 is void, with no words), decoded to little-endian-independent words.
fn read_records(btf: &Btf) -> Result<Vec<Record>> {
    let mut out = Vec::with_capacity(btf.type_count() as usize);
    out.push(Record {
        kind: Kind::Void,
        words: Vec::new(),
        refs: Vec::new(),
    });
    let e = btf.endian();
    for t in btf.types() {
        let raw = t.raw();
        let words: Vec<u32> = (0..raw.len() / 4).map(|i| e.u32(raw, i * 4)).collect();
        let info = words.get(1).copied().unwrap_or(0);
        let kind = Kind::from_u32(info_kind(info)).ok_or(BtfError::BadKind {
            id: t.id(),
            offset: 0,
            kind: info_kind(info),
        })?;
        let refs = type_id_slots(kind, info_vlen(info));
        let last = btf.type_count().saturating_sub(1);
        for &slot in &refs {
            let id = words.get(slot).copied().unwrap_or(u32::MAX);
            if id > last {
                return Err(BtfError::TypeIdOutOfRange {
                    what: format!("type [{}] ({})", t.id(), kind.name()),
                    id,
                    last,
                });
            }
        }
        out.push(Record { kind, words, refs });
    }
    Ok(out)
}

/// String offsets numbered by content, so equal names at different offsets compare equal.
struct StringIds {
    by_off: HashMap<u32, u32>,
}

impl StringIds {
    fn new(btf: &Btf, records: &[Record]) -> Result<StringIds> {
        let mut by_text: HashMap<&[u8], u32> = HashMap::new();
        let mut by_off = HashMap::new();
        for r in records.iter().skip(1) {
            let vlen = info_vlen(r.words[1]);
            for slot in string_slots(r.kind, vlen) {
                let off = r.words.get(slot).copied().unwrap_or(0);
                if by_off.contains_key(&off) {
                    continue;
                }
                let text = btf.str_bytes_at(off)?;
                let next = by_text.len() as u32;
                let id = *by_text.entry(text).or_insert(next);
                by_off.insert(off, id);
            }
        }
        Ok(StringIds { by_off })
    }

    fn id(&self, off: u32) -> u32 {
        self.by_off.get(&off).copied().unwrap_or(u32::MAX)
    }
}

/// The words of a record that must be equal for two types to be equivalent: type ids left
/// out (the refinement compares their classes), strings by content. VAR and DATASEC keep
/// their id, so no two of them are ever equivalent.
fn local_key(id: usize, r: &Record, strings: &StringIds) -> Vec<u32> {
    let vlen = r.words.get(1).map_or(0, |&w| info_vlen(w));
    let mut key = r.words.clone();
    for slot in string_slots(r.kind, vlen) {
        if let Some(w) = key.get_mut(slot) {
            *w = strings.id(*w);
        }
    }
    for &slot in &r.refs {
        key[slot] = 0;
    }
    if matches!(r.kind, Kind::Var | Kind::Datasec) {
        key.push(id as u32);
    }
    key
}

/// The coarsest partition of the types in which equivalent types share a class. `alias`
/// redirects references (a resolved FWD refers to its struct); aliased types keep their
/// own class but nothing refers to them any more.
fn refine(records: &[Record], strings: &StringIds, alias: &[u32]) -> Vec<u32> {
    let mut keys: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut class: Vec<u32> = records
        .iter()
        .enumerate()
        .map(|(id, r)| {
            let next = keys.len() as u32;
            *keys.entry(local_key(id, r, strings)).or_insert(next)
        })
        .collect();
    let mut count = keys.len();
    // Each round either splits a class or ends; there are at most `records.len()` classes.
    for _ in 0..records.len() {
        let mut sigs: HashMap<Vec<u32>, u32> = HashMap::new();
        let next_class: Vec<u32> = records
            .iter()
            .enumerate()
            .map(|(id, r)| {
                let mut sig = Vec::with_capacity(r.refs.len() + 1);
                sig.push(class[id]);
                sig.extend(
                    r.refs
                        .iter()
                        .map(|&s| class[alias[r.words[s] as usize] as usize]),
                );
                let next = sigs.len() as u32;
                *sigs.entry(sig).or_insert(next)
            })
            .collect();
        class = next_class;
        if sigs.len() == count {
            break;
        }
        count = sigs.len();
    }
    class
}

/// Points each FWD at the struct or union of its name and kind when exactly one class of
/// them exists; returns whether any FWD was resolved.
fn resolve_fwds(btf: &Btf, records: &[Record], class: &[u32], alias: &mut [u32]) -> Result<bool> {
    // (name, is union) → the one class of that name and kind (its first type), or None
    // when several classes share the name.
    type ByName<'b> = HashMap<(&'b [u8], bool), Option<(u32, usize)>>;
    let mut by_name: ByName<'_> = HashMap::new();
    for (id, r) in records.iter().enumerate() {
        if !matches!(r.kind, Kind::Struct | Kind::Union) {
            continue;
        }
        let name = btf.str_bytes_at(r.words[0])?;
        if name.is_empty() {
            continue;
        }
        let entry = by_name
            .entry((name, r.kind == Kind::Union))
            .or_insert(Some((class[id], id)));
        if entry.is_some_and(|(c, _)| c != class[id]) {
            *entry = None;
        }
    }
    let mut any = false;
    for (id, r) in records.iter().enumerate() {
        if r.kind != Kind::Fwd {
            continue;
        }
        let is_union = r.words[1] >> 31 == 1;
        let name = btf.str_bytes_at(r.words[0])?;
        if let Some(Some((_, target))) = by_name.get(&(name, is_union)) {
            alias[id] = *target as u32;
            any = true;
        }
    }
    Ok(any)
}

/// Writes the first type of every class (unaliased) with references renumbered.
fn emit(btf: &Btf, records: &[Record], class: &[u32], alias: &[u32]) -> Dedup {
    let mut rep_of_class: HashMap<u32, u32> = HashMap::new();
    let mut map = vec![0u32; records.len()];
    let mut kept = Vec::new();
    for id in 1..records.len() {
        if alias[id] as usize != id {
            continue;
        }
        match rep_of_class.get(&class[id]) {
            Some(&new) => map[id] = new,
            None => {
                let new = kept.len() as u32 + 1;
                rep_of_class.insert(class[id], new);
                map[id] = new;
                kept.push(id);
            }
        }
    }
    for id in 1..records.len() {
        if alias[id] as usize != id {
            map[id] = map[alias[id] as usize];
        }
    }
    let mut types = Vec::new();
    for &id in &kept {
        let r = &records[id];
        let mut words = r.words.clone();
        for &slot in &r.refs {
            words[slot] = map[words[slot] as usize];
        }
        for w in words {
            types.extend_from_slice(&w.to_le_bytes());
        }
    }
    Dedup {
        btf: encode(&types, btf.string_section()),
        map,
    }
}

/// A little-endian BTF blob of these type records and strings.
pub(crate) fn encode(types: &[u8], strings: &[u8]) -> Vec<u8> {
    let e = Endian::Little;
    let mut out = Vec::with_capacity(BTF_HEADER_LEN + types.len() + strings.len());
    out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
    out.push(1);
    out.push(0);
    e.put_u32(&mut out, BTF_HEADER_LEN as u32);
    e.put_u32(&mut out, 0);
    e.put_u32(&mut out, types.len() as u32);
    e.put_u32(&mut out, types.len() as u32);
    e.put_u32(&mut out, strings.len() as u32);
    out.extend_from_slice(types);
    out.extend_from_slice(strings);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BtfBuilder, Linkage, MemberSpec, INT_SIGNED};

    /// Two "compilation units" each with int, a self-referential list node, a pointer to it
    /// and a function taking it: dedup keeps one of each.
    #[test]
    fn merges_identical_units_through_cycles() {
        let mut b = BtfBuilder::new();
        for _ in 0..2 {
            let int = b.add_int("int", 4, INT_SIGNED);
            let node = b.next_id();
            let ptr = node + 1;
            b.add_struct(
                "node",
                16,
                &[
                    MemberSpec::new("next", ptr, 0),
                    MemberSpec::new("v", int, 8),
                ],
            );
            b.add_ptr(node);
            let proto = b.add_func_proto(int, &[("n", ptr)]);
            b.add_func("f", proto, Linkage::Global);
        }
        let btf = Btf::from_vec(b.build()).unwrap();
        assert_eq!(btf.type_count(), 11);
        let d = dedup(&btf).unwrap();
        let out = Btf::parse(&d.btf).unwrap();
        assert_eq!(out.type_count(), 6, "int, node, ptr, proto, func (+ void)");
        assert_eq!(d.map[6..], d.map[1..6]);
        let node = out.find_by_name_kind("node", Kind::Struct).unwrap();
        let next = out.type_by_id(node).unwrap().members().next().unwrap();
        assert_eq!(out.type_by_id(next.type_id).unwrap().type_id(), Some(node));
    }

    #[test]
    fn different_members_stay_apart_and_fwd_resolves() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let long = b.add_int("long", 8, INT_SIGNED);
        let s1 = b.add_struct("s", 4, &[MemberSpec::new("a", int, 0)]);
        let fwd = b.add_fwd("s", false);
        let p_fwd = b.add_ptr(fwd);
        let p_s = b.add_ptr(s1);
        let t1 = b.add_struct("t", 8, &[MemberSpec::new("a", long, 0)]);
        let t2 = b.add_struct("t", 8, &[MemberSpec::new("a", int, 0)]);
        let btf = Btf::from_vec(b.build()).unwrap();
        let d = dedup(&btf).unwrap();
        assert_eq!(d.map[fwd as usize], d.map[s1 as usize]);
        assert_eq!(d.map[p_fwd as usize], d.map[p_s as usize]);
        assert_ne!(d.map[t1 as usize], d.map[t2 as usize]);
        assert_eq!(Btf::parse(&d.btf).unwrap().type_count(), 7);
    }

    #[test]
    fn vars_are_never_merged() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let v1 = b.add_var("x", int, Linkage::Static);
        let v2 = b.add_var("x", int, Linkage::Static);
        let btf = Btf::from_vec(b.build()).unwrap();
        let d = dedup(&btf).unwrap();
        assert_ne!(d.map[v1 as usize], d.map[v2 as usize]);
    }
}
