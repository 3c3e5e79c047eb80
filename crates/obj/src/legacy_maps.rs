//! Legacy map definitions in `SEC("maps")`, as libbpf < 1.0, iproute2 and cilium/ebpf read
//! them: libbpf's `struct bpf_map_def` (type, key_size, value_size, max_entries, map_flags),
//! optionally followed by the fields of iproute2's `struct bpf_elf_map` (id, pinning,
//! inner_id, inner_idx). Each definition is its symbol's bytes (`st_size`); objects whose
//! symbols have no size get libbpf's rule, the section size divided by the number of maps.
//!
//! iproute2's fields, where libbpf < 1.0 refused non-zero bytes past `bpf_map_def`:
//! - `pinning`: `PIN_OBJECT_NS` (1) and `PIN_GLOBAL_NS` (2) pin the map by name under the
//!   loader's pin root (tc's `/sys/fs/bpf/tc/globals` for `PIN_GLOBAL_NS` is one such
//!   root); other values (tc's custom pinning table) are refused, naming the map.
//! - `id`, `inner_id`, `inner_idx`: map-in-map. A map of maps whose `inner_id` is X takes the
//!   map whose `id` is X as its inner template, and that map is put in slot `inner_idx` of
//!   every map of maps naming it (`inner_idx` `-1`: in none).

use corebpf_abi::MapType;

use crate::elf::{Elf, Section, Symbol, STT_SECTION};
use crate::error::{ObjError, Result};
use crate::maps::{InitSlot, MapKind, MapSpec, Pinning, SlotTarget};

/// `sizeof(struct bpf_elf_map)`: `struct bpf_map_def` (20 bytes: type, key_size,
/// value_size, max_entries, map_flags), then id, pinning, inner_id, inner_idx.
const ELF_MAP_SIZE: usize = 36;
/// iproute2's `PIN_NONE`.
const PIN_NONE: u32 = 0;
/// iproute2's `PIN_OBJECT_NS`: pinned in a directory of the object's own.
const PIN_OBJECT_NS: u32 = 1;
/// iproute2's `PIN_GLOBAL_NS`: pinned in tc's shared `globals` directory.
const PIN_GLOBAL_NS: u32 = 2;
/// `inner_idx` of a map that goes into no slot.
const NO_SLOT: u32 = u32::MAX;

/// One definition: the map, and iproute2's map-in-map fields.
struct LegacyDef {
    spec: MapSpec,
    id: u32,
    inner_id: u32,
    inner_idx: u32,
}

/// Parses the legacy `maps` section, appending its maps to `maps`.
pub(crate) fn legacy_maps(elf: &Elf<'_>, sec: &Section<'_>, maps: &mut Vec<MapSpec>) -> Result<()> {
    let data = sec.data()?;
    let mut syms: Vec<_> = elf
        .symbols
        .iter()
        .filter(|s| s.shndx == Some(sec.index) && s.st_type != STT_SECTION && !s.name.is_empty())
        .collect();
    syms.sort_by_key(|s| s.value);
    let sizes = record_sizes(sec, data, &syms)?;
    let mut defs = Vec::with_capacity(syms.len());
    for (sym, size) in syms.into_iter().zip(sizes) {
        defs.push(parse_def(sec, data, sym, size)?);
    }
    link_inner_maps(sec, &mut defs, maps.len())?;
    maps.extend(defs.into_iter().map(|d| d.spec));
    Ok(())
}

/// The size of each symbol's definition: its `st_size`, or, if some symbol has none (old
/// compilers), the section split evenly (libbpf's rule).
fn record_sizes(sec: &Section<'_>, data: &[u8], syms: &[&Symbol]) -> Result<Vec<usize>> {
    if !syms.is_empty() && syms.iter().all(|s| s.size != 0) {
        return Ok(syms
            .iter()
            .map(|s| usize::try_from(s.size).unwrap_or(usize::MAX))
            .collect());
    }
    if syms.is_empty() || data.is_empty() || data.len() % syms.len() != 0 {
        return Err(ObjError::Section {
            section: sec.name.clone(),
            reason: format!(
                "unable to determine map definition size: section {} bytes, {} map symbols",
                data.len(),
                syms.len()
            ),
        });
    }
    Ok(vec![data.len() / syms.len(); syms.len()])
}

/// The map symbol `sym` defines in its `size` bytes of the section.
fn parse_def(sec: &Section<'_>, data: &[u8], sym: &Symbol, size: usize) -> Result<LegacyDef> {
    let err = |reason: String| ObjError::Map {
        map: sym.name.clone(),
        section: sec.name.clone(),
        reason,
    };
    let start = usize::try_from(sym.value).unwrap_or(usize::MAX);
    let rec = start
        .checked_add(size)
        .and_then(|end| data.get(start..end))
        .ok_or_else(|| {
            err(format!(
                "definition at offset {start} is outside the section"
            ))
        })?;
    if rec.len() > ELF_MAP_SIZE && rec[ELF_MAP_SIZE..].iter().any(|&b| b != 0) {
        return Err(err(format!(
            "unrecognized non-zero bytes past the {ELF_MAP_SIZE}-byte struct bpf_elf_map"
        )));
    }
    // Shorter definitions (before map_flags existed) read as zero-extended.
    let mut def = [0u8; ELF_MAP_SIZE];
    let n = rec.len().min(ELF_MAP_SIZE);
    def[..n].copy_from_slice(&rec[..n]);
    let word =
        |i: usize| u32::from_le_bytes([def[i * 4], def[i * 4 + 1], def[i * 4 + 2], def[i * 4 + 3]]);
    let mut m = MapSpec::new(
        sym.name.clone(),
        sec.name.clone(),
        sec.index,
        MapKind::Legacy,
    );
    m.sec_offset = sym.value;
    m.map_type = MapType::try_from(word(0))
        .ok()
        .filter(|t| *t != MapType::Unspec)
        .ok_or_else(|| err(format!("invalid map type {}", word(0))))?;
    m.key_size = word(1);
    m.value_size = word(2);
    m.max_entries = word(3);
    m.map_flags = word(4);
    m.pinning = match word(6) {
        PIN_NONE => Pinning::None,
        PIN_OBJECT_NS | PIN_GLOBAL_NS => Pinning::ByName,
        p => {
            return Err(err(format!(
                "pinning {p} (iproute2's custom pinning table) is not supported: \
                 PIN_NONE (0), PIN_OBJECT_NS (1) and PIN_GLOBAL_NS (2) are"
            )))
        }
    };
    log::debug!(
        "map '{}' (legacy): at sec_idx {}, offset {}: type {}, key_size {}, value_size {}, max_entries {}",
        m.name,
        sec.index,
        m.sec_offset,
        m.map_type,
        m.key_size,
        m.value_size,
        m.max_entries
    );
    Ok(LegacyDef {
        spec: m,
        id: word(5),
        inner_id: word(7),
        inner_idx: if n > 8 * 4 { word(8) } else { NO_SLOT },
    })
}

/// iproute2's map-in-map: each map of maps with an `inner_id` gets the map of that `id` as
/// its inner template, and every map with an `id` goes into slot `inner_idx` of the maps of
/// maps naming it. `base` is the index the first definition will have in the object's maps.
fn link_inner_maps(sec: &Section<'_>, defs: &mut [LegacyDef], base: usize) -> Result<()> {
    for outer in 0..defs.len() {
        let inner_id = defs[outer].inner_id;
        if inner_id == 0 {
            continue;
        }
        if !matches!(
            defs[outer].spec.map_type,
            MapType::ArrayOfMaps | MapType::HashOfMaps
        ) {
            log::warn!(
                "map '{}': inner_id {inner_id} ignored: not a map of maps",
                defs[outer].spec.name
            );
            continue;
        }
        let Some(template) = defs.iter().position(|d| d.id == inner_id) else {
            return Err(ObjError::Map {
                map: defs[outer].spec.name.clone(),
                section: sec.name.clone(),
                reason: format!("inner_id {inner_id} names no map (no map has that id)"),
            });
        };
        defs[outer].spec.inner = Some(Box::new(defs[template].spec.clone()));
        let slots = (0..defs.len()).filter(|&i| {
            defs[i].id == inner_id && defs[i].inner_id == 0 && defs[i].inner_idx != NO_SLOT
        });
        let slots: Vec<InitSlot> = slots
            .map(|i| InitSlot {
                index: defs[i].inner_idx,
                target: SlotTarget::Map(base + i),
            })
            .collect();
        defs[outer].spec.init_slots.extend(slots);
    }
    Ok(())
}
