//! Maps: the untyped [`Map`] (an owned map fd with the kernel's description of it) and
//! typed handles over it, one per map kind, named as in aya/libbpf:
//! [`HashMap`], [`LruHashMap`], [`PerCpuHashMap`], [`Array`], [`PerCpuArray`],
//! [`LpmTrie`], [`Queue`], [`Stack`], [`BloomFilter`], [`ProgArray`],
//! [`StackTraceMap`], [`ArrayOfMaps`], [`HashOfMaps`], [`SockMap`], [`SockHash`],
//! [`DevMap`], [`CpuMap`], [`XskMap`], [`Arena`].
//!
//! A typed handle is built from a `Map` (owned) or a `&Map` (borrowed) and checks on
//! construction that the map is of a fitting type and that the Rust key and value
//! types have the map's key and value sizes:
//!
//! ```no_run
//! use corebpf::map::{Map, HashMap};
//! # fn main() -> Result<(), corebpf::map::MapError> {
//! let map = Map::from_pinned("/sys/fs/bpf/counts")?;
//! let counts = map.as_hash::<u32, u64>()?;
//! counts.insert(&7, &1, 0)?;
//! for entry in counts.iter() {
//!     let (pid, n) = entry?;
//!     println!("{pid}: {n}");
//! }
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use corebpf_sys::consts::BPF_F_RDONLY;
use corebpf_sys::info::BpfMapInfo;
use corebpf_sys::{MapCreateAttr, MapFd, MapType, SysError};

// Arenas: their user-space mapping, made at load or on first use.
pub(crate) mod arena;
mod array;
mod batch;
mod bloom;
mod error;
mod hash;
// Its key type is `Pod` (an `unsafe impl`: a promise about its bytes).
#[allow(unsafe_code)]
mod lpm_trie;
mod map_of_maps;
// Reads and writes an mmapped array map's values (volatile accesses to shared memory).
#[allow(unsafe_code)]
mod mmap_array;
mod per_cpu;
// Byte views of `Pod` values: the casts that typed map handles rest on.
#[allow(unsafe_code)]
pub mod pod;
mod prog_array;
mod queue;
mod sock;
mod stack_trace;
mod xdp;

pub use arena::Arena;
pub use array::{Array, PerCpuArray};
pub use bloom::BloomFilter;
pub use error::MapError;
pub use hash::{Entries, HashMap, LruHashMap, PerCpuEntries, PerCpuHashMap};
pub use lpm_trie::{Key as LpmKey, LpmTrie};
pub use map_of_maps::{ArrayOfMaps, HashOfMaps};
pub use mmap_array::MmapArray;
pub use per_cpu::PerCpuValues;
pub use pod::Pod;
pub use prog_array::ProgArray;
pub use queue::{Queue, Stack};
pub use sock::{SockHash, SockMap};
pub use stack_trace::StackTraceMap;
pub use xdp::{CpuMap, CpuMapValue, DevMap, DevMapValue, XskMap};

pub use corebpf_sys::consts::{BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};

pub(crate) use pod::{bytes_of, bytes_of_slice, from_bytes, zeroed};

/// A map: an owned map fd with its name, type, sizes, flags and id as the kernel
/// reported them (`BPF_OBJ_GET_INFO_BY_FD`). Closed on drop.
///
/// Element operations here are untyped (`&[u8]`); see the typed handles
/// ([`Map::as_hash`], [`Map::as_array`], ...) for `Pod` keys and values.
///
/// `Send` and `Sync`, as are the typed handles: element operations are syscalls, and
/// what they may see under concurrent writers is the map type's semantics (e.g. a hash
/// map's update replaces an element whole; `tests/concurrency.rs` checks it).
pub struct Map {
    fd: MapFd,
    name: String,
    /// An arena's user-space mapping and `__arena` globals (empty for other maps).
    arena: arena::ArenaState,
    /// A struct_ops map's value for the kernel, with its programs' fds (what registering
    /// writes); `None` for other maps.
    struct_ops: Option<Box<crate::struct_ops::StructOpsValue>>,
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.info();
        f.debug_struct("Map")
            .field("name", &self.name)
            .field("type", &self.type_name())
            .field("id", &i.id)
            .field("key_size", &i.key_size)
            .field("value_size", &i.value_size)
            .field("max_entries", &i.max_entries)
            .field("flags", &format_args!("{:#x}", i.map_flags))
            .finish()
    }
}

impl Map {
    /// Wraps a map fd, reading the map's description from the kernel.
    pub fn from_fd(fd: OwnedFd) -> Result<Self, MapError> {
        let fd = MapFd::new(fd).map_err(|e| MapError::sys("map", e))?;
        Ok(Self::from_map_fd(fd))
    }

    /// Wraps a [`MapFd`] (from `corebpf_sys`).
    pub fn from_map_fd(fd: MapFd) -> Self {
        let name = fd.info().name();
        Map {
            fd,
            name,
            arena: arena::ArenaState::default(),
            struct_ops: None,
        }
    }

    /// Gives a created struct_ops map the value registering it writes.
    pub(crate) fn set_struct_ops(&mut self, value: crate::struct_ops::StructOpsValue) {
        self.struct_ops = Some(Box::new(value));
    }

    /// A struct_ops map's value for the kernel (`None` for other maps, and for struct_ops
    /// maps not loaded from an object).
    pub(crate) fn struct_ops_value(&self) -> Option<&crate::struct_ops::StructOpsValue> {
        self.struct_ops.as_deref()
    }

    /// Creates a map with `BPF_MAP_CREATE`.
    ///
    /// ```no_run
    /// use corebpf::map::Map;
    /// use corebpf::sys::{MapCreateAttr, MapType};
    /// let map = Map::create(&MapCreateAttr {
    ///     map_type: MapType::Hash, key_size: 4, value_size: 8, max_entries: 1024,
    ///     name: "counts", ..Default::default()
    /// })?;
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    pub fn create(attr: &MapCreateAttr<'_>) -> Result<Self, MapError> {
        // Kernels before 5.11 charge map memory to RLIMIT_MEMLOCK (as libbpf's
        // bpf_map_create, raise it first); if that is not allowed, the creation's own error
        // says why.
        if let Err(e) = corebpf_sys::bump_memlock_rlimit() {
            log::debug!("could not raise RLIMIT_MEMLOCK: {e}");
        }
        let fd = MapFd::create(attr).map_err(|e| MapError::sys(attr.name, e))?;
        Ok(Self::from_map_fd(fd))
    }

    /// Opens a map pinned at `path` in a bpffs (`BPF_OBJ_GET`) and reads its info.
    pub fn from_pinned(path: impl AsRef<Path>) -> Result<Self, MapError> {
        Self::from_pinned_with_flags(path, 0)
    }

    /// Like [`Map::from_pinned`], with `BPF_F_RDONLY` or `BPF_F_WRONLY` open flags.
    pub fn from_pinned_with_flags(path: impl AsRef<Path>, flags: u32) -> Result<Self, MapError> {
        let path = path.as_ref();
        let fd = corebpf_sys::obj_get(path, flags)
            .map_err(|e| MapError::sys(path.display().to_string(), e))?;
        Self::from_fd(fd)
    }

    /// Opens a map by id (`BPF_MAP_GET_FD_BY_ID`).
    pub fn from_id(id: u32) -> Result<Self, MapError> {
        let fd = corebpf_sys::map_get_fd_by_id(id, 0)
            .map_err(|e| MapError::sys(format!("map id {id}"), e))?;
        Self::from_fd(fd)
    }

    /// Opens a map by id for reading only.
    pub fn from_id_read_only(id: u32) -> Result<Self, MapError> {
        let fd = corebpf_sys::map_get_fd_by_id(id, BPF_F_RDONLY)
            .map_err(|e| MapError::sys(format!("map id {id}"), e))?;
        Self::from_fd(fd)
    }

    /// Pins the map at `path` (see [`crate::pin::pin`]).
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), MapError> {
        Ok(crate::pin::pin(self.as_fd(), path)?)
    }

    /// The map name (at most 15 bytes, as the kernel stores it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kernel's description of the map.
    pub fn info(&self) -> &BpfMapInfo {
        self.fd.info()
    }

    /// The map type, or `None` if this crate does not know the kernel's value
    /// ([`Map::raw_type`] has it).
    pub fn map_type(&self) -> Option<MapType> {
        self.fd.map_type()
    }

    /// The raw `enum bpf_map_type` value.
    pub fn raw_type(&self) -> u32 {
        self.info().type_
    }

    fn type_name(&self) -> String {
        match self.map_type() {
            Some(t) => t.name().to_string(),
            None => format!("unknown({})", self.raw_type()),
        }
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> usize {
        self.fd.key_size()
    }

    /// Value size in bytes (per CPU, for per-CPU maps).
    pub fn value_size(&self) -> usize {
        self.fd.value_size()
    }

    /// Maximum number of entries.
    pub fn max_entries(&self) -> u32 {
        self.fd.max_entries()
    }

    /// `BPF_F_*` map flags.
    pub fn flags(&self) -> u32 {
        self.info().map_flags
    }

    /// The kernel's map id.
    pub fn id(&self) -> u32 {
        self.info().id
    }

    /// The underlying [`MapFd`], for `corebpf_sys` calls.
    pub fn map_fd(&self) -> &MapFd {
        &self.fd
    }

    /// Gives the [`MapFd`] back (an arena's mapping in this process is unmapped).
    pub fn into_map_fd(self) -> MapFd {
        self.fd
    }

    /// Wraps a `corebpf_sys` error with this map's name.
    pub(crate) fn err(&self, e: SysError) -> MapError {
        MapError::sys(&self.name, e)
    }

    /// Copies the value of `key` into `value` (the map's value buffer size);
    /// `Ok(false)` if absent.
    pub fn lookup_into(&self, key: &[u8], value: &mut [u8], flags: u64) -> Result<bool, MapError> {
        corebpf_sys::map_lookup_elem(&self.fd, key, value, flags).map_err(|e| self.err(e))
    }

    /// The value of `key` as bytes (for per-CPU maps: one 8-byte-aligned slot per
    /// possible CPU), or `None`.
    pub fn lookup(&self, key: &[u8], flags: u64) -> Result<Option<Vec<u8>>, MapError> {
        let mut v = vec![0u8; self.fd.value_buf_size()];
        Ok(self.lookup_into(key, &mut v, flags)?.then_some(v))
    }

    /// Sets `key` to `value` with `BPF_ANY`/`BPF_NOEXIST`/`BPF_EXIST` (| `BPF_F_LOCK`).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        corebpf_sys::map_update_elem(&self.fd, key, value, flags).map_err(|e| self.err(e))
    }

    /// Deletes `key`; `Ok(false)` if it was absent.
    pub fn delete(&self, key: &[u8]) -> Result<bool, MapError> {
        corebpf_sys::map_delete_elem(&self.fd, key).map_err(|e| self.err(e))
    }

    /// Copies and deletes the value of `key` (pop for queues and stacks, whose key is
    /// empty); `Ok(false)` if absent.
    pub fn lookup_and_delete_into(
        &self,
        key: &[u8],
        value: &mut [u8],
        flags: u64,
    ) -> Result<bool, MapError> {
        corebpf_sys::map_lookup_and_delete_elem(&self.fd, key, value, flags)
            .map_err(|e| self.err(e))
    }

    /// Iterates over the keys as bytes; see [`RawKeys`] for behaviour under
    /// concurrent deletion.
    pub fn keys(&self) -> RawKeys<'_> {
        RawKeys::new(self)
    }

    /// Makes the map read-only for user space (`BPF_MAP_FREEZE`).
    pub fn freeze(&self) -> Result<(), MapError> {
        corebpf_sys::map_freeze(self.as_fd()).map_err(|e| self.err(e))
    }

    /// Checks that the map is of one of `types`; `handle` names the typed handle.
    pub(crate) fn check_type(
        &self,
        types: &[MapType],
        handle: &'static str,
    ) -> Result<(), MapError> {
        match self.map_type() {
            Some(t) if types.contains(&t) => Ok(()),
            _ => Err(MapError::WrongType {
                name: self.name.clone(),
                actual: self.type_name(),
                handle,
                expected: types
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(" or "),
            }),
        }
    }

    /// Checks the key size against `size_of::<K>()`.
    pub(crate) fn check_key<K>(&self) -> Result<(), MapError> {
        self.check_key_size(std::mem::size_of::<K>(), std::any::type_name::<K>())
    }

    pub(crate) fn check_key_size(&self, rust: usize, ty: &'static str) -> Result<(), MapError> {
        if self.key_size() != rust {
            return Err(MapError::KeySize {
                name: self.name.clone(),
                map: self.key_size(),
                rust,
                ty,
            });
        }
        Ok(())
    }

    /// Checks the value size against `size_of::<V>()`.
    pub(crate) fn check_value<V>(&self) -> Result<(), MapError> {
        self.check_value_size(std::mem::size_of::<V>(), std::any::type_name::<V>())
    }

    pub(crate) fn check_value_size(&self, rust: usize, ty: &'static str) -> Result<(), MapError> {
        if self.value_size() != rust {
            return Err(MapError::ValueSize {
                name: self.name.clone(),
                map: self.value_size(),
                rust,
                ty,
            });
        }
        Ok(())
    }

    /// Checks `index < max_entries` for array-like maps.
    pub(crate) fn check_index(&self, index: u32) -> Result<(), MapError> {
        if index >= self.max_entries() {
            return Err(MapError::OutOfBounds {
                name: self.name.clone(),
                index,
                max_entries: self.max_entries(),
            });
        }
        Ok(())
    }
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Iterator over a map's keys as bytes, by `BPF_MAP_GET_NEXT_KEY`.
///
/// When the key the iteration stands on is deleted (by this process, another one, or a
/// BPF program), the kernel answers `GET_NEXT_KEY` with the *first* key of the map. This
/// iterator remembers the keys it has yielded and skips them when that happens, so every
/// key present for the whole iteration is yielded exactly once and deleting the current
/// key inside the loop (the usual "drain" pattern) works. The price is memory for the
/// keys seen so far.
pub struct RawKeys<'a> {
    map: &'a Map,
    prev: Option<Vec<u8>>,
    seen: HashSet<Box<[u8]>>,
    done: bool,
    // A bound on kernel calls, in case the map is rewritten faster than we walk it.
    budget: u64,
}

impl<'a> RawKeys<'a> {
    fn new(map: &'a Map) -> Self {
        let n = map.max_entries() as u64 + 1;
        RawKeys {
            map,
            prev: None,
            seen: HashSet::new(),
            done: false,
            budget: n.saturating_mul(n).saturating_add(16).min(1 << 32),
        }
    }
}

impl Iterator for RawKeys<'_> {
    type Item = Result<Vec<u8>, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut next = vec![0u8; self.map.key_size()];
        loop {
            if self.budget == 0 {
                self.done = true;
                return None;
            }
            self.budget -= 1;
            match corebpf_sys::map_get_next_key(self.map.map_fd(), self.prev.as_deref(), &mut next)
            {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(self.map.err(e)));
                }
            }
            self.prev = Some(next.clone());
            if self.seen.insert(next.clone().into_boxed_slice()) {
                return Some(Ok(next));
            }
        }
    }
}

/// Iterator over a map's keys as `K`; see [`RawKeys`].
pub struct Keys<'a, K> {
    inner: RawKeys<'a>,
    _k: std::marker::PhantomData<K>,
}

impl<'a, K: Pod> Keys<'a, K> {
    pub(crate) fn new(map: &'a Map) -> Self {
        Keys {
            inner: RawKeys::new(map),
            _k: std::marker::PhantomData,
        }
    }
}

impl<K: Pod> Iterator for Keys<'_, K> {
    type Item = Result<K, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.inner.next()?.map(|k| from_bytes(&k)))
    }
}

/// Defines a typed handle `$name<generics.., M = Map>` over a `Borrow<Map>`, with
/// `new` (checking via `$check`), `map()`, `into_inner()`, `Map::$as_fn` /
/// `Map::$into_fn` and `TryFrom<Map>` / `TryFrom<&Map>`.
macro_rules! typed_map {
    (
        $(#[$meta:meta])*
        $name:ident [$($gp:ident),*], $as_fn:ident, $into_fn:ident, $check:ident
    ) => {
        $(#[$meta])*
        pub struct $name<$($gp,)* M = $crate::map::Map> {
            map: M,
            _t: ::std::marker::PhantomData<fn() -> ($($gp,)*)>,
        }

        impl<$($gp: $crate::map::Pod,)* M: ::std::borrow::Borrow<$crate::map::Map>> $name<$($gp,)* M> {
            #[doc = concat!("Wraps `map` as a `", stringify!($name),
                "`, checking the map type and the key/value sizes.")]
            pub fn new(map: M) -> Result<Self, $crate::map::MapError> {
                $check::<$($gp,)*>(map.borrow())?;
                Ok(Self { map, _t: ::std::marker::PhantomData })
            }

            /// The untyped map.
            pub fn map(&self) -> &$crate::map::Map {
                self.map.borrow()
            }

            /// Gives the map back.
            pub fn into_inner(self) -> M {
                self.map
            }
        }

        impl $crate::map::Map {
            #[doc = concat!("Borrows this map as a [`", stringify!($name),
                "`], checking the map type and the key/value sizes.")]
            pub fn $as_fn<$($gp: $crate::map::Pod),*>(
                &self,
            ) -> Result<$name<$($gp,)* &$crate::map::Map>, $crate::map::MapError> {
                $name::new(self)
            }

            #[doc = concat!("Turns this map into a [`", stringify!($name),
                "`], checking the map type and the key/value sizes.")]
            pub fn $into_fn<$($gp: $crate::map::Pod),*>(
                self,
            ) -> Result<$name<$($gp,)* $crate::map::Map>, $crate::map::MapError> {
                $name::new(self)
            }
        }

        impl<$($gp: $crate::map::Pod),*> TryFrom<$crate::map::Map> for $name<$($gp,)* $crate::map::Map> {
            type Error = $crate::map::MapError;
            fn try_from(map: $crate::map::Map) -> Result<Self, Self::Error> {
                Self::new(map)
            }
        }

        impl<'a, $($gp: $crate::map::Pod),*> TryFrom<&'a $crate::map::Map> for $name<$($gp,)* &'a $crate::map::Map> {
            type Error = $crate::map::MapError;
            fn try_from(map: &'a $crate::map::Map) -> Result<Self, Self::Error> {
                Self::new(map)
            }
        }

        impl<$($gp,)* M: ::std::borrow::Borrow<$crate::map::Map>> ::std::fmt::Debug for $name<$($gp,)* M> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(self.map.borrow()).finish()
            }
        }

        impl<$($gp,)* M: ::std::borrow::Borrow<$crate::map::Map>> ::std::os::fd::AsFd for $name<$($gp,)* M> {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(self.map.borrow())
            }
        }
    };
}
pub(crate) use typed_map;
