//! Program arrays (`BPF_MAP_TYPE_PROG_ARRAY`): the jump tables of `bpf_tail_call`.

use std::borrow::Borrow;
use std::os::fd::{AsRawFd, BorrowedFd};

use corebpf_sys::MapType;

use super::{typed_map, Map, MapError};

fn check_prog_array(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::ProgArray], "ProgArray")?;
    map.check_key_size(4, "u32")?;
    map.check_value_size(4, "u32 (program fd)")
}

typed_map! {
    /// A `BPF_MAP_TYPE_PROG_ARRAY`: slot `i` holds a program for `bpf_tail_call(ctx, map, i)`.
    ///
    /// ```no_run
    /// # use std::os::fd::AsFd;
    /// # let map = corebpf::map::Map::from_pinned("/sys/fs/bpf/jmp")?;
    /// # let prog: std::os::fd::OwnedFd = unimplemented!();
    /// let jmp = map.as_prog_array()?;
    /// jmp.set(1, prog.as_fd(), 0)?;
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    ProgArray[], as_prog_array, into_prog_array, check_prog_array
}

impl<M: Borrow<Map>> ProgArray<M> {
    /// Puts the program `prog` in slot `index`.
    pub fn set(&self, index: u32, prog: BorrowedFd<'_>, flags: u64) -> Result<(), MapError> {
        self.map().check_index(index)?;
        let fd = prog.as_raw_fd() as u32;
        self.map()
            .update(&index.to_ne_bytes(), &fd.to_ne_bytes(), flags)
    }

    /// Empties slot `index`; `Ok(false)` if it was empty.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().check_index(index)?;
        self.map().delete(&index.to_ne_bytes())
    }

    /// The id of the program in slot `index`, or `None` if empty.
    pub fn get(&self, index: u32) -> Result<Option<u32>, MapError> {
        self.map().check_index(index)?;
        let v = self.map().lookup(&index.to_ne_bytes(), 0)?;
        Ok(v.map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
    }

    /// The indices of the occupied slots.
    pub fn indices(&self) -> Result<Vec<u32>, MapError> {
        let mut out = Vec::new();
        for i in 0..self.map().max_entries() {
            if self.get(i)?.is_some() {
                out.push(i);
            }
        }
        Ok(out)
    }
}
