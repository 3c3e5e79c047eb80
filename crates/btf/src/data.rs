//! Where a [`crate::Btf`]'s bytes live: an owned buffer, a `'static` slice, or a read-only
//! mapping of a file (the kernel's `/sys/kernel/btf/vmlinux` is mmapable since Linux 6.16).

use std::fs::File;
#[cfg(feature = "mmap")]
use std::os::fd::AsRawFd;

/// The backing bytes of a BTF blob.
pub(crate) enum Data {
    /// Bytes owned by the Btf.
    Owned(Box<[u8]>),
    /// Bytes borrowed for the life of the program (e.g. `include_bytes!`).
    #[allow(dead_code)]
    Static(&'static [u8]),
    /// A private read-only mapping of a file.
    Mapped(Mapping),
}

impl Data {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Data::Owned(b) => b,
            Data::Static(b) => b,
            Data::Mapped(m) => m.bytes(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes().len()
    }
}

/// A read-only, private mapping of a whole file, unmapped on drop.
#[cfg(feature = "mmap")]
pub(crate) struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

/// Without the `mmap` feature nothing is mapped: every file is read into memory.
#[cfg(not(feature = "mmap"))]
pub(crate) enum Mapping {}

#[cfg(not(feature = "mmap"))]
impl Mapping {
    /// Never maps (the `mmap` feature is off): the caller reads the file instead.
    pub(crate) fn map(_file: &File, _len: usize) -> Option<Mapping> {
        None
    }

    fn bytes(&self) -> &[u8] {
        match *self {}
    }
}

#[cfg(feature = "mmap")]
// SAFETY: the mapping is read-only and private; no one writes through it, so sharing the
// pointer across threads is as safe as sharing a `&[u8]`.
unsafe impl Send for Mapping {}
#[cfg(feature = "mmap")]
// SAFETY: see `Send`: the bytes are immutable for the mapping's whole life.
unsafe impl Sync for Mapping {}

#[cfg(feature = "mmap")]
impl Mapping {
    /// Maps `len` bytes of `file` read-only; `None` if the file system refuses (older
    /// kernels cannot mmap sysfs BTF), so the caller falls back to reading.
    pub(crate) fn map(file: &File, len: usize) -> Option<Mapping> {
        if len == 0 {
            return None;
        }
        // SAFETY: a fresh PROT_READ/MAP_PRIVATE mapping of a valid fd; the kernel picks the
        // address, so no existing memory is affected. The result is checked for MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        Some(Mapping { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes until `drop`; it is only
        // ever mapped PROT_READ, and the files we map (sysfs BTF, BTF files we opened) are not
        // truncated under us by the kernel: vmlinux/module BTF is immutable while loaded.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

#[cfg(feature = "mmap")]
impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned and nothing borrows the bytes
        // any more (borrows are tied to `&self`).
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}
