//! Bloom filters (`BPF_MAP_TYPE_BLOOM_FILTER`).

use std::borrow::Borrow;
use std::mem::size_of;

use corebpf_sys::MapType;

use super::{bytes_of, typed_map, Map, MapError, Pod};

fn check_bloom<V: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::BloomFilter], "BloomFilter")?;
    map.check_key_size(0, "(no key)")?;
    map.check_value::<V>()
}

typed_map! {
    /// A `BPF_MAP_TYPE_BLOOM_FILTER` of `V`: values can be added and tested, never
    /// removed; a test may answer "maybe present" for a value never added.
    ///
    /// ```no_run
    /// # let map = corebpf::map::Map::from_pinned("/sys/fs/bpf/seen")?;
    /// let seen = map.as_bloom_filter::<u64>()?;
    /// seen.insert(&42, 0)?;
    /// assert!(seen.contains(&42)?);
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    BloomFilter[V], as_bloom_filter, into_bloom_filter, check_bloom
}

impl<V: Pod, M: Borrow<Map>> BloomFilter<V, M> {
    /// Adds `value`.
    pub fn insert(&self, value: &V, flags: u64) -> Result<(), MapError> {
        self.map().update(&[], bytes_of(value), flags)
    }

    /// False if `value` was certainly never added; true if it may have been.
    pub fn contains(&self, value: &V) -> Result<bool, MapError> {
        // The kernel reads the value to test from the value buffer.
        let mut buf = vec![0u8; size_of::<V>()];
        buf.copy_from_slice(bytes_of(value));
        self.map().lookup_into(&[], &mut buf, 0)
    }
}
