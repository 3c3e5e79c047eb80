//! Legacy map definitions: `struct bpf_map_def` records in `SEC("maps")`, as libbpf < 1.0
//! read them. The record size is the section size divided by the number of map symbols, so
//! objects with larger, extended records still parse (extra bytes must be zero).

use corebpf_abi::MapType;

use crate::elf::{Elf, Section, STT_SECTION};
use crate::error::{ObjError, Result};
use crate::maps::{MapKind, MapSpec};

/// `sizeof(struct bpf_map_def)`: type, key_size, value_size, max_entries, map_flags.
const MAP_DEF_SIZE: usize = 20;

/// Parses the legacy `maps` section.
pub(crate) fn legacy_maps(elf: &Elf<'_>, sec: &Section<'_>, maps: &mut Vec<MapSpec>) -> Result<()> {
    let data = sec.data()?;
    let mut syms: Vec<_> = elf
        .symbols
        .iter()
        .filter(|s| s.shndx == Some(sec.index) && s.st_type != STT_SECTION && !s.name.is_empty())
        .collect();
    syms.sort_by_key(|s| s.value);
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
    let def_size = data.len() / syms.len();
    for sym in syms {
        let err = |reason: String| ObjError::Map {
            map: sym.name.clone(),
            section: sec.name.clone(),
            reason,
        };
        let start = usize::try_from(sym.value).unwrap_or(usize::MAX);
        let rec = start
            .checked_add(def_size)
            .and_then(|end| data.get(start..end))
            .ok_or_else(|| {
                err(format!(
                    "definition at offset {start} is outside the section"
                ))
            })?;
        if rec.len() > MAP_DEF_SIZE && rec[MAP_DEF_SIZE..].iter().any(|&b| b != 0) {
            return Err(err(format!(
                "unrecognized non-zero bytes past the {MAP_DEF_SIZE}-byte struct bpf_map_def"
            )));
        }
        let mut def = [0u8; MAP_DEF_SIZE];
        let n = rec.len().min(MAP_DEF_SIZE);
        def[..n].copy_from_slice(&rec[..n]);
        let word = |i: usize| {
            u32::from_le_bytes([def[i * 4], def[i * 4 + 1], def[i * 4 + 2], def[i * 4 + 3]])
        };
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
        maps.push(m);
    }
    Ok(())
}
