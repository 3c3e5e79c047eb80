//! Name resolution: libbpf gives the n-th definition of a name in one C namespace the
//! name `name___n`, in the order names are first printed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::CDumper;
use crate::raw::Kind;
use crate::types::Type;
use crate::Btf;

/// Occurrence counts of names in one C namespace, keyed by the name's bytes in the BTF.
pub(super) type NameMap<'a> = HashMap<&'a [u8], u32, BuildHasherDefault<FxHasher>>;

/// Which namespace a name lives in.
#[derive(Clone, Copy)]
pub(super) enum Ns {
    /// Struct, union and enum tags.
    Tag,
    /// Typedefs and enumerators.
    Ident,
}

/// The NUL-terminated string at `off` of `btf`'s (base + own) string section, empty if out
/// of range. The dump reads ~500k names of vmlinux; unlike `Btf::str_bytes_at` this never
/// builds an error value.
pub(super) fn cstr(btf: &Btf, off: u32) -> &[u8] {
    let own = btf.string_section();
    let start = btf.str_len().saturating_sub(own.len() as u32);
    if off < start {
        return btf.base().map_or(&[], |b| cstr(b, off));
    }
    let tail = own.get((off - start) as usize..).unwrap_or(&[]);
    let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
    &tail[..end]
}

/// The name of type `t` (empty if anonymous).
pub(super) fn tname<'a>(t: &Type<'a>) -> &'a [u8] {
    cstr(t.btf(), t.name_off())
}

impl<'a> CDumper<'a> {
    /// Counts one more occurrence of `name` in `ns` and returns the count.
    pub(super) fn name_dups(&mut self, ns: Ns, name: &'a [u8]) -> u32 {
        let map = match ns {
            Ns::Tag => &mut self.type_names,
            Ns::Ident => &mut self.ident_names,
        };
        let n = map.entry(name).or_insert(0);
        *n += 1;
        *n
    }

    /// The name of type `id` and its duplicate count, resolving it on first use
    /// (libbpf's `btf_dump_resolve_name`). Forward declarations never get a suffix.
    pub(super) fn resolve_name(&mut self, id: u32, ns: Ns) -> (&'a [u8], u32) {
        let t = self.ty(id);
        if t.name_off() == 0 {
            return (b"", 1);
        }
        let name = tname(&t);
        let cached = self.name_dup.get(id as usize).copied().unwrap_or(1);
        if cached != 0 {
            return (name, cached);
        }
        let dup = if t.kind() == Kind::Fwd || (t.kind() == Kind::Enum && t.vlen() == 0) {
            1
        } else {
            self.name_dups(ns, name)
        };
        if let Some(slot) = self.name_dup.get_mut(id as usize) {
            *slot = dup;
        }
        (name, dup)
    }

    /// Prints the (possibly suffixed) name of type `id` in namespace `ns`.
    pub(super) fn write_name(&mut self, id: u32, ns: Ns) {
        let (name, dup) = self.resolve_name(id, ns);
        self.write_dup(name, dup);
    }

    /// Prints `name`, with `___dup` if `dup > 1`.
    pub(super) fn write_dup(&mut self, name: &[u8], dup: u32) {
        self.w(name);
        if dup > 1 {
            self.w(b"___");
            self.num(dup);
        }
    }
}

/// The small multiplicative hash rustc uses for its own tables: names are short and
/// trusted enough (a hostile BTF can only slow its own dump down).
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}
