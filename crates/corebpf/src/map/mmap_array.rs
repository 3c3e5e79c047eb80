//! A memory-mapped view of a `BPF_F_MMAPABLE` array: element reads and writes go
//! straight to the memory BPF programs use, without system calls.

use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, AtomicU64};

use corebpf_sys::consts::BPF_F_MMAPABLE;
use corebpf_sys::mmap::{page_size, MmapRegion};

use super::{Map, MapError, Pod};

/// A mapped `BPF_F_MMAPABLE` array of `V`, element `i` at byte `i * round_up(size_of V, 8)`
/// as the kernel lays it out. Unmapped on drop; the mapping keeps the map alive even
/// when the map fd is closed.
///
/// BPF programs write this memory concurrently, so elements are copied in and out with
/// volatile accesses (never handed out as references); use [`MmapArray::atomic_u64`] /
/// [`MmapArray::atomic_u32`] for counters shared with programs.
///
/// ```no_run
/// # let map = corebpf::map::Map::from_pinned("/sys/fs/bpf/globals")?;
/// let view = map.as_array::<u64>()?.mmap()?;
/// view.set(0, 5)?;
/// assert_eq!(view.get(0), Some(5));
/// # Ok::<(), corebpf::map::MapError>(())
/// ```
#[derive(Debug)]
pub struct MmapArray<V> {
    region: MmapRegion,
    len: u32,
    _v: PhantomData<V>,
}

impl<V: Pod> MmapArray<V> {
    /// Maps `map` (an array created with `BPF_F_MMAPABLE` whose value size is
    /// `size_of::<V>()`); read-only if the kernel refuses a writable mapping (frozen or
    /// read-only maps).
    pub fn new(map: &Map) -> Result<Self, MapError> {
        map.check_type(&[corebpf_sys::MapType::Array], "MmapArray")?;
        map.check_value::<V>()?;
        if map.flags() & BPF_F_MMAPABLE == 0 {
            return Err(MapError::invalid(
                map.name(),
                "the array was not created with BPF_F_MMAPABLE and cannot be mapped",
            ));
        }
        if align_of::<V>() > 8 {
            return Err(MapError::invalid(
                map.name(),
                format!(
                    "value type alignment {} exceeds the kernel's 8",
                    align_of::<V>()
                ),
            ));
        }
        let stride = Self::stride();
        let bytes = stride * map.max_entries() as usize;
        let len = bytes.div_ceil(page_size()) * page_size();
        let region = match MmapRegion::map(map.as_fd(), len, true, 0) {
            Ok(r) => r,
            Err(e) if matches!(e.raw_errno(), Some(libc::EPERM) | Some(libc::EACCES)) => {
                MmapRegion::map(map.as_fd(), len, false, 0).map_err(|e| map.err(e))?
            }
            Err(e) => return Err(map.err(e)),
        };
        Ok(MmapArray {
            region,
            len: map.max_entries(),
            _v: PhantomData,
        })
    }

    /// Bytes between consecutive elements.
    pub fn stride() -> usize {
        size_of::<V>().div_ceil(8) * 8
    }

    /// Number of elements.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True if the array has no elements (never, for a kernel array).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the mapping is writable.
    pub fn is_writable(&self) -> bool {
        self.region.is_writable()
    }

    /// Start of the mapping, for callers that lay their own types over it.
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.as_ptr()
    }

    /// Copies element `index` out with a volatile read; `None` if out of bounds.
    pub fn get(&self, index: u32) -> Option<V> {
        if index >= self.len {
            return None;
        }
        let p = self
            .region
            .as_ptr()
            .wrapping_add(index as usize * Self::stride());
        // SAFETY: `index < len`, so `p..p + size_of::<V>()` lies inside the mapping
        // (whose length covers `len * stride`); `p` is aligned for `V` (page-aligned
        // base, stride a multiple of 8, `align_of::<V>() <= 8` checked in `new`); any bit
        // pattern is a valid `V`. Volatile because BPF programs write concurrently.
        Some(unsafe { std::ptr::read_volatile(p as *const V) })
    }

    /// Writes element `index` with a volatile write.
    pub fn set(&self, index: u32, value: V) -> Result<(), MapError> {
        if index >= self.len {
            return Err(MapError::OutOfBounds {
                name: "mmapped array".into(),
                index,
                max_entries: self.len,
            });
        }
        if !self.is_writable() {
            return Err(MapError::invalid(
                "mmapped array",
                "the mapping is read-only",
            ));
        }
        let p = self
            .region
            .as_ptr()
            .wrapping_add(index as usize * Self::stride());
        // SAFETY: in bounds and aligned as in `get`; the mapping is writable.
        unsafe { std::ptr::write_volatile(p as *mut V, value) };
        Ok(())
    }

    /// Copies `out.len()` bytes from byte `offset`; false if out of bounds.
    pub fn read_bytes(&self, offset: usize, out: &mut [u8]) -> bool {
        self.region.read(offset, out)
    }

    /// Copies `data` to byte `offset`; false if out of bounds or read-only.
    pub fn write_bytes(&self, offset: usize, data: &[u8]) -> bool {
        self.region.write(offset, data)
    }

    /// The 8-byte-aligned `u64` at byte `offset` as an atomic shared with BPF programs.
    pub fn atomic_u64(&self, offset: usize) -> Option<&AtomicU64> {
        self.region.atomic_u64(offset)
    }

    /// The 4-byte-aligned `u32` at byte `offset` as an atomic.
    pub fn atomic_u32(&self, offset: usize) -> Option<&AtomicU32> {
        self.region.atomic_u32(offset)
    }
}
