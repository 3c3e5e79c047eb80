//! Maps of maps (`BPF_MAP_TYPE_ARRAY_OF_MAPS`, `BPF_MAP_TYPE_HASH_OF_MAPS`): user space
//! stores inner map fds, and reads back inner map ids.

use std::borrow::Borrow;
use std::os::fd::{AsRawFd, BorrowedFd};

use corebpf_sys::MapType;

use super::{bytes_of, typed_map, Keys, Map, MapError, Pod};

fn check_array_of_maps(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::ArrayOfMaps], "ArrayOfMaps")?;
    map.check_key_size(4, "u32")?;
    map.check_value_size(4, "u32 (map fd)")
}

fn check_hash_of_maps<K: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::HashOfMaps], "HashOfMaps")?;
    map.check_key::<K>()?;
    map.check_value_size(4, "u32 (map fd)")
}

typed_map! {
    /// A `BPF_MAP_TYPE_ARRAY_OF_MAPS`: slot `i` holds an inner map compatible with the
    /// template the outer map was created with.
    ///
    /// ```no_run
    /// # use std::os::fd::AsFd;
    /// # let outer = corebpf::map::Map::from_pinned("/sys/fs/bpf/outer")?;
    /// # let inner = corebpf::map::Map::from_pinned("/sys/fs/bpf/inner")?;
    /// let aom = outer.as_array_of_maps()?;
    /// aom.set(0, inner.as_fd(), 0)?;
    /// assert_eq!(aom.get(0)?, Some(inner.id()));
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    ArrayOfMaps[], as_array_of_maps, into_array_of_maps, check_array_of_maps
}

typed_map! {
    /// A `BPF_MAP_TYPE_HASH_OF_MAPS` keyed by `K`, whose values are inner maps.
    HashOfMaps[K], as_hash_of_maps, into_hash_of_maps, check_hash_of_maps
}

fn id_of(b: Vec<u8>) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

impl<M: Borrow<Map>> ArrayOfMaps<M> {
    /// Stores the inner map `inner` in slot `index`.
    pub fn set(&self, index: u32, inner: BorrowedFd<'_>, flags: u64) -> Result<(), MapError> {
        self.map().check_index(index)?;
        let fd = inner.as_raw_fd() as u32;
        self.map()
            .update(&index.to_ne_bytes(), &fd.to_ne_bytes(), flags)
    }

    /// The id of the inner map in slot `index` (open it with [`Map::from_id`]), or
    /// `None` if empty.
    pub fn get(&self, index: u32) -> Result<Option<u32>, MapError> {
        self.map().check_index(index)?;
        Ok(self.map().lookup(&index.to_ne_bytes(), 0)?.map(id_of))
    }

    /// Empties slot `index`; `Ok(false)` if it was empty.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().check_index(index)?;
        self.map().delete(&index.to_ne_bytes())
    }
}

impl<K: Pod, M: Borrow<Map>> HashOfMaps<K, M> {
    /// Stores the inner map `inner` under `key`.
    pub fn insert(&self, key: &K, inner: BorrowedFd<'_>, flags: u64) -> Result<(), MapError> {
        let fd = inner.as_raw_fd() as u32;
        self.map().update(bytes_of(key), &fd.to_ne_bytes(), flags)
    }

    /// The id of the inner map under `key`, or `None`.
    pub fn get(&self, key: &K) -> Result<Option<u32>, MapError> {
        Ok(self.map().lookup(bytes_of(key), 0)?.map(id_of))
    }

    /// Removes `key`; `Ok(false)` if absent.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete(bytes_of(key))
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> Keys<'_, K> {
        Keys::new(self.map())
    }
}
