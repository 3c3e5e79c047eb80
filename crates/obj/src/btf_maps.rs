//! BTF-defined maps (`SEC(".maps")`): each variable of the `.maps` DATASEC is a struct whose
//! members encode the definition (`__uint(type, ...)` is `int (*type)[N]`, `__type(key, T)`
//! is `T *key`, `__array(values, T)` is `T *values[]`), as libbpf's `parse_btf_map_def`.

use corebpf_abi::MapType;
use corebpf_btf::{Btf, Kind, Type};

use crate::elf::{Elf, Section, Symbol};
use crate::error::{ObjError, Result};
use crate::maps::{InitSlot, MapKind, MapSpec, Pinning, SlotTarget};

/// Where a BTF-defined map's definition lies, for its `.values` relocations.
#[derive(Debug, Clone)]
pub(crate) struct MapDefLoc {
    /// Index into the object's maps.
    pub map: usize,
    /// Byte offset of the definition in `.maps`.
    pub sec_offset: u64,
    /// Byte size of the definition (the ELF symbol's size, which includes initial values).
    pub size: u64,
    /// Byte offset of the `values` member, if declared.
    pub values_off: Option<u64>,
}

fn map_err(map: &str, reason: impl Into<String>) -> ObjError {
    ObjError::Map {
        map: map.to_string(),
        section: ".maps".into(),
        reason: reason.into(),
    }
}

fn btf_err(map: &str, e: corebpf_btf::BtfError) -> ObjError {
    map_err(map, format!("bad BTF: {e}"))
}

/// `__uint(name, N)`: a pointer to an array of N elements.
fn field_int(btf: &Btf, map: &str, name: &str, t: u32) -> Result<u32> {
    let ptr = btf.skip_mods_and_typedefs(t).map_err(|e| btf_err(map, e))?;
    if ptr.kind() != Kind::Ptr {
        return Err(map_err(
            map,
            format!("attr '{name}': expected PTR, got {}", ptr.kind().name()),
        ));
    }
    let arr = btf
        .type_by_id(ptr.type_id().unwrap_or(0))
        .map_err(|e| btf_err(map, e))?;
    match arr.array() {
        Some(a) if arr.kind() == Kind::Array => Ok(a.nelems),
        _ => Err(map_err(
            map,
            format!("attr '{name}': expected ARRAY, got {}", arr.kind().name()),
        )),
    }
}

/// `__type(name, T)`: a pointer to T; returns (T's id, T's size).
fn field_type(btf: &Btf, map: &str, name: &str, t: u32) -> Result<(u32, u32)> {
    let ptr = btf.skip_mods_and_typedefs(t).map_err(|e| btf_err(map, e))?;
    if ptr.kind() != Kind::Ptr {
        return Err(map_err(
            map,
            format!("{name} spec is not PTR: {}", ptr.kind().name()),
        ));
    }
    let id = ptr.type_id().unwrap_or(0);
    let size = btf.size_of(id).map_err(|e| {
        map_err(
            map,
            format!("can't determine {name} size for type [{id}]: {e}"),
        )
    })?;
    Ok((id, size))
}

/// Parses one definition struct into `spec`. Returns the byte offset of `values`.
fn parse_def(btf: &Btf, def: Type<'_>, spec: &mut MapSpec, inner: bool) -> Result<Option<u64>> {
    let name = spec.name.clone();
    let map = name.as_str();
    let mut values_off = None;
    let (mut key_size, mut value_size) = (None::<u32>, None::<u32>);
    let vlen = def.vlen();
    for (i, m) in def.members().enumerate() {
        let mname = m.name();
        match mname {
            "type" => {
                let v = field_int(btf, map, mname, m.type_id)?;
                spec.map_type = MapType::try_from(v)
                    .map_err(|_| map_err(map, format!("unknown map type {v}")))?;
            }
            "max_entries" => spec.max_entries = field_int(btf, map, mname, m.type_id)?,
            "map_flags" => spec.map_flags = field_int(btf, map, mname, m.type_id)?,
            "numa_node" => spec.numa_node = field_int(btf, map, mname, m.type_id)?,
            "map_extra" => spec.map_extra = field_int(btf, map, mname, m.type_id)? as u64,
            "key_size" | "value_size" => {
                let v = field_int(btf, map, mname, m.type_id)?;
                let slot = if mname == "key_size" {
                    &mut key_size
                } else {
                    &mut value_size
                };
                if slot.is_some_and(|s| s != v) {
                    return Err(map_err(
                        map,
                        format!("conflicting {mname} {} != {v}", slot.unwrap_or(0)),
                    ));
                }
                *slot = Some(v);
            }
            "key" | "value" => {
                let (id, sz) = field_type(btf, map, mname, m.type_id)?;
                let (slot, tid) = if mname == "key" {
                    (&mut key_size, &mut spec.btf_key_type_id)
                } else {
                    (&mut value_size, &mut spec.btf_value_type_id)
                };
                if slot.is_some_and(|s| s != sz) {
                    return Err(map_err(
                        map,
                        format!("conflicting {mname} size {} != {sz}", slot.unwrap_or(0)),
                    ));
                }
                *slot = Some(sz);
                *tid = Some(id);
            }
            "values" => {
                if inner {
                    return Err(map_err(map, "multi-level inner maps are not supported"));
                }
                if i as u32 + 1 != vlen {
                    return Err(map_err(map, "'values' must be the last member"));
                }
                let arr = btf.type_by_id(m.type_id).map_err(|e| btf_err(map, e))?;
                let a = match arr.array() {
                    Some(a) if arr.kind() == Kind::Array => a,
                    _ => {
                        return Err(map_err(
                            map,
                            format!("values spec is not an array: {}", arr.kind().name()),
                        ))
                    }
                };
                if a.nelems != 0 {
                    return Err(map_err(map, "values spec must be a zero-sized array"));
                }
                let ptr = btf
                    .skip_mods_and_typedefs(a.elem_type)
                    .map_err(|e| btf_err(map, e))?;
                if ptr.kind() != Kind::Ptr {
                    return Err(map_err(map, "values element is not a pointer"));
                }
                let target = btf
                    .skip_mods_and_typedefs(ptr.type_id().unwrap_or(0))
                    .map_err(|e| btf_err(map, e))?;
                match spec.map_type {
                    MapType::ProgArray => {
                        if target.kind() != Kind::FuncProto {
                            return Err(map_err(
                                map,
                                format!(
                                    "prog-array value def is of unexpected kind {}",
                                    target.kind().name()
                                ),
                            ));
                        }
                    }
                    MapType::ArrayOfMaps | MapType::HashOfMaps => {
                        if target.kind() != Kind::Struct {
                            return Err(map_err(
                                map,
                                format!(
                                    "map-in-map inner def is of unexpected kind {}",
                                    target.kind().name()
                                ),
                            ));
                        }
                        let mut inner_spec = MapSpec::new(
                            format!("{map}.inner"),
                            spec.section.clone(),
                            spec.section_index,
                            MapKind::Btf,
                        );
                        parse_def(btf, target, &mut inner_spec, true)?;
                        check_type(&inner_spec)?;
                        spec.inner = Some(Box::new(inner_spec));
                    }
                    t => {
                        return Err(map_err(
                            map,
                            format!(
                                "'values' is only valid for prog arrays and map-in-map, not {t}"
                            ),
                        ))
                    }
                }
                // The kernel stores fds (u32) or prog ids in these maps.
                if value_size.is_some_and(|v| v != 4) {
                    return Err(map_err(map, "conflicting value size (must be 4)"));
                }
                value_size = Some(4);
                values_off = Some((m.bit_offset / 8) as u64);
            }
            "pinning" => {
                if inner {
                    return Err(map_err(map, "inner map definition can't be pinned"));
                }
                spec.pinning = match field_int(btf, map, mname, m.type_id)? {
                    0 => Pinning::None,
                    1 => Pinning::ByName,
                    v => return Err(map_err(map, format!("invalid pinning value {v}"))),
                };
            }
            other => {
                return Err(map_err(map, format!("unknown field '{other}'")));
            }
        }
    }
    spec.key_size = key_size.unwrap_or(0);
    spec.value_size = value_size.unwrap_or(0);
    Ok(values_off)
}

fn check_type(spec: &MapSpec) -> Result<()> {
    if spec.map_type == MapType::Unspec {
        return Err(map_err(
            &spec.name,
            "map type is not set (missing __uint(type, ...))",
        ));
    }
    Ok(())
}

/// Parses every map of the `.maps` section.
pub(crate) fn btf_maps(
    elf: &Elf<'_>,
    btf: Option<&Btf>,
    sec: &Section<'_>,
    maps: &mut Vec<MapSpec>,
) -> Result<Vec<MapDefLoc>> {
    let Some(btf) = btf else {
        return Err(ObjError::Section {
            section: sec.name.clone(),
            reason: "BTF-defined maps need the object's .BTF, which is missing".into(),
        });
    };
    let Some(ds) = btf.find_by_name_kind(&sec.name, Kind::Datasec) else {
        return Err(ObjError::Section {
            section: sec.name.clone(),
            reason: "no DATASEC of that name in .BTF".into(),
        });
    };
    let ds = btf.type_by_id(ds).map_err(|source| ObjError::Btf {
        section: ".BTF",
        source,
    })?;
    let mut locs = Vec::new();
    for v in ds.datasec_vars() {
        let var = btf.type_by_id(v.type_id).map_err(|source| ObjError::Btf {
            section: ".BTF",
            source,
        })?;
        let name = var.name().to_string();
        if var.kind() != Kind::Var {
            return Err(map_err(
                &name,
                format!("unexpected {} in .maps DATASEC", var.kind().name()),
            ));
        }
        let def = btf
            .skip_mods_and_typedefs(var.type_id().unwrap_or(0))
            .map_err(|e| btf_err(&name, e))?;
        if def.kind() != Kind::Struct {
            return Err(map_err(
                &name,
                format!("unexpected def kind {}", def.kind().name()),
            ));
        }
        // The ELF symbol is authoritative (clang may leave DATASEC offsets 0).
        let (sec_offset, size) = match elf.symbol_in(sec.index, &name) {
            Some(Symbol { value, size, .. }) => (*value, (*size).max(def.size() as u64)),
            None => (v.offset as u64, v.size as u64),
        };
        if sec_offset
            .checked_add(def.size() as u64)
            .is_none_or(|e| e > sec.size)
        {
            return Err(map_err(
                &name,
                format!(
                    "definition at offset {sec_offset} (size {}) is outside the section ({} bytes)",
                    def.size(),
                    sec.size
                ),
            ));
        }
        let mut spec = MapSpec::new(name.clone(), sec.name.clone(), sec.index, MapKind::Btf);
        spec.sec_offset = sec_offset;
        let values_off = parse_def(btf, def, &mut spec, false)?;
        check_type(&spec)?;
        log::debug!(
            "map '{}': at sec_idx {}, offset {}: type {}, key_size {}, value_size {}, max_entries {}, map_flags {:#x}",
            spec.name,
            sec.index,
            sec_offset,
            spec.map_type,
            spec.key_size,
            spec.value_size,
            spec.max_entries,
            spec.map_flags
        );
        locs.push(MapDefLoc {
            map: maps.len(),
            sec_offset,
            size,
            values_off,
        });
        maps.push(spec);
    }
    Ok(locs)
}

/// Records `.values` initial slots from the `.maps` relocations (libbpf's
/// `bpf_object__collect_map_relos`). `program_at` finds a program by (section, offset).
pub(crate) fn collect_map_relos(
    elf: &Elf<'_>,
    sec: &Section<'_>,
    locs: &[MapDefLoc],
    maps: &mut [MapSpec],
    program_at: &dyn Fn(usize, u64) -> Option<usize>,
) -> Result<()> {
    for rel in &sec.relocs {
        let sym = elf
            .symbols
            .get(rel.sym as usize)
            .ok_or_else(|| ObjError::Section {
                section: sec.name.clone(),
                reason: format!(
                    "relocation at offset {:#x} names symbol #{} of {}",
                    rel.offset,
                    rel.sym,
                    elf.symbols.len()
                ),
            })?;
        let Some(loc) = locs.iter().find(|l| {
            rel.offset >= l.sec_offset && rel.offset < l.sec_offset.saturating_add(l.size)
        }) else {
            return Err(ObjError::Section {
                section: sec.name.clone(),
                reason: format!(
                    "relocation at offset {:#x} against '{}' is in no map definition",
                    rel.offset, sym.name
                ),
            });
        };
        let map_name = maps[loc.map].name.clone();
        let Some(values_off) = loc.values_off else {
            return Err(map_err(
                &map_name,
                format!("relocation against '{}' outside 'values'", sym.name),
            ));
        };
        let moff = rel.offset - loc.sec_offset;
        if moff < values_off || (moff - values_off) % 8 != 0 {
            return Err(map_err(
                &map_name,
                format!("unaligned or misplaced 'values' relocation at offset {moff}"),
            ));
        }
        let index = u32::try_from((moff - values_off) / 8)
            .map_err(|_| map_err(&map_name, "'values' slot index too large"))?;
        let target = if maps[loc.map].map_type == MapType::ProgArray {
            let p = sym
                .shndx
                .and_then(|s| program_at(s, sym.value))
                .ok_or_else(|| {
                    map_err(
                        &map_name,
                        format!("slot [{index}]: '{}' is not a program", sym.name),
                    )
                })?;
            SlotTarget::Program(p)
        } else {
            let m = locs
                .iter()
                .find(|l| Some(sec.index) == sym.shndx && l.sec_offset == sym.value)
                .map(|l| l.map)
                .ok_or_else(|| {
                    map_err(
                        &map_name,
                        format!("slot [{index}]: '{}' is not a map in .maps", sym.name),
                    )
                })?;
            SlotTarget::Map(m)
        };
        if index >= maps[loc.map].max_entries && maps[loc.map].map_type != MapType::HashOfMaps {
            return Err(map_err(
                &map_name,
                format!(
                    "slot [{index}] is past max_entries {}",
                    maps[loc.map].max_entries
                ),
            ));
        }
        log::debug!("map '{map_name}': slot [{index}] set to '{}'", sym.name);
        maps[loc.map].init_slots.push(InitSlot { index, target });
    }
    Ok(())
}
