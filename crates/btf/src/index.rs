//! [`NameIndex`]: an open-addressing hash table from *essential* type names to type ids.
//!
//! One table serves both lookups: an exact-name query hashes the query's essential name and
//! filters on the full name; a CO-RE candidate query (libbpf's `___flavor` rule) matches
//! every type whose essential name is equal. Built in one pass over the types with no
//! per-name allocation: each slot is 8 bytes (hash, id).

use crate::{Btf, Kind};

/// Slot marker for "empty": id 0 (void) is never indexed.
const EMPTY: u32 = 0;

/// Name → type-id index of one BTF blob's own types.
pub struct NameIndex {
    /// (hash of essential name, type id) pairs; `id == EMPTY` marks a free slot.
    slots: Vec<(u32, u32)>,
    mask: usize,
    named: usize,
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameIndex")
            .field("slots", &self.slots.len())
            .field("named", &self.named)
            .finish()
    }
}

impl NameIndex {
    /// An index of the given (essential-name hash, type id) pairs, as the parse pass
    /// collects them.
    pub(crate) fn from_hashes(pairs: Vec<(u32, u32)>) -> NameIndex {
        // Load factor at most ~0.57; a table this small stays in L2 while it is filled.
        let cap = (pairs.len() * 7 / 4).max(8).next_power_of_two();
        let mask = cap - 1;
        let mut slots = vec![(0u32, EMPTY); cap];
        for &(h, id) in &pairs {
            let mut s = h as usize & mask;
            while slots[s].1 != EMPTY {
                s = (s + 1) & mask;
            }
            slots[s] = (h, id);
        }
        NameIndex {
            slots,
            mask,
            named: pairs.len(),
        }
    }

    /// Indexes the named FUNCs of `btf` (not those of its base).
    pub(crate) fn build_funcs(btf: &Btf) -> NameIndex {
        let mut pairs = Vec::with_capacity(btf.named_func_count());
        for t in btf.types() {
            if t.kind() == Kind::Func && t.name_off() != 0 {
                let name = t.name_bytes();
                pairs.push((hash(&name[..essential_len(name)]), t.id()));
            }
        }
        NameIndex::from_hashes(pairs)
    }

    /// Number of named types indexed.
    pub fn len(&self) -> usize {
        self.named
    }

    /// Whether no type is named.
    pub fn is_empty(&self) -> bool {
        self.named == 0
    }

    /// Bytes of heap the index uses.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<(u32, u32)>()
    }

    /// Ids whose essential name equals `essential`, in no particular order.
    pub fn lookup_essential<'a>(
        &'a self,
        btf: &'a Btf,
        essential: &'a [u8],
    ) -> impl Iterator<Item = u32> + 'a {
        self.probe(essential).filter(move |&id| {
            btf.type_by_id(id).is_ok_and(|t| {
                let n = t.name_bytes();
                &n[..essential_len(n)] == essential
            })
        })
    }

    /// Ids whose full name equals `name`, in no particular order.
    pub fn lookup_exact<'a>(
        &'a self,
        btf: &'a Btf,
        name: &'a [u8],
    ) -> impl Iterator<Item = u32> + 'a {
        self.probe(&name[..essential_len(name)])
            .filter(move |&id| btf.type_by_id(id).is_ok_and(|t| t.name_bytes() == name))
    }

    /// Ids in the probe sequence of `essential` whose stored hash matches.
    fn probe<'a>(&'a self, essential: &[u8]) -> impl Iterator<Item = u32> + 'a {
        let h = hash(essential);
        let mut s = h as usize & self.mask;
        std::iter::from_fn(move || loop {
            let (sh, id) = self.slots[s];
            if id == EMPTY {
                return None;
            }
            s = (s + 1) & self.mask;
            if sh == h {
                return Some(id);
            }
        })
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;
const K: u64 = 0x517c_c1b7_2722_0a95;

/// High bit set in each byte of `w` that is zero (exact for the lowest such byte; bytes
/// above a zero byte may be flagged falsely, which only ever widens a search).
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

#[inline(always)]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(K)
}

#[inline(always)]
fn finish(h: u64) -> u32 {
    (h >> 32) as u32 ^ h as u32
}

/// Hash of a name: each full 8-byte little-endian word mixed in, then the zero-padded
/// remainder (possibly empty). [`hash_c_str`] computes the same value while it looks for
/// the NUL.
#[inline]
pub(crate) fn hash(s: &[u8]) -> u32 {
    let mut h = 0u64;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        h = mix(
            h,
            u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        );
    }
    let rest = chunks.remainder();
    let mut buf = [0u8; 8];
    buf[..rest.len()].copy_from_slice(rest);
    finish(mix(h, u64::from_le_bytes(buf)))
}

/// Hash and length of the NUL-terminated string at `start`, a word at a time, and whether
/// it may contain `___` (exact or a rare false positive; never a false negative).
#[inline]
pub(crate) fn hash_c_str(strs: &[u8], start: usize) -> (u32, usize, bool) {
    const US: u64 = 0x5f5f_5f5f_5f5f_5f5f; // "________"
    let mut h = 0u64;
    let mut i = start;
    // Underscore flags of the previous word's top two bytes, in bits 7 and 15.
    let mut carry = 0u64;
    let mut triple = 0u64;
    while let Some(c) = strs.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*c);
        let z = zero_bytes(w);
        let keep = if z == 0 {
            u64::MAX
        } else {
            let k = z.trailing_zeros() / 8;
            if k == 0 {
                0
            } else {
                u64::MAX >> (64 - 8 * k)
            }
        };
        let u = zero_bytes(w ^ US) & keep;
        // Three '_' in a row: starting in the previous word's last two bytes (`lo` puts
        // them below this word's first six), or wholly inside this word.
        let lo = u << 16 | carry;
        triple |= (lo & lo >> 8 & lo >> 16) | (u & u >> 8 & u >> 16);
        carry = u >> 48;
        if z == 0 {
            h = mix(h, w);
            i += 8;
            continue;
        }
        let k = (z.trailing_zeros() / 8) as usize;
        return (finish(mix(h, w & keep)), i + k - start, triple != 0);
    }
    // Fewer than 8 bytes left: finish byte by byte.
    let tail = strs.get(i..).unwrap_or(&[]);
    let n = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
    let mut buf = [0u8; 8];
    buf[..n].copy_from_slice(&tail[..n]);
    let name = strs.get(start..i + n).unwrap_or(&[]);
    let has_triple = name.windows(3).any(|w| w == b"___");
    (
        finish(mix(h, u64::from_le_bytes(buf))),
        i + n - start,
        has_triple,
    )
}

/// Length of the essential part of a type name: everything before the *last* `X___Y`
/// separator (X and Y not underscores), as libbpf's `bpf_core_essential_name_len`.
///
/// ```
/// use corebpf_btf::essential_len;
/// assert_eq!(essential_len(b"task_struct___old"), "task_struct".len());
/// assert_eq!(essential_len(b"a___b___c"), "a___b".len());
/// assert_eq!(essential_len(b"__u32"), 5);
/// assert_eq!(essential_len(b"x____y"), 6); // four underscores: not a separator
/// ```
pub fn essential_len(name: &[u8]) -> usize {
    let n = name.len();
    if n < 5 {
        return n;
    }
    let mut i = n - 5;
    loop {
        if name[i + 1] == b'_'
            && name[i + 2] == b'_'
            && name[i + 3] == b'_'
            && name[i] != b'_'
            && name[i + 4] != b'_'
        {
            return i + 1;
        }
        if i == 0 {
            return n;
        }
        i -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_hash_matches_plain_hash_at_every_length_and_alignment() {
        for n in 0..40 {
            for pad in 0..9 {
                let name: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                let mut v = vec![b'x'; pad];
                v.extend_from_slice(&name);
                v.push(0);
                v.extend_from_slice(b"next\0");
                assert_eq!(hash_c_str(&v, pad).0, hash(&name), "len {n} pad {pad}");
                assert_eq!(hash_c_str(&v, pad).1, n);
                // Unterminated at the very end of the section.
                let mut w = vec![b'x'; pad];
                w.extend_from_slice(&name);
                assert_eq!(hash_c_str(&w, pad).0, hash(&name));
            }
        }
    }

    #[test]
    fn triple_underscore_detection_has_no_false_negatives() {
        let names: &[&[u8]] = &[
            b"a___b",
            b"___x",
            b"abcdef___x",
            b"abcdefg___x",
            b"abcdefgh___",
            b"abcdef_",
            b"x__",
            b"a__b__c",
            b"task_struct",
            b"abcdefghijklmn___opq",
            b"ab_cdefg__hij",
        ];
        for name in names {
            for pad in 0..9 {
                let mut v = vec![b'x'; pad];
                v.extend_from_slice(name);
                v.push(0);
                v.extend_from_slice(b"______\0");
                let has = name.windows(3).any(|w| w == b"___");
                let (_, len, triple) = hash_c_str(&v, pad);
                assert_eq!(len, name.len());
                assert!(
                    triple || !has,
                    "missed ___ in {:?} at pad {pad}",
                    std::str::from_utf8(name)
                );
                assert!(
                    !triple || has,
                    "false ___ in {:?} at pad {pad}",
                    std::str::from_utf8(name)
                );
            }
        }
    }

    #[test]
    fn essential_names() {
        assert_eq!(essential_len(b"pt_regs"), 7);
        assert_eq!(essential_len(b"pt_regs___x"), 7);
        assert_eq!(essential_len(b"___x"), 4);
        assert_eq!(essential_len(b"a___"), 4);
        assert_eq!(essential_len(b"a___b"), 1);
        assert_eq!(essential_len(b""), 0);
    }
}
