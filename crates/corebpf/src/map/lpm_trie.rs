//! Longest-prefix-match tries (`BPF_MAP_TYPE_LPM_TRIE`).

use std::borrow::Borrow;
use std::mem::size_of;

use corebpf_sys::MapType;

use super::hash::Entries;
use super::{bytes_of, from_bytes, typed_map, Keys, Map, MapError, Pod};

/// An LPM trie key: a prefix length in bits and the data (`struct bpf_lpm_trie_key_u8`
/// with `data` of type `K`, usually a byte array in network order).
///
/// ```
/// use corebpf::map::LpmKey;
/// let k = LpmKey::new(24, [192u8, 168, 1, 0]);
/// assert_eq!(k.prefix_len(), 24);
/// assert_eq!(k.data(), [192, 168, 1, 0]);
/// ```
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct Key<K> {
    prefix_len: u32,
    data: K,
}

// SAFETY: packed, so no padding between or after the fields; both fields are Pod.
unsafe impl<K: Pod> Pod for Key<K> {}

impl<K: Pod> Key<K> {
    /// A key matching the first `prefix_len` bits of `data`.
    pub fn new(prefix_len: u32, data: K) -> Self {
        Key { prefix_len, data }
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u32 {
        self.prefix_len
    }

    /// The data.
    pub fn data(&self) -> K {
        self.data
    }
}

impl<K: Pod + std::fmt::Debug> std::fmt::Debug for Key<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p, d) = (self.prefix_len, self.data);
        f.debug_struct("Key")
            .field("prefix_len", &p)
            .field("data", &d)
            .finish()
    }
}

fn check_lpm<K: Pod, V: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::LpmTrie], "LpmTrie")?;
    map.check_key_size(size_of::<Key<K>>(), std::any::type_name::<Key<K>>())?;
    map.check_value::<V>()
}

typed_map! {
    /// A `BPF_MAP_TYPE_LPM_TRIE` keyed by [`Key<K>`](Key) with `V` values. Lookups find
    /// the entry with the longest prefix matching the key's data.
    ///
    /// ```no_run
    /// # let map = corebpf::map::Map::from_pinned("/sys/fs/bpf/routes")?;
    /// use corebpf::map::LpmKey;
    /// let routes = map.as_lpm_trie::<[u8; 4], u32>()?;
    /// routes.insert(&LpmKey::new(8, [10, 0, 0, 0]), &1, 0)?;
    /// routes.insert(&LpmKey::new(16, [10, 1, 0, 0]), &2, 0)?;
    /// assert_eq!(routes.get(&LpmKey::new(32, [10, 1, 2, 3]))?, Some(2));
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    LpmTrie[K, V], as_lpm_trie, into_lpm_trie, check_lpm
}

impl<K: Pod, V: Pod, M: Borrow<Map>> LpmTrie<K, V, M> {
    /// The value of the longest prefix matching `key` (use the full length as the
    /// key's prefix length for an address lookup), or `None`.
    pub fn get(&self, key: &Key<K>) -> Result<Option<V>, MapError> {
        let mut buf = vec![0u8; size_of::<V>()];
        let found = self.map().lookup_into(bytes_of(key), &mut buf, 0)?;
        Ok(found.then(|| from_bytes(&buf)))
    }

    /// Inserts or replaces the prefix `key`.
    pub fn insert(&self, key: &Key<K>, value: &V, flags: u64) -> Result<(), MapError> {
        self.map().update(bytes_of(key), bytes_of(value), flags)
    }

    /// Removes exactly the prefix `key`; `Ok(false)` if absent.
    pub fn remove(&self, key: &Key<K>) -> Result<bool, MapError> {
        self.map().delete(bytes_of(key))
    }

    /// Iterates over the stored prefixes.
    pub fn keys(&self) -> Keys<'_, Key<K>> {
        Keys::new(self.map())
    }

    /// Iterates over `(prefix, value)` pairs.
    pub fn iter(&self) -> Entries<'_, Key<K>, V> {
        Entries::new(self.map())
    }
}
