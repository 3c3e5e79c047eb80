//! Stack trace maps (`BPF_MAP_TYPE_STACK_TRACE`), filled by `bpf_get_stackid`.

use std::borrow::Borrow;

use corebpf_sys::MapType;

use super::{typed_map, Keys, Map, MapError};

fn check_stack_trace(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::StackTrace], "StackTraceMap")?;
    map.check_key_size(4, "u32 (stack id)")?;
    if map.value_size() == 0 || map.value_size() % 8 != 0 {
        return Err(MapError::invalid(
            map.name(),
            format!(
                "stack trace value size {} is not a multiple of 8",
                map.value_size()
            ),
        ));
    }
    Ok(())
}

typed_map! {
    /// A `BPF_MAP_TYPE_STACK_TRACE`: stack id → up to `value_size / 8` instruction
    /// pointers (or build-id records with `BPF_F_STACK_BUILD_ID`, read them with
    /// [`Map::lookup`]).
    StackTraceMap[], as_stack_trace, into_stack_trace, check_stack_trace
}

impl<M: Borrow<Map>> StackTraceMap<M> {
    /// Maximum stack depth stored.
    pub fn max_depth(&self) -> usize {
        self.map().value_size() / 8
    }

    /// The instruction pointers of stack `stack_id`, innermost first, without the
    /// zero entries that pad shorter stacks; `None` if the id is unused.
    pub fn get(&self, stack_id: u32) -> Result<Option<Vec<u64>>, MapError> {
        let Some(buf) = self.map().lookup(&stack_id.to_ne_bytes(), 0)? else {
            return Ok(None);
        };
        Ok(Some(
            buf.chunks_exact(8)
                .map(|c| u64::from_ne_bytes(c.try_into().expect("8-byte chunk")))
                .take_while(|&ip| ip != 0)
                .collect(),
        ))
    }

    /// Frees stack `stack_id`; `Ok(false)` if unused.
    pub fn remove(&self, stack_id: u32) -> Result<bool, MapError> {
        self.map().delete(&stack_id.to_ne_bytes())
    }

    /// Iterates over the stack ids in use.
    pub fn stack_ids(&self) -> Keys<'_, u32> {
        Keys::new(self.map())
    }
}
