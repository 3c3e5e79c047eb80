//! Plain-old-data keys and values: types whose bytes can be handed to the kernel and
//! read back as they are.

use std::mem::{size_of, MaybeUninit};

/// A type that is nothing but bytes: every bit pattern is a valid value and it has no
/// padding, pointers or drop glue. Map keys and values are `Pod`.
///
/// Implemented for the integer and float types and for arrays of `Pod`. Implement it
/// for your own `#[repr(C)]` structs (adding explicit padding fields where the compiler
/// would insert padding):
///
/// ```
/// use corebpf::map::Pod;
///
/// #[repr(C)]
/// #[derive(Clone, Copy)]
/// struct Event {
///     pid: u32,
///     _pad: u32,
///     bytes: u64,
/// }
/// // SAFETY: `#[repr(C)]`, integer fields only, no implicit padding.
/// unsafe impl Pod for Event {}
/// ```
///
/// # Safety
/// The type must be `#[repr(C)]` or `#[repr(transparent)]` (or a primitive), contain
/// no padding bytes, and accept any bit pattern as a valid value.
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod_impls {
    ($($t:ty),*) => {
        $(
            // SAFETY: primitive integers and floats have no padding and no invalid bit patterns.
            unsafe impl Pod for $t {}
        )*
    };
}

pod_impls!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// SAFETY: an array of padding-free types has no padding (its stride is the size).
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// Reads a `T` from the first `size_of::<T>()` bytes of `bytes` (any alignment), or
/// `None` if `bytes` is shorter: for records that may carry padding after the value (perf
/// samples are padded to 8 bytes).
///
/// ```
/// let b = [1u8, 0, 0, 0, 2, 0, 0, 0, 0xff];
/// assert_eq!(corebpf::map::pod::read_prefix::<[u32; 2]>(&b), Some([1u32.to_le(), 2u32.to_le()]));
/// assert_eq!(corebpf::map::pod::read_prefix::<u64>(&b[..4]), None);
/// ```
pub fn read_prefix<T: Pod>(bytes: &[u8]) -> Option<T> {
    (bytes.len() >= size_of::<T>()).then(|| from_bytes(bytes))
}

/// Reads a `T` from `bytes`, which must be exactly `size_of::<T>()` long (else `None`).
pub fn read_exact<T: Pod>(bytes: &[u8]) -> Option<T> {
    (bytes.len() == size_of::<T>()).then(|| from_bytes(bytes))
}

/// The bytes of a `Pod` value, e.g. to write a global with `OpenObject::set_global`.
pub fn as_bytes<T: Pod>(v: &T) -> &[u8] {
    bytes_of(v)
}

/// The bytes of a value.
pub(crate) fn bytes_of<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so all `size_of::<T>()` bytes are initialized;
    // the slice borrows `v`.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()) }
}

/// The bytes of a slice of values.
pub(crate) fn bytes_of_slice<T: Pod>(v: &[T]) -> &[u8] {
    // SAFETY: as `bytes_of`; a slice of padding-free `T` is `len * size_of::<T>()`
    // initialized bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

/// Reads a value from the first `size_of::<T>()` bytes of `b` (any alignment).
///
/// Panics if `b` is too short, which callers rule out by sizing buffers from the map.
pub(crate) fn from_bytes<T: Pod>(b: &[u8]) -> T {
    assert!(b.len() >= size_of::<T>(), "buffer shorter than the value");
    // SAFETY: `b` holds at least `size_of::<T>()` bytes and any bit pattern is a valid `T`.
    unsafe { std::ptr::read_unaligned(b.as_ptr() as *const T) }
}

/// A value with all bytes zero.
pub(crate) fn zeroed<T: Pod>() -> T {
    // SAFETY: all-zero is a valid bit pattern of a `Pod` type.
    unsafe { MaybeUninit::<T>::zeroed().assume_init() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v: [u16; 3] = [1, 2, 0xffff];
        let b = bytes_of(&v);
        assert_eq!(b.len(), 6);
        assert_eq!(from_bytes::<[u16; 3]>(b), v);
        assert_eq!(bytes_of_slice(&[1u32, 2]).len(), 8);
        assert_eq!(zeroed::<u64>(), 0);
    }
}
