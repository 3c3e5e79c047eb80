//! XDP redirect maps: [`DevMap`] (`BPF_MAP_TYPE_DEVMAP`), [`CpuMap`]
//! (`BPF_MAP_TYPE_CPUMAP`) and [`XskMap`] (`BPF_MAP_TYPE_XSKMAP`).

use std::borrow::Borrow;
use std::os::fd::{AsRawFd, BorrowedFd};

use corebpf_sys::MapType;

use super::{typed_map, Map, MapError};

fn check_u32_key_value(
    map: &Map,
    t: MapType,
    handle: &'static str,
    sizes: &[usize],
) -> Result<(), MapError> {
    map.check_type(&[t], handle)?;
    map.check_key_size(4, "u32")?;
    if !sizes.contains(&map.value_size()) {
        return Err(MapError::ValueSize {
            name: map.name().to_string(),
            map: map.value_size(),
            rust: sizes[0],
            ty: "the kernel's value struct",
        });
    }
    Ok(())
}

fn check_devmap(map: &Map) -> Result<(), MapError> {
    check_u32_key_value(map, MapType::Devmap, "DevMap", &[4, 8])
}

fn check_cpumap(map: &Map) -> Result<(), MapError> {
    check_u32_key_value(map, MapType::Cpumap, "CpuMap", &[4, 8])
}

fn check_xskmap(map: &Map) -> Result<(), MapError> {
    check_u32_key_value(map, MapType::Xskmap, "XskMap", &[4])
}

typed_map! {
    /// A `BPF_MAP_TYPE_DEVMAP`: slot `i` names a network device for `bpf_redirect_map`,
    /// optionally with an XDP program (`BPF_XDP_DEVMAP`) run before transmission (maps
    /// with 8-byte values, `struct bpf_devmap_val`).
    DevMap[], as_dev_map, into_dev_map, check_devmap
}

typed_map! {
    /// A `BPF_MAP_TYPE_CPUMAP`: slot `i` is a CPU with a queue size, optionally with an
    /// XDP program (`BPF_XDP_CPUMAP`) run there (maps with 8-byte values,
    /// `struct bpf_cpumap_val`).
    CpuMap[], as_cpu_map, into_cpu_map, check_cpumap
}

typed_map! {
    /// A `BPF_MAP_TYPE_XSKMAP`: slot `i` holds an AF_XDP socket.
    XskMap[], as_xsk_map, into_xsk_map, check_xskmap
}

/// A device map entry as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevMapValue {
    /// The device's ifindex.
    pub ifindex: u32,
    /// The id of the attached program, if any (8-byte-value maps only).
    pub prog_id: Option<u32>,
}

/// A CPU map entry as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMapValue {
    /// The queue size.
    pub queue_size: u32,
    /// The id of the attached program, if any (8-byte-value maps only).
    pub prog_id: Option<u32>,
}

/// Encodes `{u32, prog fd}` in the map's value width.
fn value(map: &Map, first: u32, prog: Option<BorrowedFd<'_>>) -> Result<Vec<u8>, MapError> {
    let mut v = first.to_ne_bytes().to_vec();
    match (map.value_size(), prog) {
        (8, p) => v.extend_from_slice(&p.map_or(0, |p| p.as_raw_fd() as u32).to_ne_bytes()),
        (_, Some(_)) => {
            return Err(MapError::invalid(
                map.name(),
                "attaching a program needs a map with 8-byte values",
            ))
        }
        _ => {}
    }
    Ok(v)
}

fn decode(b: &[u8]) -> (u32, Option<u32>) {
    let first = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let prog = (b.len() >= 8)
        .then(|| u32::from_ne_bytes([b[4], b[5], b[6], b[7]]))
        .filter(|&id| id != 0);
    (first, prog)
}

impl<M: Borrow<Map>> DevMap<M> {
    /// Points slot `index` at device `ifindex`, with an optional `BPF_XDP_DEVMAP` program.
    pub fn set(
        &self,
        index: u32,
        ifindex: u32,
        prog: Option<BorrowedFd<'_>>,
        flags: u64,
    ) -> Result<(), MapError> {
        self.map().check_index(index)?;
        let v = value(self.map(), ifindex, prog)?;
        self.map().update(&index.to_ne_bytes(), &v, flags)
    }

    /// The entry at `index`, or `None` if empty.
    pub fn get(&self, index: u32) -> Result<Option<DevMapValue>, MapError> {
        self.map().check_index(index)?;
        Ok(self.map().lookup(&index.to_ne_bytes(), 0)?.map(|b| {
            let (ifindex, prog_id) = decode(&b);
            DevMapValue { ifindex, prog_id }
        }))
    }

    /// Empties slot `index`; `Ok(false)` if it was empty.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().check_index(index)?;
        self.map().delete(&index.to_ne_bytes())
    }
}

impl<M: Borrow<Map>> CpuMap<M> {
    /// Enables CPU `cpu` with a queue of `queue_size` frames and an optional
    /// `BPF_XDP_CPUMAP` program.
    pub fn set(
        &self,
        cpu: u32,
        queue_size: u32,
        prog: Option<BorrowedFd<'_>>,
        flags: u64,
    ) -> Result<(), MapError> {
        self.map().check_index(cpu)?;
        let v = value(self.map(), queue_size, prog)?;
        self.map().update(&cpu.to_ne_bytes(), &v, flags)
    }

    /// The entry of CPU `cpu`, or `None` if disabled.
    pub fn get(&self, cpu: u32) -> Result<Option<CpuMapValue>, MapError> {
        self.map().check_index(cpu)?;
        Ok(self.map().lookup(&cpu.to_ne_bytes(), 0)?.map(|b| {
            let (queue_size, prog_id) = decode(&b);
            CpuMapValue {
                queue_size,
                prog_id,
            }
        }))
    }

    /// Disables CPU `cpu`; `Ok(false)` if it was disabled.
    pub fn clear(&self, cpu: u32) -> Result<bool, MapError> {
        self.map().check_index(cpu)?;
        self.map().delete(&cpu.to_ne_bytes())
    }
}

impl<M: Borrow<Map>> XskMap<M> {
    /// Stores the AF_XDP socket `xsk` at `index`.
    pub fn set(&self, index: u32, xsk: BorrowedFd<'_>, flags: u64) -> Result<(), MapError> {
        self.map().check_index(index)?;
        let fd = xsk.as_raw_fd() as u32;
        self.map()
            .update(&index.to_ne_bytes(), &fd.to_ne_bytes(), flags)
    }

    /// Removes the socket at `index`; `Ok(false)` if empty.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().check_index(index)?;
        self.map().delete(&index.to_ne_bytes())
    }
}
