//! FIFO queues and LIFO stacks (`BPF_MAP_TYPE_QUEUE`, `BPF_MAP_TYPE_STACK`): maps
//! without keys, used with push, pop and peek.

use std::borrow::Borrow;
use std::mem::size_of;

use corebpf_sys::MapType;

use super::{bytes_of, from_bytes, typed_map, Map, MapError, Pod};

fn check_queue<V: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::Queue], "Queue")?;
    map.check_key_size(0, "(no key)")?;
    map.check_value::<V>()
}

fn check_stack<V: Pod>(map: &Map) -> Result<(), MapError> {
    map.check_type(&[MapType::Stack], "Stack")?;
    map.check_key_size(0, "(no key)")?;
    map.check_value::<V>()
}

typed_map! {
    /// A `BPF_MAP_TYPE_QUEUE` of `V`: [`push`](Queue::push) at the back,
    /// [`pop`](Queue::pop)/[`peek`](Queue::peek) at the front.
    ///
    /// ```no_run
    /// # let map = corebpf::map::Map::from_pinned("/sys/fs/bpf/q")?;
    /// let q = map.as_queue::<u32>()?;
    /// q.push(&1, 0)?;
    /// q.push(&2, 0)?;
    /// assert_eq!(q.pop()?, Some(1));
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    Queue[V], as_queue, into_queue, check_queue
}

typed_map! {
    /// A `BPF_MAP_TYPE_STACK` of `V`: [`push`](Stack::push), [`pop`](Stack::pop) and
    /// [`peek`](Stack::peek) at the top.
    Stack[V], as_stack, into_stack, check_stack
}

macro_rules! push_pop {
    ($name:ident) => {
        impl<V: Pod, M: Borrow<Map>> $name<V, M> {
            /// Pushes `value`; `flags` is 0, or `BPF_EXIST` to drop the oldest element
            /// when full (otherwise a full map fails with `E2BIG`).
            pub fn push(&self, value: &V, flags: u64) -> Result<(), MapError> {
                self.map().update(&[], bytes_of(value), flags)
            }

            /// Removes and returns the next element, or `None` if empty.
            pub fn pop(&self) -> Result<Option<V>, MapError> {
                let mut buf = vec![0u8; size_of::<V>()];
                let found = self.map().lookup_and_delete_into(&[], &mut buf, 0)?;
                Ok(found.then(|| from_bytes(&buf)))
            }

            /// Returns the next element without removing it, or `None` if empty.
            pub fn peek(&self) -> Result<Option<V>, MapError> {
                let mut buf = vec![0u8; size_of::<V>()];
                let found = self.map().lookup_into(&[], &mut buf, 0)?;
                Ok(found.then(|| from_bytes(&buf)))
            }
        }
    };
}

push_pop!(Queue);
push_pop!(Stack);
