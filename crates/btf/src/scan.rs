//! The parse pass: one walk over the type section that finds record boundaries, checks
//! bounds and kinds (and, for untrusted input, every reference), keeps a checkpoint offset
//! every [`CHECKPOINT`] types, and hashes the names of non-FUNC types for the name index.

use crate::index::{essential_len, hash, hash_c_str};
use crate::layout::unknown_counts;
use crate::raw::{info_kind, info_vlen, Endian, Kind, Sizes, MAX_KIND, TYPE_HEADER_LEN};
use crate::types::Type;
use crate::{Btf, BtfError, Result};

/// A checkpoint offset is kept for every `CHECKPOINT`-th type; finding any other type walks
/// at most `CHECKPOINT - 1` records from the one before it.
pub(crate) const CHECKPOINT: usize = 8;

/// How much the parse pass checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Everything: bounds, kinds, INT encodings, every type reference and string offset.
    Full,
    /// Record bounds and kinds only: for kernel BTF from sysfs, which the kernel validated
    /// when it loaded it. References and string offsets are still range-checked on access
    /// ([`Btf::type_by_id`], [`Btf::str_at`]), so nothing can read out of bounds.
    Bounds,
}

/// The strings a scan hashes names from.
pub(crate) struct Strings<'a> {
    /// This blob's string section.
    pub own: &'a [u8],
    /// Offsets below this are the base's.
    pub start: u32,
    /// The base, for split BTF.
    pub base: Option<&'a Btf>,
}

/// What the parse pass learns.
pub(crate) struct Scan {
    /// Offset of every `CHECKPOINT`-th type's record.
    pub checkpoints: Vec<u32>,
    /// Number of records.
    pub count: u32,
    /// Largest type id referenced by any record (full check only).
    pub max_ref: u32,
    /// Largest string offset used by any record (full check only).
    pub max_str: u32,
    /// (name offset, id) of every named type that is not a FUNC.
    pub names: Vec<(u32, u32)>,
    /// Named FUNCs, to size their index when it is built.
    pub named_funcs: usize,
    /// (kind, count) of the records of kinds this reader does not know, stepped over with
    /// the layout section's sizes.
    pub unknown: Vec<(u32, u32)>,
}

/// Per kind number, how many records of it a pass stepped over (only unknown kinds count).
type KindCounts = [u32; MAX_KIND as usize + 1];

/// Whether kind number `raw_kind` is one this reader does not know (it got this far, so
/// the layout section sized it).
#[inline(always)]
pub(crate) fn is_unknown(raw_kind: u32) -> bool {
    raw_kind >= Kind::COUNT as u32
}

/// Reads a u32 in one byte order, so the pass is compiled once per order and its hot loop
/// has no endianness branch.
pub(crate) trait Order {
    /// The u32 at the start of `b` (0 if `b` is shorter).
    fn u32(b: &[u8]) -> u32;
}

/// Little-endian BTF.
pub(crate) struct Le;
/// Big-endian BTF.
pub(crate) struct Be;

impl Order for Le {
    #[inline(always)]
    fn u32(b: &[u8]) -> u32 {
        b.first_chunk::<4>().map_or(0, |w| u32::from_le_bytes(*w))
    }
}

impl Order for Be {
    #[inline(always)]
    fn u32(b: &[u8]) -> u32 {
        b.first_chunk::<4>().map_or(0, |w| u32::from_be_bytes(*w))
    }
}

/// Runs the parse pass over type section `t` whose first type is `start_id`; the names it
/// collects come back hashed (see [`Scan::names`]).
pub(crate) fn scan_types(
    t: &[u8],
    e: Endian,
    sizes: &Sizes,
    start_id: u32,
    check: Check,
    strs: &Strings<'_>,
) -> Result<Scan> {
    if t.len() > u32::MAX as usize {
        return Err(BtfError::BadHeader {
            what: "BTF",
            reason: "type section larger than 4 GiB".into(),
        });
    }
    match (e, check) {
        (Endian::Little, Check::Full) => full::<Le>(t, sizes, start_id, strs),
        (Endian::Little, Check::Bounds) => walk_hashing::<Le>(t, sizes, start_id, strs),
        (Endian::Big, Check::Full) => full::<Be>(t, sizes, start_id, strs),
        (Endian::Big, Check::Bounds) => walk_hashing::<Be>(t, sizes, start_id, strs),
    }
}

/// The full checks alone, without hashing names (for [`Btf::validate`]).
pub(crate) fn check_types(t: &[u8], e: Endian, sizes: &Sizes, start_id: u32) -> Result<Scan> {
    match e {
        Endian::Little => scan::<Le, true>(t, sizes, start_id),
        Endian::Big => scan::<Be, true>(t, sizes, start_id),
    }
}

fn full<O: Order>(t: &[u8], sizes: &Sizes, start_id: u32, strs: &Strings<'_>) -> Result<Scan> {
    let mut scan = scan::<O, true>(t, sizes, start_id)?;
    hash_names(&mut scan.names, strs);
    Ok(scan)
}

/// Type sections smaller than this are walked and hashed on one thread.
const PIPELINE_MIN_BYTES: usize = 256 * 1024;
/// Names handed to the hashing thread at a time.
const NAME_CHUNK: usize = 1024;

/// The bounds-only walk with name hashing overlapped: the walk hands every [`NAME_CHUNK`]
/// names to a second thread, which hashes them while the walk goes on (vmlinux: ~15k names
/// over ~127k records), so the index costs almost nothing on top of the walk.
fn walk_hashing<O: Order>(
    t: &[u8],
    sizes: &Sizes,
    start_id: u32,
    strs: &Strings<'_>,
) -> Result<Scan> {
    if t.len() >= PIPELINE_MIN_BYTES {
        if let Some(scan) = walk_lanes_hashing::<O>(t, sizes, start_id, strs) {
            return Ok(scan);
        }
    }
    if t.len() < PIPELINE_MIN_BYTES {
        return match walk::<O>(t, sizes, start_id, usize::MAX, &mut |_| {})? {
            Some(mut scan) => {
                hash_slice(&mut scan.names, strs);
                Ok(scan)
            }
            None => full::<O>(t, sizes, start_id, strs),
        };
    }
    let (walked, chunks) = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<(u32, u32)>>();
        let worker = s.spawn(move || {
            rx.into_iter()
                .map(|mut chunk| {
                    hash_slice(&mut chunk, strs);
                    chunk
                })
                .collect::<Vec<_>>()
        });
        let walked = walk::<O>(t, sizes, start_id, NAME_CHUNK, &mut |chunk| {
            // The worker only stops when the channel closes, so sending cannot fail.
            let _ = tx.send(chunk);
        });
        drop(tx);
        let chunks = match worker.join() {
            Ok(c) => c,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (walked, chunks)
    });
    match walked? {
        Some(mut scan) => {
            hash_slice(&mut scan.names, strs);
            let mut names = Vec::with_capacity(chunks.len() * NAME_CHUNK + scan.names.len());
            for c in chunks {
                names.extend(c);
            }
            names.append(&mut scan.names);
            scan.names = names;
            Ok(scan)
        }
        // Malformed: the full pass names the culprit (the hashed chunks are dropped).
        None => full::<O>(t, sizes, start_id, strs),
    }
}

/// The bounds-only walk as one chain, names unhashed (tests compare the lanes with it).
#[cfg(test)]
pub(crate) fn walk_one_chain<O: Order>(t: &[u8], sizes: &Sizes, start_id: u32) -> Scan {
    walk::<O>(t, sizes, start_id, usize::MAX, &mut |_| {})
        .expect("walk")
        .expect("well-formed")
}

/// The walk in lanes on two threads ([`crate::lanes`]), each hashing the names its groups
/// of lanes found (hashing on another thread *during* the walk measured slower: the lanes keep a
/// core busy and handing chunks out costs the lanes their registers); `None` if the
/// section must be walked as one chain.
fn walk_lanes_hashing<O: Order>(
    t: &[u8],
    sizes: &Sizes,
    start_id: u32,
    strs: &Strings<'_>,
) -> Option<Scan> {
    let packed = PackedSizes::new(sizes)?;
    let hash = |names: &mut [(u32, u32)]| hash_slice(names, strs);
    crate::lanes::walk_lanes_on_two_threads::<O>(t, &packed, start_id, &hash)
}

/// Below this many names, hashing on a second thread costs more than it saves.
const PARALLEL_NAMES: usize = 4096;

/// Replaces each (name offset, id) with (essential-name hash, id), dropping empty names;
/// on two threads when there are many (vmlinux has ~15k non-FUNC names).
pub(crate) fn hash_names(names: &mut [(u32, u32)], strs: &Strings<'_>) {
    let run = hash_slice;
    if names.len() >= PARALLEL_NAMES {
        let half = names.len() / 2;
        let (a, b) = names.split_at_mut(half);
        std::thread::scope(|s| {
            let other = s.spawn(|| run(b, strs));
            run(a, strs);
            if let Err(panic) = other.join() {
                std::panic::resume_unwind(panic);
            }
        });
    } else {
        run(names, strs);
    }
}

/// Replaces each (name offset, id) of `chunk` with (essential-name hash, id), on this thread.
fn hash_slice(chunk: &mut [(u32, u32)], strs: &Strings<'_>) {
    for (name, _) in chunk.iter_mut() {
        // An empty name hashes to 0; that only costs a failed comparison at lookup.
        *name = name_hash(strs, *name).unwrap_or(0);
    }
}

/// Hash of the essential name at string offset `name_off`, or `None` for an empty name.
#[inline]
fn name_hash(strs: &Strings<'_>, name_off: u32) -> Option<u32> {
    if name_off >= strs.start {
        let local = (name_off - strs.start) as usize;
        let (h, len, triple) = hash_c_str(strs.own, local);
        if len == 0 {
            return None;
        }
        if !triple {
            return Some(h);
        }
        // Only names with a "___" can carry a flavor suffix: hash their essential part.
        let name = &strs.own[local..local + len];
        Some(hash(&name[..essential_len(name)]))
    } else {
        // Split BTF naming a type with one of the base's strings.
        let name = strs.base?.str_bytes_at(name_off).ok()?;
        (!name.is_empty()).then(|| hash(&name[..essential_len(name)]))
    }
}

/// The bounds-only pass (kernel BTF): the least work that finds every record boundary,
/// rejects kinds without a size and records that run past the section, keeps the
/// checkpoints and collects names (not those of unknown kinds, which stay out of the
/// index). Any failure is re-diagnosed by the full pass, which names the culprit.
fn walk<O: Order>(
    t: &[u8],
    sizes: &Sizes,
    start_id: u32,
    chunk: usize,
    flush: &mut dyn FnMut(Vec<(u32, u32)>),
) -> Result<Option<Scan>> {
    match PackedSizes::new(sizes) {
        Some(packed) => walk_sized::<O, _>(t, &packed, start_id, chunk, flush),
        None => walk_sized::<O, _>(t, sizes, start_id, chunk, flush),
    }
}

/// How long a record is, from its info word: what the walk's dependency chain goes
/// through once per record (record length, then the next record's info word).
pub(crate) trait RecordLen {
    /// The record's length, or `None` for a kind without a size.
    fn record_len(&self, info: u32) -> Option<usize>;
}

impl RecordLen for Sizes {
    #[inline(always)]
    fn record_len(&self, info: u32) -> Option<usize> {
        let (unit, fixed) = self[info_kind(info) as usize];
        (unit != 0xff)
            .then(|| TYPE_HEADER_LEN + unit as usize * info_vlen(info) as usize + fixed as usize)
    }
}

/// [`Sizes`] packed into registers when every sized kind is one this reader knows (no
/// layout section sizing others) and has a member size of 0, 8 or 12 bytes and a fixed
/// part of 0, 4 or 12 (all kinds Linux has defined):
/// the length needs shifts of constants instead of a table load, which is on the walk's
/// critical path (a quarter less time for vmlinux).
pub(crate) struct PackedSizes {
    /// Per kind, 2 bits: member size / 4.
    units: u64,
    /// Per kind, 2 bits: fixed part / 4.
    fixed: u64,
    /// Per kind, 1 bit: the kind has a size.
    valid: u32,
}

impl PackedSizes {
    pub(crate) fn new(sizes: &Sizes) -> Option<PackedSizes> {
        let mut p = PackedSizes {
            units: 0,
            fixed: 0,
            valid: 0,
        };
        for (kind, &(unit, fixed)) in sizes.iter().enumerate() {
            if unit == 0xff {
                continue;
            }
            let fits = |bytes: u8| bytes % 4 == 0 && bytes / 4 <= 3;
            if is_unknown(kind as u32) || kind >= 32 || !fits(unit) || !fits(fixed) {
                return None;
            }
            p.units |= u64::from(unit / 4) << (2 * kind);
            p.fixed |= u64::from(fixed / 4) << (2 * kind);
            p.valid |= 1 << kind;
        }
        Some(p)
    }
}

impl RecordLen for PackedSizes {
    #[inline(always)]
    fn record_len(&self, info: u32) -> Option<usize> {
        let kind = info_kind(info);
        if kind >= 32 || self.valid >> kind & 1 == 0 {
            return None;
        }
        let unit = (self.units >> (2 * kind)) & 3;
        let fixed = (self.fixed >> (2 * kind)) & 3;
        Some(TYPE_HEADER_LEN + 4 * (unit as usize * info_vlen(info) as usize + fixed as usize))
    }
}

fn walk_sized<O: Order, L: RecordLen>(
    t: &[u8],
    sizes: &L,
    start_id: u32,
    chunk: usize,
    flush: &mut dyn FnMut(Vec<(u32, u32)>),
) -> Result<Option<Scan>> {
    // Every record writes its offset at `checkpoints[ceil(n / CHECKPOINT)]`: the last to
    // write slot k is record k * CHECKPOINT, the one it is for, and no branch is taken
    // per record. Records are at least 12 bytes, which bounds the slots.
    let mut checkpoints = vec![0u32; t.len() / (TYPE_HEADER_LEN * CHECKPOINT) + 2];
    // Every record writes its (name, id) at `names[kept]` and keeps it by advancing `kept`
    // only if it is a named, known, non-FUNC type: no branch on data the predictor cannot
    // guess (named and anonymous records alternate in vmlinux). So the buffer always has
    // room for one more entry: a chunk, or at most one entry per 12-byte record.
    let room = chunk.min(t.len() / TYPE_HEADER_LEN + 1);
    let mut names = vec![(0u32, 0u32); room + 1];
    let mut kept = 0usize;
    let mut named_funcs = 0usize;
    let mut unknown: KindCounts = [0; MAX_KIND as usize + 1];
    let mut off = 0usize;
    let mut n = 0u32;
    let end = t.len();
    while let Some(hdr) = t.get(off..).and_then(|r| r.first_chunk::<8>()) {
        let name_off = O::u32(&hdr[0..4]);
        let info = O::u32(&hdr[4..8]);
        let raw_kind = info_kind(info);
        let Some(len) = sizes.record_len(info) else {
            break;
        };
        let next = off + len;
        if next > end {
            break;
        }
        checkpoints[(n as usize).div_ceil(CHECKPOINT)] = off as u32;
        let known = !is_unknown(raw_kind);
        if !known {
            unknown[raw_kind as usize] += 1;
        }
        let named = known & (name_off != 0);
        let func = raw_kind == Kind::Func as u32;
        named_funcs += (named & func) as usize;
        names[kept] = (name_off, start_id.wrapping_add(n));
        kept += (named & !func) as usize;
        if kept == room {
            let mut full = std::mem::replace(&mut names, vec![(0, 0); room + 1]);
            full.truncate(kept);
            flush(full);
            kept = 0;
        }
        off = next;
        n = n.wrapping_add(1);
    }
    names.truncate(kept);
    checkpoints.truncate((n as usize).div_ceil(CHECKPOINT));
    if off != end {
        // Something is malformed: the caller lets the full pass say exactly what.
        return Ok(None);
    }
    let count = Some(n)
        .filter(|c| start_id.checked_add(*c).is_some() && *c as usize * TYPE_HEADER_LEN <= end)
        .ok_or_else(|| BtfError::BadHeader {
            what: "BTF",
            reason: "more than 2^32 types".into(),
        })?;
    Ok(Some(Scan {
        checkpoints,
        count,
        max_ref: 0,
        max_str: 0,
        names,
        named_funcs,
        unknown: unknown_counts(&unknown),
    }))
}

/// The checking pass: every record's bounds and kind, and with `FULL` its INT encoding and
/// the largest type id and string offset it uses (range-checked by the caller).
fn scan<O: Order, const FULL: bool>(t: &[u8], sizes: &Sizes, start_id: u32) -> Result<Scan> {
    // At most one checkpoint per 12 * CHECKPOINT bytes: bounded by the input size.
    let mut checkpoints = Vec::with_capacity(t.len() / (28 * CHECKPOINT) + 1);
    let mut names = Vec::new();
    let mut max = Maxima::default();
    let mut named_funcs = 0usize;
    let mut unknown: KindCounts = [0; MAX_KIND as usize + 1];
    let mut off = 0usize;
    let mut n = 0usize;
    while off < t.len() {
        let id = start_id.wrapping_add(n as u32);
        let Some(rec) = read_record::<O>(t, sizes, off) else {
            return Err(bad_record::<O>(t, sizes, off, id));
        };
        if n % CHECKPOINT == 0 {
            checkpoints.push(off as u32);
        }
        if is_unknown(rec.raw_kind) {
            unknown[rec.raw_kind as usize] += 1;
        } else if rec.name_off != 0 {
            if rec.raw_kind == Kind::Func as u32 {
                named_funcs += 1;
            } else {
                names.push((rec.name_off, id));
            }
        }
        if FULL {
            let kind = Kind::from_u32(rec.raw_kind).unwrap_or(Kind::Void);
            if kind == Kind::Int {
                check_int(id, rec.word, O::u32(rec.rest))?;
            }
            fold_refs::<O>(kind, &rec, &mut max);
        }
        off = rec.next;
        n += 1;
    }
    let count = u32::try_from(n)
        .ok()
        .filter(|c| start_id.checked_add(*c).is_some())
        .ok_or_else(|| BtfError::BadHeader {
            what: "BTF",
            reason: "more than 2^32 types".into(),
        })?;
    Ok(Scan {
        checkpoints,
        count,
        max_ref: max.max_ref,
        max_str: max.max_str,
        names,
        named_funcs,
        unknown: unknown_counts(&unknown),
    })
}

/// One type record, bounds-checked.
struct Record<'t> {
    name_off: u32,
    /// The kind as stored (one the sizes table knows).
    raw_kind: u32,
    /// The size-or-type word.
    word: u32,
    /// What follows the header (members, params, ...).
    rest: &'t [u8],
    /// Offset of the next record.
    next: usize,
}

/// Reads the record at offset `off`; `None` for a kind without a size or a record running
/// past the section ([`bad_record`] says which).
#[inline(always)]
fn read_record<'t, O: Order>(t: &'t [u8], sizes: &Sizes, off: usize) -> Option<Record<'t>> {
    let hdr = t
        .get(off..)
        .and_then(|r| r.first_chunk::<TYPE_HEADER_LEN>())?;
    let name_off = O::u32(&hdr[0..4]);
    let info = O::u32(&hdr[4..8]);
    let word = O::u32(&hdr[8..12]);
    let raw_kind = info_kind(info);
    let (unit, fixed) = sizes[raw_kind as usize];
    if unit == 0xff {
        return None;
    }
    let extra = unit as usize * info_vlen(info) as usize + fixed as usize;
    let body = off + TYPE_HEADER_LEN;
    let rest = t.get(body..body + extra)?;
    Some(Record {
        name_off,
        raw_kind,
        word,
        rest,
        next: body + extra,
    })
}

/// Why the record of type `id` at offset `off` could not be read: a truncated header, an
/// unknown kind the layout section does not size, or a body past the end of the section.
#[cold]
fn bad_record<O: Order>(t: &[u8], sizes: &Sizes, off: usize, id: u32) -> BtfError {
    let Some(hdr) = t
        .get(off..)
        .and_then(|r| r.first_chunk::<TYPE_HEADER_LEN>())
    else {
        return BtfError::Truncated {
            what: format!("type [{id}] header"),
            offset: off,
            need: TYPE_HEADER_LEN,
            have: t.len() - off,
        };
    };
    let info = O::u32(&hdr[4..8]);
    let raw_kind = info_kind(info);
    let (unit, fixed) = sizes[raw_kind as usize];
    if unit == 0xff {
        return BtfError::BadKind {
            id,
            offset: off,
            kind: raw_kind,
        };
    }
    let vlen = info_vlen(info);
    let extra = unit as usize * vlen as usize + fixed as usize;
    let kind = match Kind::from_u32(raw_kind) {
        Some(k) => k.to_string(),
        None => format!("kind {raw_kind}"),
    };
    BtfError::Truncated {
        what: format!("type [{id}] ({kind}, vlen {vlen})"),
        offset: off,
        need: TYPE_HEADER_LEN + extra,
        have: t.len() - off,
    }
}

/// The largest type id and string offset seen so far.
#[derive(Default)]
struct Maxima {
    max_ref: u32,
    max_str: u32,
}

/// Folds the type ids and string offsets record `rec` (of kind `kind`) uses into `max`.
#[inline(always)]
fn fold_refs<O: Order>(kind: Kind, rec: &Record<'_>, max: &mut Maxima) {
    let rest = rec.rest;
    let Maxima { max_ref, max_str } = max;
    *max_str = (*max_str).max(rec.name_off);
    match kind {
        Kind::Array => *max_ref = (*max_ref).max(O::u32(&rest[0..4]).max(O::u32(&rest[4..8]))),
        // Members: (name, type, offset), 12 bytes each.
        Kind::Struct | Kind::Union => {
            for m in rest.chunks_exact(12) {
                *max_str = (*max_str).max(O::u32(&m[0..4]));
                *max_ref = (*max_ref).max(O::u32(&m[4..8]));
            }
        }
        // Variables: (type, offset, size).
        Kind::Datasec => {
            for m in rest.chunks_exact(12) {
                *max_ref = (*max_ref).max(O::u32(&m[0..4]));
            }
        }
        Kind::Enum => {
            for m in rest.chunks_exact(8) {
                *max_str = (*max_str).max(O::u32(&m[0..4]));
            }
        }
        Kind::Enum64 => {
            for m in rest.chunks_exact(12) {
                *max_str = (*max_str).max(O::u32(&m[0..4]));
            }
        }
        // Parameters: (name, type).
        Kind::FuncProto => {
            for m in rest.chunks_exact(8) {
                *max_str = (*max_str).max(O::u32(&m[0..4]));
                *max_ref = (*max_ref).max(O::u32(&m[4..8]));
            }
        }
        _ => {}
    }
    if kind.has_type_ref() {
        *max_ref = (*max_ref).max(rec.word);
    }
}

/// Checks an INT's size and encoding word as the kernel does (`btf_int_check_meta`).
#[inline]
fn check_int(id: u32, size: u32, enc: u32) -> Result<()> {
    let bits = enc & 0xff;
    let offset = (enc >> 16) & 0xff;
    let bad = |reason: String| BtfError::BadType {
        id,
        kind: Kind::Int,
        reason,
    };
    if !matches!(size, 1 | 2 | 4 | 8 | 16) {
        return Err(bad(format!("size {size} is not 1, 2, 4, 8 or 16")));
    }
    if bits == 0 || bits > 128 || offset + bits > size * 8 {
        return Err(bad(format!(
            "{bits} bits at bit offset {offset} do not fit its {size} bytes"
        )));
    }
    if !matches!((enc >> 24) & 0xf, 0 | 1 | 2 | 4) {
        return Err(bad(format!(
            "unsupported encoding {:#x}",
            (enc >> 24) & 0xf
        )));
    }
    if enc & 0xf000_ff00 != 0 {
        return Err(bad(format!("reserved encoding bits set ({enc:#x})")));
    }
    Ok(())
}

/// Every type reference and string offset of one record, for naming the culprit of a
/// failed range check.
fn record_refs(t: Type<'_>) -> (Vec<u32>, Vec<u32>) {
    let mut refs: Vec<u32> = t.type_id().into_iter().collect();
    let mut strs = vec![t.name_off()];
    if let Some(a) = t.array() {
        refs.extend([a.elem_type, a.index_type]);
    }
    for m in t.members() {
        refs.push(m.type_id);
        strs.push(m.name_off);
    }
    strs.extend(t.enumerators().map(|e| e.name_off));
    for p in t.params() {
        refs.push(p.type_id);
        strs.push(p.name_off);
    }
    refs.extend(t.datasec_vars().map(|v| v.type_id));
    (refs, strs)
}

/// The first type that references an id `>= count` or a string offset `>= str_len` (the
/// slow path taken only when the maxima of the pass are out of range).
pub(crate) fn find_culprit(btf: &Btf, count: u32, str_len: u32) -> BtfError {
    for t in btf.types() {
        let (refs, strs) = record_refs(t);
        if let Some(&id) = refs.iter().find(|&&r| r >= count) {
            return BtfError::TypeIdOutOfRange {
                what: format!("type [{}] ({})", t.id(), t.kind()),
                id,
                last: count - 1,
            };
        }
        if let Some(&offset) = strs.iter().find(|&&s| s >= str_len) {
            return BtfError::StringOffset {
                what: format!("type [{}] ({})", t.id(), t.kind()),
                offset,
                len: str_len,
            };
        }
    }
    BtfError::BadHeader {
        what: "BTF",
        reason: "a type reference or string offset is out of range".into(),
    }
}
