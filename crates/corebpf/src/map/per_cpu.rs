//! Per-CPU values: one value per *possible* CPU, laid out by the kernel in slots of
//! `round_up(value_size, 8)` bytes.

use std::mem::size_of;
use std::ops::{Deref, DerefMut};

use super::{bytes_of, from_bytes, zeroed, Map, MapError, Pod};

/// One value per possible CPU, indexed by CPU number.
///
/// ```
/// use corebpf::map::PerCpuValues;
/// let v = PerCpuValues::<u64>::filled(0)?;
/// assert_eq!(v.len(), corebpf::sys::possible_cpus().unwrap());
/// # Ok::<(), corebpf::map::MapError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerCpuValues<V>(Box<[V]>);

impl<V: Pod> PerCpuValues<V> {
    /// Every CPU set to `v`.
    pub fn filled(v: V) -> Result<Self, MapError> {
        Ok(PerCpuValues(vec![v; cpus()?].into_boxed_slice()))
    }

    /// Takes one value per possible CPU; fails if `values` has another length.
    pub fn from_vec(values: Vec<V>) -> Result<Self, MapError> {
        let n = cpus()?;
        if values.len() != n {
            return Err(MapError::PerCpuCount {
                name: "per-CPU values".into(),
                got: values.len(),
                cpus: n,
            });
        }
        Ok(PerCpuValues(values.into_boxed_slice()))
    }

    /// The values as a vector indexed by CPU.
    pub fn into_vec(self) -> Vec<V> {
        self.0.into_vec()
    }

    /// Size of one CPU's slot in the kernel's buffer.
    pub(crate) fn slot() -> usize {
        size_of::<V>().div_ceil(8) * 8
    }

    /// Decodes the kernel's buffer (`cpus * slot` bytes).
    pub(crate) fn from_buf(buf: &[u8]) -> Self {
        let slot = Self::slot();
        let v: Vec<V> = buf.chunks_exact(slot).map(from_bytes).collect();
        PerCpuValues(v.into_boxed_slice())
    }

    /// Encodes into the kernel's buffer layout, zero padding each slot.
    pub(crate) fn to_buf(&self, map: &Map) -> Result<Vec<u8>, MapError> {
        let slot = Self::slot();
        if self.0.len() * slot != map.map_fd().value_buf_size() {
            return Err(MapError::PerCpuCount {
                name: map.name().to_string(),
                got: self.0.len(),
                cpus: map.map_fd().value_buf_size() / slot.max(1),
            });
        }
        let mut buf = vec![0u8; self.0.len() * slot];
        for (chunk, v) in buf.chunks_exact_mut(slot).zip(self.0.iter()) {
            chunk[..size_of::<V>()].copy_from_slice(bytes_of(v));
        }
        Ok(buf)
    }

    /// All zero.
    pub fn zeroed() -> Result<Self, MapError> {
        Self::filled(zeroed())
    }
}

impl<V> Deref for PerCpuValues<V> {
    type Target = [V];
    fn deref(&self) -> &[V] {
        &self.0
    }
}

impl<V> DerefMut for PerCpuValues<V> {
    fn deref_mut(&mut self) -> &mut [V] {
        &mut self.0
    }
}

fn cpus() -> Result<usize, MapError> {
    corebpf_sys::possible_cpus().map_err(|e| MapError::sys("possible CPUs", e))
}
