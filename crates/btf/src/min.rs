//! Minimal BTF for CO-RE (`bpftool gen min_core_btf`): from a kernel's full BTF, only what
//! the CO-RE relocations of some objects touch, so a tool can ship a few kilobytes per
//! kernel for kernels without `/sys/kernel/btf/vmlinux`.
//!
//! Every relocation is matched against the full BTF with the relocation engine's own rules
//! ([`crate::relo`]), and every candidate that matches is kept (not only the first: the
//! loader narrows a type's candidates to those that matched earlier relocations, so each
//! must stay a match). What is kept, by relocation kind:
//! - field relocations: each struct/union on the matched access path with only the members
//!   the path goes through (their offsets, bitfield sizes and the struct's size unchanged),
//!   and the members' types; a pointer whose pointee nothing needs points to an empty
//!   struct/union of the same name and size (or to `void` if the pointee is not a
//!   struct/union);
//! - type-based relocations (`type_exists`, `type_size`, `type_id_target`): the type and
//!   what it references, pointers followed, structs/unions without members;
//! - `type_matches`: the type with all members, recursively (structs/unions behind a
//!   pointer without members), as `bpf_core_type_matches()` compares them;
//! - enum value relocations: the enum with only the touched enumerators (an enum reached
//!   any other way is kept whole).
//!
//! Relocating an object against the result gives the same outcome for every relocation as
//! against the full BTF, except that `type_id_target` yields the minimal BTF's id of the
//! same type (ids are renumbered, as with bpftool).
//!
//! ```no_run
//! use corebpf_btf::{min::MinBtf, Btf, BtfExt};
//! let full = Btf::parse(&std::fs::read("5.10.btf")?)?;
//! let elf = std::fs::read("prog.bpf.o")?;
//! let local = Btf::from_elf(&elf)?;
//! let ext = BtfExt::from_elf(&elf, &local)?.unwrap_or_default();
//! let mut min = MinBtf::new(&full);
//! min.add_object("prog.bpf.o", &local, &ext)?;
//! std::fs::write("5.10.min.btf", min.build()?)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::ext::{CoreRelo, CoreReloKind};
use crate::index::essential_len;
use crate::raw::{info_word, Kind};
use crate::relo::{ReloError, ReloFailure, Spec};
use crate::resolve::MAX_RESOLVE_DEPTH;
use crate::{Btf, BtfBuilder, BtfError, BtfExt, Type};

/// Why a minimal BTF could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MinBtfError {
    /// A relocation of an object cannot be resolved against the full BTF at all (a
    /// malformed record, an anonymous root type), as the loader would fail it too.
    #[error("{object}: {failure}")]
    Relocation {
        /// The object's name, as given to [`MinBtf::add_object`].
        object: String,
        /// Which relocation and why.
        failure: ReloFailure,
    },
    /// The full BTF is malformed where a relocation led.
    #[error("full BTF: {0}")]
    Btf(BtfError),
    /// A relocated type leads to a type of a kind no C type can reference (a FUNC, VAR,
    /// DATASEC, DECL_TAG or a kind this reader does not know).
    #[error("full BTF: type [{id}] is a {kind}, which no relocated type can reference")]
    UnexpectedKind {
        /// Its id in the full BTF.
        id: u32,
        /// Its kind (or kind number).
        kind: String,
    },
    /// An access path of a matched relocation leads past a type's members.
    #[error("full BTF: type [{id}] has no member or element #{index}")]
    BadAccess {
        /// The struct, union or enum in the full BTF.
        id: u32,
        /// The index.
        index: u32,
    },
}

// The message includes the BTF error, so this is not `#[from]` (which would also make it
// `source()`, and error reporters would print it twice).
impl From<BtfError> for MinBtfError {
    fn from(e: BtfError) -> Self {
        MinBtfError::Btf(e)
    }
}

/// What to keep of one type of the full BTF.
#[derive(Debug, Default, Clone)]
struct Keep {
    /// All members (struct/union) or enumerators (enum).
    whole: bool,
    /// Only these members or enumerators (by index).
    parts: BTreeSet<u32>,
}

/// How a type is walked when marked (bpftool's `btfgen_mark_type` with and without
/// `follow_pointers`, and `btfgen_mark_type_match` in front of and behind a pointer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Walk {
    /// The type and what it needs to be valid; pointees not followed.
    Plain,
    /// Also through pointers (type-based relocations).
    FollowPointers,
    /// All members, recursively (`type_matches`).
    Match,
    /// Behind a pointer in a `type_matches` graph: structs/unions without members.
    MatchBehindPointer,
}

/// Collects what the CO-RE relocations of objects touch in a full BTF, then writes the
/// minimal BTF ([`MinBtf::build`]).
#[derive(Debug)]
pub struct MinBtf<'f> {
    full: &'f Btf,
    keep: BTreeMap<u32, Keep>,
    walked: HashSet<(u32, Walk)>,
    relocations: usize,
}

impl<'f> MinBtf<'f> {
    /// Nothing kept yet from `full` (a kernel's BTF).
    pub fn new(full: &'f Btf) -> MinBtf<'f> {
        MinBtf {
            full,
            keep: BTreeMap::new(),
            walked: HashSet::new(),
            relocations: 0,
        }
    }

    /// Keeps what the CO-RE relocations of one object (its BTF and `.BTF.ext`) touch.
    /// `name` names the object in errors.
    pub fn add_object(&mut self, name: &str, local: &Btf, ext: &BtfExt) -> Result<(), MinBtfError> {
        for sec in &ext.core_relo {
            for (i, relo) in sec.records.iter().enumerate() {
                self.add_relocation(local, relo).map_err(|source| {
                    let spec = local_spec_text(local, relo);
                    MinBtfError::Relocation {
                        object: name.to_string(),
                        failure: ReloFailure {
                            prog: sec.sec_name.clone(),
                            relo_idx: i,
                            spec,
                            error: Box::new(source),
                        },
                    }
                })?;
                self.relocations += 1;
            }
        }
        Ok(())
    }

    /// The number of relocations added so far.
    pub fn relocations(&self) -> usize {
        self.relocations
    }

    /// The number of full-BTF types kept so far (not counting the empty stand-ins for
    /// pointees [`MinBtf::build`] adds).
    pub fn kept_types(&self) -> usize {
        self.keep.len()
    }

    /// Keeps what one relocation touches in every candidate it matches.
    fn add_relocation(&mut self, local: &Btf, relo: &CoreRelo) -> Result<(), ReloError> {
        let kind = relo.kind().ok_or(ReloError::Unsupported(relo.kind))?;
        if kind == CoreReloKind::TypeIdLocal {
            return Ok(());
        }
        let access = local.str_at(relo.access_str_off)?;
        let cands = candidates(local, relo.type_id, self.full)?;
        let spec = Spec::parse(local, relo.type_id, access, kind)?;
        for id in cands {
            let (matched, targ) = crate::relo::matching::spec_match(&spec, self.full, id)?;
            if matched {
                self.record(kind, targ.root_type_id, &targ.raw)
                    .map_err(min_to_relo)?;
            }
        }
        Ok(())
    }

    /// Marks what a matched target spec (root and raw access path) needs.
    fn record(&mut self, kind: CoreReloKind, root: u32, raw: &[u32]) -> Result<(), MinBtfError> {
        if kind == CoreReloKind::TypeMatches {
            self.mark(root, Walk::Match)
        } else if kind.is_type_based() {
            self.mark(root, Walk::FollowPointers)
        } else if kind.is_enumval_based() {
            self.record_enumval(root, raw.first().copied().unwrap_or(0))
        } else {
            self.record_field(root, raw)
        }
    }

    /// A field relocation: the root, then along the access path each member gone through
    /// and its type (bpftool's `btfgen_record_field_relo`).
    fn record_field(&mut self, root: u32, raw: &[u32]) -> Result<(), MinBtfError> {
        self.mark(root, Walk::Plain)?;
        let mut id = root;
        for &index in raw.iter().skip(1) {
            let t = self.full.skip_mods_and_typedefs(id)?;
            if t.is_composite() {
                let m = t
                    .member(index)
                    .ok_or(MinBtfError::BadAccess { id: t.id(), index })?;
                self.keep.entry(t.id()).or_default().parts.insert(index);
                self.mark(m.type_id, Walk::Plain)?;
                id = m.type_id;
            } else if let Some(a) = t.array() {
                id = a.elem_type;
            } else {
                return Err(MinBtfError::BadAccess { id: t.id(), index });
            }
        }
        Ok(())
    }

    /// An enum value relocation: the typedefs/modifiers leading to the enum, and of the enum
    /// only the enumerator `index`.
    fn record_enumval(&mut self, root: u32, index: u32) -> Result<(), MinBtfError> {
        let mut id = root;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.full.type_by_id(id)?;
            if t.is_any_enum() {
                if index >= t.vlen() {
                    return Err(MinBtfError::BadAccess { id, index });
                }
                self.keep.entry(id).or_default().parts.insert(index);
                return Ok(());
            }
            if !(t.kind() == Kind::Typedef || t.kind().is_modifier()) {
                return Err(unexpected(t));
            }
            self.keep.entry(id).or_default();
            id = t.type_id().unwrap_or(0);
        }
        Err(BtfError::ReferenceCycle {
            id: root,
            limit: MAX_RESOLVE_DEPTH,
        }
        .into())
    }

    /// Marks `id` and, depending on `walk`, what it references (a work list, not
    /// recursion: hostile BTF can chain types arbitrarily deep).
    fn mark(&mut self, id: u32, walk: Walk) -> Result<(), MinBtfError> {
        let mut work = vec![(id, walk)];
        while let Some((id, walk)) = work.pop() {
            if id == 0 || !self.walked.insert((id, walk)) {
                continue;
            }
            let t = self.full.type_by_id(id)?;
            let keep = self.keep.entry(id).or_default();
            let next = |to: Option<u32>, w: Walk| (to.unwrap_or(0), w);
            match t.kind() {
                Kind::Void if t.is_unknown_kind() => return Err(unexpected(t)),
                Kind::Void | Kind::Int | Kind::Float | Kind::Fwd => {}
                Kind::Enum | Kind::Enum64 => keep.whole = true,
                Kind::Struct | Kind::Union => {
                    if walk == Walk::Match {
                        keep.whole = true;
                        work.extend(t.members().map(|m| (m.type_id, Walk::Match)));
                    }
                }
                Kind::Ptr => match walk {
                    Walk::Plain => {}
                    Walk::FollowPointers => work.push(next(t.type_id(), walk)),
                    Walk::Match | Walk::MatchBehindPointer => {
                        work.push(next(t.type_id(), Walk::MatchBehindPointer))
                    }
                },
                k if k == Kind::Typedef || k.is_modifier() => work.push(next(t.type_id(), walk)),
                Kind::Array => {
                    let w = inner_walk(walk);
                    if let Some(a) = t.array() {
                        work.extend([(a.elem_type, w), (a.index_type, w)]);
                    }
                }
                Kind::FuncProto => {
                    let w = inner_walk(walk);
                    work.push(next(t.type_id(), w));
                    work.extend(t.params().map(|p| (p.type_id, w)));
                }
                _ => return Err(unexpected(t)),
            }
        }
        Ok(())
    }

    /// Writes the minimal BTF: the kept types in their full-BTF order, then the empty
    /// stand-ins for pointees (struct/union names and sizes, and the modifiers leading to
    /// them); with nothing kept, one anonymous `void *` (the kernel refuses BTF without
    /// types).
    pub fn build(&self) -> Result<Vec<u8>, MinBtfError> {
        let (ids, stubs) = self.plan()?;
        let mut b = BtfBuilder::new();
        for (&id, keep) in &self.keep {
            self.emit(&mut b, self.full.type_by_id(id)?, Some(keep), &ids)?;
        }
        for &id in &stubs {
            self.emit(&mut b, self.full.type_by_id(id)?, None, &ids)?;
        }
        if self.keep.is_empty() {
            // The kernel refuses BTF without types; an anonymous `void *` is never a CO-RE
            // candidate, so it changes no relocation.
            b.add_ptr(0);
        }
        Ok(b.build())
    }

    /// New ids: kept types first (in full-BTF id order), then stand-ins for the pointees
    /// of kept pointers that nothing else keeps.
    fn plan(&self) -> Result<(HashMap<u32, u32>, Vec<u32>), MinBtfError> {
        let mut ids: HashMap<u32, u32> = HashMap::new();
        for (n, &id) in self.keep.keys().enumerate() {
            ids.insert(id, n as u32 + 1);
        }
        let mut stubs = Vec::new();
        for &id in self.keep.keys() {
            let t = self.full.type_by_id(id)?;
            if t.kind() != Kind::Ptr {
                continue;
            }
            for s in self.stub_chain(t.type_id().unwrap_or(0), &ids)? {
                ids.insert(s, (self.keep.len() + stubs.len()) as u32 + 1);
                stubs.push(s);
            }
        }
        Ok((ids, stubs))
    }

    /// The types to add so that a kept pointer to `id` keeps pointing at a type of the
    /// same name: modifiers, then an empty struct/union (or a forward declaration). Empty
    /// if `id` is already there, or if it is not a struct/union (the pointer then points
    /// to `void`, as bpftool's do).
    fn stub_chain(&self, id: u32, ids: &HashMap<u32, u32>) -> Result<Vec<u32>, MinBtfError> {
        let mut chain = Vec::new();
        let mut id = id;
        for _ in 0..MAX_RESOLVE_DEPTH {
            if id == 0 {
                return Ok(Vec::new());
            }
            if ids.contains_key(&id) {
                return Ok(chain);
            }
            let t = self.full.type_by_id(id)?;
            chain.push(id);
            match t.kind() {
                Kind::Struct | Kind::Union | Kind::Fwd if !t.is_unknown_kind() => {
                    chain.reverse();
                    return Ok(chain);
                }
                k if k.is_modifier() => id = t.type_id().unwrap_or(0),
                _ => return Ok(Vec::new()),
            }
        }
        Ok(Vec::new())
    }

    /// Appends type `t` with its references renumbered by `ids` (unkept ones become
    /// `void`), and of a struct/union/enum only the members `keep` says (none without).
    fn emit(
        &self,
        b: &mut BtfBuilder,
        t: Type<'_>,
        keep: Option<&Keep>,
        ids: &HashMap<u32, u32>,
    ) -> Result<(), MinBtfError> {
        let map = |id: u32| ids.get(&id).copied().unwrap_or(0);
        let kept = |i: u32| keep.is_some_and(|k| k.whole || k.parts.contains(&i));
        let name = b.add_string(self.full.str_at(t.name_off())?);
        let mut extra = Vec::new();
        let mut vlen = 0;
        let word = match t.kind() {
            Kind::Int => {
                extra.push(int_word(t));
                t.size()
            }
            Kind::Float => t.size(),
            Kind::Fwd => 0,
            k if k == Kind::Typedef || k.is_modifier() || k == Kind::Ptr => {
                map(t.type_id().unwrap_or(0))
            }
            Kind::Array => {
                if let Some(a) = t.array() {
                    extra.extend([map(a.elem_type), map(a.index_type), a.nelems]);
                }
                0
            }
            Kind::Struct | Kind::Union => {
                for m in t.members().filter(|m| kept(m.index)) {
                    let off = raw_member_offset(t, m.index);
                    extra.extend([
                        b.add_string(self.full.str_at(m.name_off)?),
                        map(m.type_id),
                        off,
                    ]);
                    vlen += 1;
                }
                t.size()
            }
            Kind::Enum | Kind::Enum64 => {
                let wide = t.kind() == Kind::Enum64;
                for (i, e) in t.enumerators().enumerate() {
                    if kept(i as u32) {
                        extra.extend([b.add_string(self.full.str_at(e.name_off)?), e.value as u32]);
                        if wide {
                            extra.push((e.value >> 32) as u32);
                        }
                        vlen += 1;
                    }
                }
                t.size()
            }
            Kind::FuncProto => {
                for p in t.params() {
                    extra.extend([b.add_string(self.full.str_at(p.name_off)?), map(p.type_id)]);
                    vlen += 1;
                }
                map(t.type_id().unwrap_or(0))
            }
            _ => return Err(unexpected(t)),
        };
        b.add_raw(name, info_word(t.raw_kind(), vlen, t.kflag()), word, &extra);
        Ok(())
    }
}

/// Minimal BTF of `full` for the CO-RE relocations of `objects` (name, BTF, `.BTF.ext`).
pub fn min_core_btf(full: &Btf, objects: &[(&str, &Btf, &BtfExt)]) -> Result<Vec<u8>, MinBtfError> {
    let mut min = MinBtf::new(full);
    for (name, local, ext) in objects {
        min.add_object(name, local, ext)?;
    }
    min.build()
}

/// Candidates for local type `local_id` in `full`, as the relocator searches them: same
/// essential name, compatible kind.
fn candidates(local: &Btf, local_id: u32, full: &Btf) -> Result<Vec<u32>, ReloError> {
    let lt = local.type_by_id(local_id)?;
    let name = lt.name_bytes();
    if name.is_empty() {
        return Err(ReloError::AnonymousRoot(lt.with_id().to_string()));
    }
    let ess = &name[..essential_len(name)];
    Ok(full
        .find_by_essential_name(ess)
        .filter(|&id| {
            full.type_by_id(id)
                .is_ok_and(|t| crate::relo::matching::kinds_compat(lt, t))
        })
        .collect())
}

/// The local spec as libbpf prints it, for an error (empty if it does not parse).
fn local_spec_text(local: &Btf, relo: &CoreRelo) -> String {
    let Some(kind) = relo.kind() else {
        return String::new();
    };
    let Ok(access) = local.str_at(relo.access_str_off) else {
        return String::new();
    };
    Spec::parse(local, relo.type_id, access, kind).map_or(String::new(), |s| s.to_string())
}

/// A failure while marking, reported as the relocation's failure.
fn min_to_relo(e: MinBtfError) -> ReloError {
    match e {
        MinBtfError::Btf(e) => ReloError::Btf(e),
        other => ReloError::BadSpec {
            access: String::new(),
            reason: other.to_string(),
        },
    }
}

/// Inside an array or a function prototype, a `type_matches` walk starts afresh (as
/// bpftool's); other walks go on as they were.
fn inner_walk(walk: Walk) -> Walk {
    match walk {
        Walk::MatchBehindPointer => Walk::Match,
        w => w,
    }
}

fn unexpected(t: Type<'_>) -> MinBtfError {
    let kind = if t.is_unknown_kind() {
        format!("kind {}", t.raw_kind())
    } else {
        t.kind().name().to_string()
    };
    MinBtfError::UnexpectedKind { id: t.id(), kind }
}

/// Word `i` of `t`'s record as stored (0 past its end, which the parse has ruled out).
fn raw_word(t: Type<'_>, i: usize) -> u32 {
    t.btf().endian().u32(t.raw(), i * 4)
}

/// The INT encoding word as stored (encoding, bit offset, bits).
fn int_word(t: Type<'_>) -> u32 {
    raw_word(t, 3)
}

/// A member's offset word as stored (with the kind flag, the bitfield size in the top 8
/// bits).
fn raw_member_offset(t: Type<'_>, index: u32) -> u32 {
    raw_word(t, 3 + index as usize * 3 + 2)
}
