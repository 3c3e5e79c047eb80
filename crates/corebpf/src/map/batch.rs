//! Batch operations (`BPF_MAP_*_BATCH`) as whole-map helpers over raw bytes; the typed
//! handles wrap them.

use super::{Map, MapError};

/// Raw keys and values returned by a batched walk.
pub(crate) struct RawBatch {
    pub keys: Vec<u8>,
    pub values: Vec<u8>,
    pub count: usize,
}

impl Map {
    /// Looks up (and with `delete`, deletes) every element with `BPF_MAP_LOOKUP_BATCH`
    /// (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`), `batch` elements per call. A hash bucket
    /// larger than `batch` makes the kernel answer `ENOSPC`; the batch then grows.
    pub(crate) fn batch_walk(
        &self,
        batch: u32,
        delete: bool,
        flags: u64,
    ) -> Result<RawBatch, MapError> {
        let ks = self.key_size();
        let vs = self.map_fd().value_buf_size();
        let tok = self.map_fd().batch_token_size();
        let mut batch = batch.max(1) as usize;
        let mut out = RawBatch {
            keys: Vec::new(),
            values: Vec::new(),
            count: 0,
        };
        let mut in_tok: Option<Vec<u8>> = None;
        let mut out_tok = vec![0u8; tok];
        let mut keys = vec![0u8; batch * ks];
        let mut values = vec![0u8; batch * vs];
        loop {
            let f = if delete {
                corebpf_sys::map_lookup_and_delete_batch
            } else {
                corebpf_sys::map_lookup_batch
            };
            let r = f(
                self.map_fd(),
                in_tok.as_deref(),
                &mut out_tok,
                &mut keys,
                &mut values,
                flags,
            );
            let r = match r {
                Ok(r) => r,
                Err(e) if e.raw_errno() == Some(libc::ENOSPC) && batch < 1 << 20 => {
                    batch *= 2;
                    keys.resize(batch * ks, 0);
                    values.resize(batch * vs, 0);
                    continue;
                }
                Err(e) => return Err(self.err(e)),
            };
            let n = r.count as usize;
            out.keys.extend_from_slice(&keys[..n * ks]);
            out.values.extend_from_slice(&values[..n * vs]);
            out.count += n;
            if r.done {
                return Ok(out);
            }
            in_tok = Some(out_tok.clone());
        }
    }

    /// `BPF_MAP_UPDATE_BATCH` over raw keys and values; returns how many were updated.
    pub(crate) fn batch_update(
        &self,
        keys: &[u8],
        values: &[u8],
        flags: u64,
    ) -> Result<u32, MapError> {
        corebpf_sys::map_update_batch(self.map_fd(), keys, values, flags).map_err(|e| self.err(e))
    }

    /// `BPF_MAP_DELETE_BATCH` over raw keys; returns how many were deleted.
    pub(crate) fn batch_delete(&self, keys: &[u8], flags: u64) -> Result<u32, MapError> {
        corebpf_sys::map_delete_batch(self.map_fd(), keys, flags).map_err(|e| self.err(e))
    }
}
