//! BTF-defined maps (`SEC(".maps")`): each variable of the `.maps` DATASEC is a struct whose
//! members encode the definition (`__uint(type, ...)` is `int (*type)[N]`, `__type(key, T)`
//! is `T *key`, `__array(values, T)` is `T *values[]`), as libbpf's `parse_btf_map_def`.

use corebpf_abi::MapType;
use corebpf_btf::{Btf, Kind, Type};

use crate::elf::{Elf, Rel, Section, Symbol};
use crate::error::{obj_btf_err, ObjError, Result};
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

/// A 64-bit attribute (`map_extra`): `__uint(name, N)` (a PTR, as [`field_int`]) or
/// `__ulong(name, N)`, an anonymous one-value ENUM or ENUM64 (libbpf's `get_map_field_long`;
/// headers since libbpf 1.4 declare `map_extra` that way, ENUM64 when N needs 64 bits).
fn field_long(btf: &Btf, map: &str, name: &str, t: u32) -> Result<u64> {
    let ty = btf.skip_mods_and_typedefs(t).map_err(|e| btf_err(map, e))?;
    match ty.kind() {
        Kind::Ptr => return field_int(btf, map, name, t).map(u64::from),
        Kind::Enum | Kind::Enum64 => {}
        other => {
            return Err(map_err(
                map,
                format!(
                    "attr '{name}': expected PTR, ENUM or ENUM64, got {}",
                    other.name()
                ),
            ))
        }
    }
    let mut values = ty.enumerators();
    match (values.next(), values.next()) {
        // libbpf reads a 32-bit ENUM's value as `__s32`, so it is sign-extended.
        (Some(e), None) if ty.kind() == Kind::Enum => Ok(e.value as u32 as i32 as i64 as u64),
        (Some(e), None) => Ok(e.value),
        _ => Err(map_err(
            map,
            format!(
                "attr '{name}': invalid __ulong ({} has {} values, must have 1)",
                ty.kind().name(),
                ty.vlen()
            ),
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
    let mut p = DefParser {
        btf,
        map: &name,
        inner,
        vlen: def.vlen(),
        key_size: None,
        value_size: None,
        values_off: None,
    };
    for m in def.members() {
        p.member(spec, &m)?;
    }
    spec.key_size = p.key_size.unwrap_or(0);
    spec.value_size = p.value_size.unwrap_or(0);
    Ok(p.values_off)
}

/// One map definition being parsed, member by member. Key and value sizes can be given
/// more than once (`key_size` and `key`, `values` implies 4), so they are kept aside until
/// every member agreed on them.
struct DefParser<'b> {
    btf: &'b Btf,
    map: &'b str,
    /// An inner map's definition (no `values`, no pinning).
    inner: bool,
    /// Number of members (`values` must be the last).
    vlen: u32,
    key_size: Option<u32>,
    value_size: Option<u32>,
    values_off: Option<u64>,
}

impl DefParser<'_> {
    /// Applies one member (`__uint`, `__type` or `__array` attribute) to `spec`.
    fn member(&mut self, spec: &mut MapSpec, m: &corebpf_btf::Member<'_>) -> Result<()> {
        let (btf, map) = (self.btf, self.map);
        let mname = m.name();
        let int = || field_int(btf, map, mname, m.type_id);
        match mname {
            "type" => {
                let v = int()?;
                spec.map_type = MapType::try_from(v)
                    .map_err(|_| map_err(map, format!("unknown map type {v}")))?;
            }
            "max_entries" => spec.max_entries = int()?,
            "map_flags" => spec.map_flags = int()?,
            "numa_node" => spec.numa_node = int()?,
            "map_extra" => spec.map_extra = field_long(btf, map, mname, m.type_id)?,
            "key_size" => agree(map, &mut self.key_size, int()?, mname)?,
            "value_size" => agree(map, &mut self.value_size, int()?, mname)?,
            "key" => {
                let (id, size) = field_type(btf, map, mname, m.type_id)?;
                agree(map, &mut self.key_size, size, "key size")?;
                spec.btf_key_type_id = Some(id);
            }
            "value" => {
                let (id, size) = field_type(btf, map, mname, m.type_id)?;
                agree(map, &mut self.value_size, size, "value size")?;
                spec.btf_value_type_id = Some(id);
            }
            "values" => self.values(spec, m)?,
            "pinning" => {
                if self.inner {
                    return Err(map_err(map, "inner map definition can't be pinned"));
                }
                spec.pinning = match int()? {
                    0 => Pinning::None,
                    1 => Pinning::ByName,
                    v => return Err(map_err(map, format!("invalid pinning value {v}"))),
                };
            }
            other => {
                return Err(map_err(map, format!("unknown field '{other}'")));
            }
        }
        Ok(())
    }

    /// `__array(values, T)`: the initial slots of a prog array or map of maps, which then
    /// holds 4-byte values (the kernel stores fds or ids).
    fn values(&mut self, spec: &mut MapSpec, m: &corebpf_btf::Member<'_>) -> Result<()> {
        let map = self.map;
        if self.inner {
            return Err(map_err(map, "multi-level inner maps are not supported"));
        }
        if m.index + 1 != self.vlen {
            return Err(map_err(map, "'values' must be the last member"));
        }
        let target = values_elem(self.btf, map, m.type_id)?;
        values_target(self.btf, spec, target)?;
        if self.value_size.is_some_and(|v| v != 4) {
            return Err(map_err(map, "conflicting value size (must be 4)"));
        }
        self.value_size = Some(4);
        self.values_off = Some((m.bit_offset / 8) as u64);
        Ok(())
    }
}

/// Records a key or value size, which every attribute implying it must agree on.
fn agree(map: &str, slot: &mut Option<u32>, v: u32, what: &str) -> Result<()> {
    if slot.is_some_and(|s| s != v) {
        return Err(map_err(
            map,
            format!("conflicting {what} {} != {v}", slot.unwrap_or(0)),
        ));
    }
    *slot = Some(v);
    Ok(())
}

/// The element type of `values` (type `t`): a zero-sized array of pointers, to a FUNC_PROTO
/// (prog arrays) or an inner map's definition struct (maps of maps).
fn values_elem<'b>(btf: &'b Btf, map: &str, t: u32) -> Result<Type<'b>> {
    let arr = btf.type_by_id(t).map_err(|e| btf_err(map, e))?;
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
    btf.skip_mods_and_typedefs(ptr.type_id().unwrap_or(0))
        .map_err(|e| btf_err(map, e))
}

/// Checks what `values` points to against the map type; a map of maps gets its inner map
/// from it.
fn values_target(btf: &Btf, spec: &mut MapSpec, target: Type<'_>) -> Result<()> {
    let map = spec.name.as_str();
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
            let inner = inner_def(btf, spec, target)?;
            spec.inner = Some(Box::new(inner));
        }
        t => {
            return Err(map_err(
                map,
                format!("'values' is only valid for prog arrays and map-in-map, not {t}"),
            ))
        }
    }
    Ok(())
}

/// One `.maps` definition struct parsed on its own: what the static linker compares when
/// several objects declare the same map.
pub(crate) fn parse_map_def(btf: &Btf, name: &str, def: Type<'_>) -> Result<MapSpec> {
    if def.kind() != Kind::Struct {
        return Err(map_err(
            name,
            format!("definition is a {}, not a struct", def.kind().name()),
        ));
    }
    let mut spec = MapSpec::new(name.to_string(), ".maps".into(), 0, MapKind::Btf);
    parse_def(btf, def, &mut spec, false)?;
    check_type(&spec)?;
    Ok(spec)
}

/// A map of maps' inner map, named `<map>.inner`.
fn inner_def(btf: &Btf, outer: &MapSpec, def: Type<'_>) -> Result<MapSpec> {
    let mut inner = MapSpec::new(
        format!("{}.inner", outer.name),
        outer.section.clone(),
        outer.section_index,
        MapKind::Btf,
    );
    parse_def(btf, def, &mut inner, true)?;
    check_type(&inner)?;
    Ok(inner)
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
    let ds = section_datasec(btf, sec)?;
    let mut locs = Vec::new();
    for v in ds.datasec_vars() {
        let (name, def) = map_var(btf, &v)?;
        let (sec_offset, size) = def_extent(elf, sec, &name, &v, def)?;
        let mut spec = MapSpec::new(name, sec.name.clone(), sec.index, MapKind::Btf);
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

/// The DATASEC describing section `sec` (named as it is).
pub(crate) fn section_datasec<'b>(btf: &'b Btf, sec: &Section<'_>) -> Result<Type<'b>> {
    let Some(ds) = btf.find_by_name_kind(&sec.name, Kind::Datasec) else {
        return Err(ObjError::Section {
            section: sec.name.clone(),
            reason: "no DATASEC of that name in .BTF".into(),
        });
    };
    btf.type_by_id(ds).map_err(obj_btf_err)
}

/// A `.maps` variable: its name and its definition struct.
fn map_var<'b>(btf: &'b Btf, v: &corebpf_btf::DatasecVar) -> Result<(String, Type<'b>)> {
    let var = btf.type_by_id(v.type_id).map_err(obj_btf_err)?;
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
    Ok((name, def))
}

/// Where map `name`'s definition lies in `.maps`: (offset, size), checked to fit.
fn def_extent(
    elf: &Elf<'_>,
    sec: &Section<'_>,
    name: &str,
    v: &corebpf_btf::DatasecVar,
    def: Type<'_>,
) -> Result<(u64, u64)> {
    // The ELF symbol is authoritative (clang may leave DATASEC offsets 0).
    let (sec_offset, size) = match elf.symbol_in(sec.index, name) {
        Some(Symbol { value, size, .. }) => (*value, (*size).max(def.size() as u64)),
        None => (v.offset as u64, v.size as u64),
    };
    if sec_offset
        .checked_add(def.size() as u64)
        .is_none_or(|e| e > sec.size)
    {
        return Err(map_err(
            name,
            format!(
                "definition at offset {sec_offset} (size {}) is outside the section ({} bytes)",
                def.size(),
                sec.size
            ),
        ));
    }
    Ok((sec_offset, size))
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
        let sym = reloc_symbol(elf, sec, rel)?;
        let loc = def_containing(sec, locs, rel, sym)?;
        let map = &maps[loc.map];
        let index = values_slot(map, loc, rel, sym)?;
        let target = if map.map_type == MapType::ProgArray {
            let p = sym
                .shndx
                .and_then(|s| program_at(s, sym.value))
                .ok_or_else(|| {
                    map_err(
                        &map.name,
                        format!("slot [{index}]: '{}' is not a program", sym.name),
                    )
                })?;
            SlotTarget::Program(p)
        } else {
            SlotTarget::Map(inner_map_at(sec, locs, map, index, sym)?)
        };
        if index >= map.max_entries && map.map_type != MapType::HashOfMaps {
            return Err(map_err(
                &map.name,
                format!("slot [{index}] is past max_entries {}", map.max_entries),
            ));
        }
        log::debug!("map '{}': slot [{index}] set to '{}'", map.name, sym.name);
        maps[loc.map].init_slots.push(InitSlot { index, target });
    }
    Ok(())
}

/// The symbol a `.maps` relocation names.
fn reloc_symbol<'e>(elf: &'e Elf<'_>, sec: &Section<'_>, rel: &Rel) -> Result<&'e Symbol> {
    elf.symbols
        .get(rel.sym as usize)
        .ok_or_else(|| ObjError::Section {
            section: sec.name.clone(),
            reason: format!(
                "relocation at offset {:#x} names symbol #{} of {}",
                rel.offset,
                rel.sym,
                elf.symbols.len()
            ),
        })
}

/// The map definition a `.maps` relocation lies in.
fn def_containing<'l>(
    sec: &Section<'_>,
    locs: &'l [MapDefLoc],
    rel: &Rel,
    sym: &Symbol,
) -> Result<&'l MapDefLoc> {
    locs.iter()
        .find(|l| rel.offset >= l.sec_offset && rel.offset < l.sec_offset.saturating_add(l.size))
        .ok_or_else(|| ObjError::Section {
            section: sec.name.clone(),
            reason: format!(
                "relocation at offset {:#x} against '{}' is in no map definition",
                rel.offset, sym.name
            ),
        })
}

/// The `values` slot (array index) a relocation within `map`'s definition sets.
fn values_slot(map: &MapSpec, loc: &MapDefLoc, rel: &Rel, sym: &Symbol) -> Result<u32> {
    let Some(values_off) = loc.values_off else {
        return Err(map_err(
            &map.name,
            format!("relocation against '{}' outside 'values'", sym.name),
        ));
    };
    let moff = rel.offset - loc.sec_offset;
    if moff < values_off || (moff - values_off) % 8 != 0 {
        return Err(map_err(
            &map.name,
            format!("unaligned or misplaced 'values' relocation at offset {moff}"),
        ));
    }
    u32::try_from((moff - values_off) / 8)
        .map_err(|_| map_err(&map.name, "'values' slot index too large"))
}

/// The map (by its definition's symbol in `.maps`) a map of maps' slot `index` holds.
fn inner_map_at(
    sec: &Section<'_>,
    locs: &[MapDefLoc],
    map: &MapSpec,
    index: u32,
    sym: &Symbol,
) -> Result<usize> {
    locs.iter()
        .find(|l| Some(sec.index) == sym.shndx && l.sec_offset == sym.value)
        .map(|l| l.map)
        .ok_or_else(|| {
            map_err(
                &map.name,
                format!("slot [{index}]: '{}' is not a map in .maps", sym.name),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use corebpf_btf::BtfBuilder;

    /// `map_extra` given as each kind `field_long` meets; returns its value or error text.
    fn map_extra(add: impl FnOnce(&mut BtfBuilder) -> u32) -> std::result::Result<u64, String> {
        let mut b = BtfBuilder::new();
        let t = add(&mut b);
        let btf = Btf::from_vec(b.build()).unwrap();
        field_long(&btf, "m", "map_extra", t).map_err(|e| e.to_string())
    }

    #[test]
    fn map_extra_as_ptr_enum_or_enum64() {
        let ptr = map_extra(|b| {
            let int = b.add_int("int", 4, 1);
            let arr = b.add_array(int, int, 3);
            b.add_ptr(arr)
        });
        assert_eq!(ptr, Ok(3));
        let e64 = map_extra(|b| b.add_enum64("", 8, false, &[("v", 1 << 44)]));
        assert_eq!(e64, Ok(1 << 44));
        let e32 = map_extra(|b| b.add_enum("", 4, false, &[("v", 0x1000)]));
        assert_eq!(e32, Ok(0x1000));
        // libbpf reads a 32-bit enumerator as __s32.
        let neg = map_extra(|b| b.add_enum("", 4, false, &[("v", 0x8000_0000)]));
        assert_eq!(neg, Ok(0xffff_ffff_8000_0000));
        let typedef = map_extra(|b| {
            let e = b.add_enum64("", 8, false, &[("v", 7)]);
            b.add_typedef("t", e)
        });
        assert_eq!(typedef, Ok(7));
    }

    #[test]
    fn map_extra_of_a_wrong_kind_is_refused() {
        let int = map_extra(|b| b.add_int("int", 4, 1)).unwrap_err();
        assert_eq!(
            int,
            "map 'm' in sec '.maps': attr 'map_extra': expected PTR, ENUM or ENUM64, got int"
        );
        let two = map_extra(|b| b.add_enum64("", 8, false, &[("a", 1), ("b", 2)])).unwrap_err();
        assert!(
            two.contains("invalid __ulong (enum64 has 2 values, must have 1)"),
            "{two}"
        );
        let ptr_int = map_extra(|b| {
            let int = b.add_int("int", 4, 1);
            b.add_ptr(int)
        })
        .unwrap_err();
        assert!(
            ptr_int.contains("attr 'map_extra': expected ARRAY, got int"),
            "{ptr_int}"
        );
    }
}
