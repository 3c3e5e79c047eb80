//! Map commands: `BPF_MAP_CREATE`, element lookup/update/delete/iteration, batch
//! operations and `BPF_MAP_FREEZE`.
//!
//! Element operations take a [`MapFd`]: an owned map fd together with the key and value
//! sizes the kernel reported for it, so that every buffer handed to the kernel is
//! checked to be exactly as large as the kernel will read or write.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::attr;
use crate::consts::{Cmd, MapType, BPF_F_NUMA_NODE, BPF_F_TOKEN_FD, BPF_F_VTYPE_BTF_OBJ_FD};
use crate::error::SysError;
use crate::info::{map_info, BpfMapInfo};
use crate::sys::{mut_ptr_of, obj_name, possible_cpus, ptr_of, sys_bpf, sys_bpf_fd};

/// What to create with `BPF_MAP_CREATE`. Unset fields are zero/absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapCreateAttr<'a> {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries (bytes for ring buffers, pages for arenas).
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub map_flags: u32,
    /// Object name; truncated to 15 bytes, invalid characters become `_`.
    pub name: &'a str,
    /// Inner map template for map-in-map types.
    pub inner_map_fd: Option<BorrowedFd<'a>>,
    /// NUMA node; sets `BPF_F_NUMA_NODE`.
    pub numa_node: Option<u32>,
    /// Offload device.
    pub map_ifindex: u32,
    /// BTF object describing key and value.
    pub btf_fd: Option<BorrowedFd<'a>>,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// BTF type id of a kernel struct value (struct_ops maps).
    pub btf_vmlinux_value_type_id: u32,
    /// Module BTF holding `btf_vmlinux_value_type_id`; sets `BPF_F_VTYPE_BTF_OBJ_FD`.
    pub value_type_btf_obj_fd: Option<BorrowedFd<'a>>,
    /// Per-type extra (bloom filter hash count, arena address).
    pub map_extra: u64,
    /// BPF token to create the map with; sets `BPF_F_TOKEN_FD` (Linux 6.9).
    pub token: Option<BorrowedFd<'a>>,
}

/// `BPF_MAP_CREATE`.
pub fn map_create(spec: &MapCreateAttr<'_>) -> Result<OwnedFd, SysError> {
    let mut flags = spec.map_flags;
    if spec.numa_node.is_some() {
        flags |= BPF_F_NUMA_NODE;
    }
    if spec.value_type_btf_obj_fd.is_some() {
        flags |= BPF_F_VTYPE_BTF_OBJ_FD;
    }
    if spec.token.is_some() {
        flags |= BPF_F_TOKEN_FD;
    }
    let mut a = attr::MapCreateAttr {
        map_type: spec.map_type.as_u32(),
        key_size: spec.key_size,
        value_size: spec.value_size,
        max_entries: spec.max_entries,
        map_flags: flags,
        inner_map_fd: fd_u32(spec.inner_map_fd),
        numa_node: spec.numa_node.unwrap_or(0),
        map_name: obj_name(spec.name),
        map_ifindex: spec.map_ifindex,
        btf_fd: fd_u32(spec.btf_fd),
        btf_key_type_id: spec.btf_key_type_id,
        btf_value_type_id: spec.btf_value_type_id,
        btf_vmlinux_value_type_id: spec.btf_vmlinux_value_type_id,
        map_extra: spec.map_extra,
        value_type_btf_obj_fd: spec.value_type_btf_obj_fd.map_or(0, |f| f.as_raw_fd()),
        map_token_fd: spec.token.map_or(0, |f| f.as_raw_fd()),
    };
    // SAFETY: the attr holds no pointers.
    unsafe { sys_bpf_fd(Cmd::MapCreate, &mut a) }.map_err(|e| {
        crate::token::refused(e, spec.token, Cmd::MapCreate, Some(spec.map_type), None)
    })
}

/// An optional borrowed fd as the kernel's `u32` field (0 when absent).
pub(crate) fn fd_u32(fd: Option<BorrowedFd<'_>>) -> u32 {
    fd.map_or(0, |f| f.as_raw_fd() as u32)
}

/// An owned map fd with the geometry the kernel reported for it.
#[derive(Debug)]
pub struct MapFd {
    fd: OwnedFd,
    info: BpfMapInfo,
    value_buf_size: usize,
}

impl MapFd {
    /// Wraps a map fd, asking the kernel (`BPF_OBJ_GET_INFO_BY_FD`) for its sizes.
    pub fn new(fd: OwnedFd) -> Result<Self, SysError> {
        let info = map_info(fd.as_fd())?;
        let per_slot = info.value_size as usize;
        let value_buf_size = match MapType::try_from(info.type_) {
            Ok(t) if t.is_percpu() => per_slot.div_ceil(8) * 8 * possible_cpus()?,
            _ => per_slot,
        };
        Ok(MapFd {
            fd,
            info,
            value_buf_size,
        })
    }

    /// A second handle on the same map: the fd duplicated (`F_DUPFD_CLOEXEC`), the info
    /// copied, so no `bpf(2)` call is made.
    pub fn try_clone(&self) -> std::io::Result<Self> {
        Ok(MapFd {
            fd: self.fd.try_clone()?,
            info: self.info,
            value_buf_size: self.value_buf_size,
        })
    }

    /// `BPF_MAP_CREATE`, then [`MapFd::new`].
    pub fn create(spec: &MapCreateAttr<'_>) -> Result<Self, SysError> {
        Self::new(map_create(spec)?)
    }

    /// The kernel's info for this map, as read when it was wrapped.
    pub fn info(&self) -> &BpfMapInfo {
        &self.info
    }

    /// The map type, if this crate knows it.
    pub fn map_type(&self) -> Option<MapType> {
        self.info.map_type()
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> usize {
        self.info.key_size as usize
    }

    /// Value size in bytes, as declared.
    pub fn value_size(&self) -> usize {
        self.info.value_size as usize
    }

    /// Size of the value buffer user space passes: the value size, or for per-CPU maps
    /// the value size rounded up to 8 times the number of possible CPUs.
    pub fn value_buf_size(&self) -> usize {
        self.value_buf_size
    }

    /// Size of the opaque batch position buffer for the batch operations.
    pub fn batch_token_size(&self) -> usize {
        self.key_size().max(8)
    }

    /// Maximum number of entries.
    pub fn max_entries(&self) -> u32 {
        self.info.max_entries
    }

    /// Gives the fd back.
    pub fn into_owned_fd(self) -> OwnedFd {
        self.fd
    }

    fn check_key(&self, cmd: Cmd, key: &[u8]) -> Result<u64, SysError> {
        if key.len() != self.key_size() {
            return Err(SysError::invalid(
                cmd.kernel_name(),
                format!(
                    "key is {} bytes, the map's key size is {}",
                    key.len(),
                    self.key_size()
                ),
            ));
        }
        Ok(ptr_of(key))
    }

    fn check_value(&self, cmd: Cmd, len: usize) -> Result<(), SysError> {
        if len != self.value_buf_size {
            return Err(SysError::invalid(
                cmd.kernel_name(),
                format!(
                    "value buffer is {len} bytes, the map needs {}",
                    self.value_buf_size
                ),
            ));
        }
        Ok(())
    }
}

impl AsFd for MapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Runs an element command; maps `ENOENT` to `Ok(false)`.
fn elem_cmd(cmd: Cmd, a: &mut attr::MapElemAttr) -> Result<bool, SysError> {
    // SAFETY: callers checked that `key`/`value` point to buffers of exactly the sizes
    // the kernel reads or writes for this map.
    match unsafe { sys_bpf(cmd, a) } {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// `BPF_MAP_LOOKUP_ELEM`: copies the value of `key` into `value`; `Ok(false)` if absent.
pub fn map_lookup_elem(
    map: &MapFd,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> Result<bool, SysError> {
    read_elem(Cmd::MapLookupElem, map, key, value, flags)
}

/// A command that reads one element's value into `value` (lookup, lookup-and-delete),
/// after checking both buffers against the map's sizes.
fn read_elem(
    cmd: Cmd,
    map: &MapFd,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> Result<bool, SysError> {
    let key = map.check_key(cmd, key)?;
    map.check_value(cmd, value.len())?;
    let mut a = attr::MapElemAttr {
        map_fd: map.as_fd().as_raw_fd() as u32,
        key,
        value: mut_ptr_of(value),
        flags,
        ..Default::default()
    };
    elem_cmd(cmd, &mut a)
}

/// `BPF_MAP_UPDATE_ELEM` with `BPF_ANY`/`BPF_NOEXIST`/`BPF_EXIST` (and `BPF_F_LOCK`).
pub fn map_update_elem(map: &MapFd, key: &[u8], value: &[u8], flags: u64) -> Result<(), SysError> {
    let cmd = Cmd::MapUpdateElem;
    let key = map.check_key(cmd, key)?;
    map.check_value(cmd, value.len())?;
    let mut a = attr::MapElemAttr {
        map_fd: map.as_fd().as_raw_fd() as u32,
        key,
        value: ptr_of(value),
        flags,
        ..Default::default()
    };
    // SAFETY: key and value have exactly the sizes the kernel reads.
    unsafe { sys_bpf(cmd, &mut a) }.map(|_| ())
}

/// `BPF_MAP_DELETE_ELEM`; `Ok(false)` if the key was absent.
pub fn map_delete_elem(map: &MapFd, key: &[u8]) -> Result<bool, SysError> {
    let cmd = Cmd::MapDeleteElem;
    let key = map.check_key(cmd, key)?;
    let mut a = attr::MapElemAttr {
        map_fd: map.as_fd().as_raw_fd() as u32,
        key,
        ..Default::default()
    };
    elem_cmd(cmd, &mut a)
}

/// `BPF_MAP_GET_NEXT_KEY`: writes the key after `key` (the first key when `None`) into
/// `next_key`; `Ok(false)` at the end.
pub fn map_get_next_key(
    map: &MapFd,
    key: Option<&[u8]>,
    next_key: &mut [u8],
) -> Result<bool, SysError> {
    let cmd = Cmd::MapGetNextKey;
    let key = match key {
        Some(k) => map.check_key(cmd, k)?,
        None => 0,
    };
    if next_key.len() != map.key_size() {
        return Err(SysError::invalid(
            cmd.kernel_name(),
            format!(
                "next_key is {} bytes, the map's key size is {}",
                next_key.len(),
                map.key_size()
            ),
        ));
    }
    let mut a = attr::MapElemAttr {
        map_fd: map.as_fd().as_raw_fd() as u32,
        key,
        value: mut_ptr_of(next_key),
        ..Default::default()
    };
    elem_cmd(cmd, &mut a)
}

/// All keys of a map, by repeated `BPF_MAP_GET_NEXT_KEY`.
pub fn map_keys(map: &MapFd) -> Result<Vec<Vec<u8>>, SysError> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut next = vec![0u8; map.key_size()];
    loop {
        let found = map_get_next_key(map, keys.last().map(|k| k.as_slice()), &mut next)?;
        if !found {
            return Ok(keys);
        }
        keys.push(next.clone());
        if keys.len() > map.max_entries() as usize + 1 {
            // The map changed under us in a loop; stop rather than spin forever.
            return Ok(keys);
        }
    }
}

/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` (pop for queues/stacks, whose key is empty);
/// `Ok(false)` if absent.
pub fn map_lookup_and_delete_elem(
    map: &MapFd,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> Result<bool, SysError> {
    read_elem(Cmd::MapLookupAndDeleteElem, map, key, value, flags)
}

/// `BPF_MAP_FREEZE`: makes the map read-only for user space.
pub fn map_freeze(fd: BorrowedFd<'_>) -> Result<(), SysError> {
    let mut a = attr::MapElemAttr {
        map_fd: fd.as_raw_fd() as u32,
        ..Default::default()
    };
    // SAFETY: no pointers.
    unsafe { sys_bpf(Cmd::MapFreeze, &mut a) }.map(|_| ())
}

/// Result of a lookup batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Number of elements copied out.
    pub count: u32,
    /// True when the end of the map was reached.
    pub done: bool,
}

/// Checks batch buffers and returns the element count they hold.
fn batch_count(map: &MapFd, cmd: Cmd, keys: usize, values: Option<usize>) -> Result<u32, SysError> {
    let ks = map.key_size();
    if ks == 0 {
        return Err(SysError::invalid(
            cmd.kernel_name(),
            "batch operations need a map with keys",
        ));
    }
    if keys % ks != 0 {
        return Err(SysError::invalid(
            cmd.kernel_name(),
            format!("keys buffer ({keys} bytes) is not a multiple of the key size {ks}"),
        ));
    }
    let n = keys / ks;
    if let Some(values) = values {
        if values != n * map.value_buf_size() {
            return Err(SysError::invalid(
                cmd.kernel_name(),
                format!(
                    "values buffer is {values} bytes, {n} elements need {}",
                    n * map.value_buf_size()
                ),
            ));
        }
    }
    u32::try_from(n).map_err(|_| SysError::invalid(cmd.kernel_name(), "too many elements"))
}

fn check_token(map: &MapFd, cmd: Cmd, len: usize) -> Result<(), SysError> {
    if len < map.batch_token_size() {
        return Err(SysError::invalid(
            cmd.kernel_name(),
            format!(
                "batch position buffer is {len} bytes, needs {}",
                map.batch_token_size()
            ),
        ));
    }
    Ok(())
}

fn lookup_batch_impl(
    cmd: Cmd,
    map: &MapFd,
    in_batch: Option<&[u8]>,
    out_batch: &mut [u8],
    keys: &mut [u8],
    values: &mut [u8],
    elem_flags: u64,
) -> Result<BatchOutcome, SysError> {
    let count = batch_count(map, cmd, keys.len(), Some(values.len()))?;
    if let Some(b) = in_batch {
        check_token(map, cmd, b.len())?;
    }
    check_token(map, cmd, out_batch.len())?;
    let mut a = attr::MapBatchAttr {
        in_batch: in_batch.map_or(0, ptr_of),
        out_batch: mut_ptr_of(out_batch),
        keys: mut_ptr_of(keys),
        values: mut_ptr_of(values),
        count,
        map_fd: map.as_fd().as_raw_fd() as u32,
        elem_flags,
        flags: 0,
    };
    // SAFETY: keys/values hold `count` elements of the map's sizes, the batch buffers are
    // at least as large as the kernel's batch position.
    match unsafe { sys_bpf(cmd, &mut a) } {
        Ok(_) => Ok(BatchOutcome {
            count: a.count,
            done: false,
        }),
        Err(e) if e.is_not_found() => Ok(BatchOutcome {
            count: a.count,
            done: true,
        }),
        Err(e) => Err(e),
    }
}

/// `BPF_MAP_LOOKUP_BATCH`: copies up to `keys.len() / key_size` elements starting at
/// `in_batch` (the beginning when `None`) and writes the next position to `out_batch`
/// (at least [`MapFd::batch_token_size`] bytes), to pass as `in_batch` next time.
pub fn map_lookup_batch(
    map: &MapFd,
    in_batch: Option<&[u8]>,
    out_batch: &mut [u8],
    keys: &mut [u8],
    values: &mut [u8],
    elem_flags: u64,
) -> Result<BatchOutcome, SysError> {
    lookup_batch_impl(
        Cmd::MapLookupBatch,
        map,
        in_batch,
        out_batch,
        keys,
        values,
        elem_flags,
    )
}

/// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`: like [`map_lookup_batch`], deleting what it returns.
pub fn map_lookup_and_delete_batch(
    map: &MapFd,
    in_batch: Option<&[u8]>,
    out_batch: &mut [u8],
    keys: &mut [u8],
    values: &mut [u8],
    elem_flags: u64,
) -> Result<BatchOutcome, SysError> {
    lookup_batch_impl(
        Cmd::MapLookupAndDeleteBatch,
        map,
        in_batch,
        out_batch,
        keys,
        values,
        elem_flags,
    )
}

/// `BPF_MAP_UPDATE_BATCH`: updates `keys.len() / key_size` elements; returns how many.
pub fn map_update_batch(
    map: &MapFd,
    keys: &[u8],
    values: &[u8],
    elem_flags: u64,
) -> Result<u32, SysError> {
    let cmd = Cmd::MapUpdateBatch;
    let count = batch_count(map, cmd, keys.len(), Some(values.len()))?;
    let mut a = attr::MapBatchAttr {
        keys: ptr_of(keys),
        values: ptr_of(values),
        count,
        map_fd: map.as_fd().as_raw_fd() as u32,
        elem_flags,
        ..Default::default()
    };
    // SAFETY: keys/values hold `count` elements of the map's sizes.
    unsafe { sys_bpf(cmd, &mut a) }?;
    Ok(a.count)
}

/// `BPF_MAP_DELETE_BATCH`: deletes `keys.len() / key_size` keys; returns how many.
pub fn map_delete_batch(map: &MapFd, keys: &[u8], elem_flags: u64) -> Result<u32, SysError> {
    let cmd = Cmd::MapDeleteBatch;
    let count = batch_count(map, cmd, keys.len(), None)?;
    let mut a = attr::MapBatchAttr {
        keys: ptr_of(keys),
        count,
        map_fd: map.as_fd().as_raw_fd() as u32,
        elem_flags,
        ..Default::default()
    };
    // SAFETY: keys hold `count` keys of the map's key size.
    unsafe { sys_bpf(cmd, &mut a) }?;
    Ok(a.count)
}
