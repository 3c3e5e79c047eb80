//! Hash maps: [`HashMap`] (hash and LRU hash), [`LruHashMap`] (LRU hash only) and
//! [`PerCpuHashMap`] (per-CPU hash and LRU per-CPU hash).

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::mem::size_of;

use corebpf_sys::MapType;

use super::{
    bytes_of, bytes_of_slice, from_bytes, typed_map, Keys, Map, MapError, PerCpuValues, Pod,
    RawKeys,
};

fn check_hash<K: Pod, V: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::Hash, MapType::LruHash], "HashMap")?;
    map.check_key::<K>()?;
    map.check_value::<V>()
}

fn check_lru<K: Pod, V: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::LruHash], "LruHashMap")?;
    map.check_key::<K>()?;
    map.check_value::<V>()
}

fn check_percpu_hash<K: Pod, V: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(
        &[MapType::PercpuHash, MapType::LruPercpuHash],
        "PerCpuHashMap",
    )?;
    map.check_key::<K>()?;
    map.check_value::<V>()
}

typed_map! {
    /// A `BPF_MAP_TYPE_HASH` (or `LRU_HASH`) map with `K` keys and `V` values.
    ///
    /// ```no_run
    /// # let map = corebpf::map::Map::from_pinned("/sys/fs/bpf/counts")?;
    /// use corebpf::map::{HashMap, BPF_ANY};
    /// let counts: HashMap<u32, u64, _> = map.as_hash()?;
    /// counts.insert(&1, &10, BPF_ANY)?;
    /// assert_eq!(counts.get(&1, 0)?, Some(10));
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    HashMap[K, V], as_hash, into_hash, check_hash
}

typed_map! {
    /// A `BPF_MAP_TYPE_LRU_HASH` map with `K` keys and `V` values; the kernel evicts the
    /// least recently used entries when it is full.
    LruHashMap[K, V], as_lru_hash, into_lru_hash, check_lru
}

typed_map! {
    /// A `BPF_MAP_TYPE_PERCPU_HASH` (or `LRU_PERCPU_HASH`) map: each key has one `V`
    /// per possible CPU.
    PerCpuHashMap[K, V], as_percpu_hash, into_percpu_hash, check_percpu_hash
}

/// Methods shared by [`HashMap`] and [`LruHashMap`].
macro_rules! hash_methods {
    ($name:ident) => {
        impl<K: Pod, V: Pod, M: Borrow<Map>> $name<K, V, M> {
            /// The value of `key`, or `None`. `flags` is 0 or `BPF_F_LOCK`.
            pub fn get(&self, key: &K, flags: u64) -> Result<Option<V>, MapError> {
                let mut buf = [0u8; 64];
                let mut heap;
                let buf = if size_of::<V>() <= buf.len() {
                    &mut buf[..size_of::<V>()]
                } else {
                    heap = vec![0u8; size_of::<V>()];
                    &mut heap[..]
                };
                let found = self.map().lookup_into(bytes_of(key), buf, flags)?;
                Ok(found.then(|| from_bytes(buf)))
            }

            /// True if `key` is present.
            pub fn contains_key(&self, key: &K) -> Result<bool, MapError> {
                Ok(self.get(key, 0)?.is_some())
            }

            /// Sets `key` to `value`; `flags` is `BPF_ANY`, `BPF_NOEXIST` or `BPF_EXIST`,
            /// optionally with `BPF_F_LOCK`.
            pub fn insert(&self, key: &K, value: &V, flags: u64) -> Result<(), MapError> {
                self.map().update(bytes_of(key), bytes_of(value), flags)
            }

            /// Deletes `key`; `Ok(false)` if it was absent.
            pub fn remove(&self, key: &K) -> Result<bool, MapError> {
                self.map().delete(bytes_of(key))
            }

            /// Looks `key` up and deletes it in one step.
            pub fn get_and_remove(&self, key: &K) -> Result<Option<V>, MapError> {
                let mut buf = vec![0u8; size_of::<V>()];
                let found = self
                    .map()
                    .lookup_and_delete_into(bytes_of(key), &mut buf, 0)?;
                Ok(found.then(|| from_bytes(&buf)))
            }

            /// Iterates over the keys; robust to deletion during iteration (see
            /// [`RawKeys`](super::RawKeys)).
            pub fn keys(&self) -> Keys<'_, K> {
                Keys::new(self.map())
            }

            /// Iterates over `(key, value)` pairs, skipping keys deleted between the key
            /// walk and the lookup.
            pub fn iter(&self) -> Entries<'_, K, V> {
                Entries {
                    keys: self.map().keys(),
                    _t: PhantomData,
                }
            }

            /// Reads every element with batch lookups of `batch` elements per call
            /// (`BPF_MAP_LOOKUP_BATCH`).
            pub fn get_batch(&self, batch: u32) -> Result<Vec<(K, V)>, MapError> {
                let b = self.map().batch_walk(batch, false, 0)?;
                Ok(pairs(&b.keys, &b.values, b.count))
            }

            /// Reads and deletes every element in batches (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`).
            pub fn drain_batch(&self, batch: u32) -> Result<Vec<(K, V)>, MapError> {
                let b = self.map().batch_walk(batch, true, 0)?;
                Ok(pairs(&b.keys, &b.values, b.count))
            }

            /// Sets `keys[i]` to `values[i]` in one call (`BPF_MAP_UPDATE_BATCH`); returns
            /// how many were set.
            pub fn insert_batch(
                &self,
                keys: &[K],
                values: &[V],
                flags: u64,
            ) -> Result<u32, MapError> {
                if keys.len() != values.len() {
                    return Err(MapError::invalid(
                        self.map().name(),
                        format!("{} keys but {} values", keys.len(), values.len()),
                    ));
                }
                self.map()
                    .batch_update(bytes_of_slice(keys), bytes_of_slice(values), flags)
            }

            /// Deletes `keys` in one call (`BPF_MAP_DELETE_BATCH`); returns how many.
            pub fn remove_batch(&self, keys: &[K]) -> Result<u32, MapError> {
                self.map().batch_delete(bytes_of_slice(keys), 0)
            }
        }
    };
}

hash_methods!(HashMap);
hash_methods!(LruHashMap);

fn pairs<K: Pod, V: Pod>(keys: &[u8], values: &[u8], n: usize) -> Vec<(K, V)> {
    (0..n)
        .map(|i| {
            (
                from_bytes(&keys[i * size_of::<K>()..]),
                from_bytes(&values[i * size_of::<V>()..]),
            )
        })
        .collect()
}

/// Iterator over `(K, V)` entries of a hash map.
pub struct Entries<'a, K, V> {
    keys: RawKeys<'a>,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K: Pod, V: Pod> Iterator for Entries<'_, K, V> {
    type Item = Result<(K, V), MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buf = vec![0u8; size_of::<V>()];
        loop {
            let key = match self.keys.next()? {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            let map = self.keys_map();
            match map.lookup_into(&key, &mut buf, 0) {
                Ok(true) => return Some(Ok((from_bytes(&key), from_bytes(&buf)))),
                Ok(false) => continue, // deleted meanwhile
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<'a, K, V> Entries<'a, K, V> {
    pub(crate) fn new(map: &'a Map) -> Self {
        Entries {
            keys: map.keys(),
            _t: PhantomData,
        }
    }

    fn keys_map(&self) -> &Map {
        self.keys.map
    }
}

impl<K: Pod, V: Pod, M: Borrow<Map>> PerCpuHashMap<K, V, M> {
    /// The per-CPU values of `key`, or `None`.
    pub fn get(&self, key: &K, flags: u64) -> Result<Option<PerCpuValues<V>>, MapError> {
        let found = self.map().lookup(bytes_of(key), flags)?;
        Ok(found.map(|b| PerCpuValues::from_buf(&b)))
    }

    /// Sets the per-CPU values of `key`.
    pub fn insert(&self, key: &K, values: &PerCpuValues<V>, flags: u64) -> Result<(), MapError> {
        let buf = values.to_buf(self.map())?;
        self.map().update(bytes_of(key), &buf, flags)
    }

    /// Deletes `key`; `Ok(false)` if it was absent.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete(bytes_of(key))
    }

    /// Iterates over the keys (robust to deletion, see [`RawKeys`]).
    pub fn keys(&self) -> Keys<'_, K> {
        Keys::new(self.map())
    }

    /// Iterates over `(key, per-CPU values)` pairs.
    pub fn iter(&self) -> PerCpuEntries<'_, K, V> {
        PerCpuEntries {
            keys: self.map().keys(),
            _t: PhantomData,
        }
    }

    /// Reads every element in batches (`BPF_MAP_LOOKUP_BATCH`).
    pub fn get_batch(&self, batch: u32) -> Result<Vec<(K, PerCpuValues<V>)>, MapError> {
        let b = self.map().batch_walk(batch, false, 0)?;
        let vs = self.map().map_fd().value_buf_size();
        Ok((0..b.count)
            .map(|i| {
                (
                    from_bytes(&b.keys[i * size_of::<K>()..]),
                    PerCpuValues::from_buf(&b.values[i * vs..(i + 1) * vs]),
                )
            })
            .collect())
    }
}

/// Iterator over `(K, PerCpuValues<V>)` entries of a per-CPU hash map.
pub struct PerCpuEntries<'a, K, V> {
    keys: RawKeys<'a>,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K: Pod, V: Pod> Iterator for PerCpuEntries<'_, K, V> {
    type Item = Result<(K, PerCpuValues<V>), MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let key = match self.keys.next()? {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            match self.keys.map.lookup(&key, 0) {
                Ok(Some(v)) => return Some(Ok((from_bytes(&key), PerCpuValues::from_buf(&v)))),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
