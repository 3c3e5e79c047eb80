//! Arrays: [`Array`] and [`PerCpuArray`], indexed by `u32` from 0 to `max_entries - 1`.

use std::borrow::Borrow;
use std::mem::size_of;

use corebpf_sys::MapType;

use super::{
    bytes_of, bytes_of_slice, from_bytes, typed_map, Map, MapError, MmapArray, PerCpuValues, Pod,
};

fn check_array<V: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::Array], "Array")?;
    map.check_value::<V>()
}

fn check_percpu_array<V: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::PercpuArray], "PerCpuArray")?;
    map.check_value::<V>()
}

typed_map! {
    /// A `BPF_MAP_TYPE_ARRAY` of `V`. Elements always exist (zero at creation) and
    /// cannot be deleted.
    ///
    /// An array created with `BPF_F_MMAPABLE` can also be mapped into memory with
    /// [`Array::mmap`], which is how global data (`.data`, `.bss`) is accessed.
    ///
    /// ```no_run
    /// # let map = corebpf::map::Map::from_pinned("/sys/fs/bpf/arr")?;
    /// let arr = map.as_array::<u64>()?;
    /// arr.set(3, &42, 0)?;
    /// assert_eq!(arr.get(3, 0)?, 42);
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    Array[V], as_array, into_array, check_array
}

typed_map! {
    /// A `BPF_MAP_TYPE_PERCPU_ARRAY` of `V`: each index holds one `V` per possible CPU.
    PerCpuArray[V], as_percpu_array, into_percpu_array, check_percpu_array
}

impl<V: Pod, M: Borrow<Map>> Array<V, M> {
    /// Number of elements (`max_entries`).
    pub fn len(&self) -> u32 {
        self.map().max_entries()
    }

    /// Always false: arrays have at least one element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `index`. `flags` is 0 or `BPF_F_LOCK`.
    pub fn get(&self, index: u32, flags: u64) -> Result<V, MapError> {
        self.map().check_index(index)?;
        let mut buf = vec![0u8; size_of::<V>()];
        if !self
            .map()
            .lookup_into(&index.to_ne_bytes(), &mut buf, flags)?
        {
            return Err(MapError::invalid(
                self.map().name(),
                format!("index {index} not found"),
            ));
        }
        Ok(from_bytes(&buf))
    }

    /// Sets the element at `index`. `flags` is `BPF_ANY` or `BPF_EXIST` (the same for
    /// arrays), optionally with `BPF_F_LOCK`.
    pub fn set(&self, index: u32, value: &V, flags: u64) -> Result<(), MapError> {
        self.map().check_index(index)?;
        self.map()
            .update(&index.to_ne_bytes(), bytes_of(value), flags)
    }

    /// Iterates over all elements in index order.
    pub fn iter(&self) -> impl Iterator<Item = Result<V, MapError>> + '_ {
        (0..self.len()).map(move |i| self.get(i, 0))
    }

    /// Reads every element with batch lookups of `batch` elements per call; returns
    /// `(index, value)` pairs.
    pub fn get_batch(&self, batch: u32) -> Result<Vec<(u32, V)>, MapError> {
        let b = self.map().batch_walk(batch, false, 0)?;
        Ok((0..b.count)
            .map(|i| {
                (
                    from_bytes(&b.keys[i * 4..]),
                    from_bytes(&b.values[i * size_of::<V>()..]),
                )
            })
            .collect())
    }

    /// Sets `values[i]` at `indices[i]` in one call (`BPF_MAP_UPDATE_BATCH`).
    pub fn set_batch(&self, indices: &[u32], values: &[V], flags: u64) -> Result<u32, MapError> {
        if indices.len() != values.len() {
            return Err(MapError::invalid(
                self.map().name(),
                format!("{} indices but {} values", indices.len(), values.len()),
            ));
        }
        self.map()
            .batch_update(bytes_of_slice(indices), bytes_of_slice(values), flags)
    }

    /// Maps a `BPF_F_MMAPABLE` array into memory (read-write; read-only if the map was
    /// frozen or is read-only for user space).
    pub fn mmap(&self) -> Result<MmapArray<V>, MapError> {
        MmapArray::new(self.map())
    }
}

impl<V: Pod, M: Borrow<Map>> PerCpuArray<V, M> {
    /// Number of elements (`max_entries`).
    pub fn len(&self) -> u32 {
        self.map().max_entries()
    }

    /// Always false: arrays have at least one element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The per-CPU values at `index`.
    pub fn get(&self, index: u32, flags: u64) -> Result<PerCpuValues<V>, MapError> {
        self.map().check_index(index)?;
        let buf = self
            .map()
            .lookup(&index.to_ne_bytes(), flags)?
            .ok_or_else(|| {
                MapError::invalid(self.map().name(), format!("index {index} not found"))
            })?;
        Ok(PerCpuValues::from_buf(&buf))
    }

    /// Sets the per-CPU values at `index`.
    pub fn set(&self, index: u32, values: &PerCpuValues<V>, flags: u64) -> Result<(), MapError> {
        self.map().check_index(index)?;
        let buf = values.to_buf(self.map())?;
        self.map().update(&index.to_ne_bytes(), &buf, flags)
    }

    /// Iterates over all elements in index order.
    pub fn iter(&self) -> impl Iterator<Item = Result<PerCpuValues<V>, MapError>> + '_ {
        (0..self.len()).map(move |i| self.get(i, 0))
    }
}
