//! `mmap` of kernel-shared memory: `BPF_F_MMAPABLE` array maps, ring buffers and perf
//! rings. [`MmapRegion`] unmaps on drop.
//!
//! The memory is shared with the kernel and BPF programs, which write it concurrently,
//! so the region hands out raw pointers, atomics and copies, never `&[u8]`.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use crate::error::SysError;

/// Page size of this system.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as usize
    } else {
        4096
    }
}

/// A shared mapping of a BPF map or perf event fd; unmapped on drop.
#[derive(Debug)]
pub struct MmapRegion {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: the region is plain shared memory; all access goes through raw pointers,
// atomics or copies, which are as thread-safe as the caller's synchronization.
unsafe impl Send for MmapRegion {}
// SAFETY: as above; `&MmapRegion` only allows atomic or copying access.
unsafe impl Sync for MmapRegion {}

impl MmapRegion {
    /// `mmap(NULL, len, PROT_READ [| PROT_WRITE], MAP_SHARED, fd, offset)`.
    pub fn map(
        fd: BorrowedFd<'_>,
        len: usize,
        writable: bool,
        offset: u64,
    ) -> Result<Self, SysError> {
        if len == 0 {
            return Err(SysError::invalid("mmap", "zero length"));
        }
        if offset as usize % page_size() != 0 {
            return Err(SysError::invalid("mmap", "offset is not page aligned"));
        }
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh mapping at an address chosen by the kernel aliases no Rust
        // object; failure is reported as MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(SysError::last("mmap"));
        }
        let ptr =
            NonNull::new(p as *mut u8).ok_or_else(|| SysError::invalid("mmap", "null mapping"))?;
        Ok(MmapRegion { ptr, len, writable })
    }

    /// Start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: mappings are never empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the mapping is writable.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    fn check(&self, offset: usize, size: usize, align: usize) -> Option<*mut u8> {
        let end = offset.checked_add(size)?;
        if end > self.len || offset % align != 0 {
            return None;
        }
        // SAFETY: `offset + size <= len`, so the pointer stays inside the mapping.
        Some(unsafe { self.ptr.as_ptr().add(offset) })
    }

    /// The `u64` at `offset` as an atomic (ring buffer positions), if in bounds and
    /// 8-byte aligned.
    pub fn atomic_u64(&self, offset: usize) -> Option<&AtomicU64> {
        let p = self.check(offset, 8, 8)?;
        // SAFETY: in bounds and aligned; the mapping lives as long as `&self`; atomics
        // are the right way to share memory with concurrent writers.
        Some(unsafe { AtomicU64::from_ptr(p as *mut u64) })
    }

    /// The `u32` at `offset` as an atomic (ring buffer record headers).
    pub fn atomic_u32(&self, offset: usize) -> Option<&AtomicU32> {
        let p = self.check(offset, 4, 4)?;
        // SAFETY: in bounds and aligned; lives as long as `&self`.
        Some(unsafe { AtomicU32::from_ptr(p as *mut u32) })
    }

    /// Copies `out.len()` bytes from `offset`; false if out of bounds.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> bool {
        let Some(p) = self.check(offset, out.len(), 1) else {
            return false;
        };
        // SAFETY: source range checked to be inside the mapping; `out` is a distinct
        // Rust buffer. Volatile-free copy is fine after an acquire load of the producer
        // position, which is how ring buffer readers use this.
        unsafe { std::ptr::copy_nonoverlapping(p as *const u8, out.as_mut_ptr(), out.len()) };
        true
    }

    /// Copies `data` to `offset`; false if out of bounds or the mapping is read-only.
    pub fn write(&self, offset: usize, data: &[u8]) -> bool {
        if !self.writable {
            return false;
        }
        let Some(p) = self.check(offset, data.len(), 1) else {
            return false;
        };
        // SAFETY: destination range checked to be inside a writable mapping.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
        true
    }
}

impl Drop for MmapRegion {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping this value created and still owns;
        // nothing borrowed from it can outlive `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len);
        }
    }
}
