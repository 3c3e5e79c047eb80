//! `.struct_ops` and `.struct_ops.link` maps: each variable is a kernel ops struct (e.g.
//! `tcp_congestion_ops`) whose function pointer members are set to `struct_ops/` programs
//! by relocations (libbpf's `init_struct_ops_maps` and `collect_st_ops_relos`).

use corebpf_abi::consts::BPF_F_LINK;
use corebpf_abi::MapType;
use corebpf_btf::{Btf, Kind};

use crate::elf::{Elf, Rel, Section};
use crate::error::{obj_btf_err, ObjError, Result};
use crate::maps::{MapKind, MapSpec, StructOpsSlot};

/// Whether `name` is a struct_ops section.
pub(crate) fn is_struct_ops_sec(name: &str) -> bool {
    name == ".struct_ops" || name == ".struct_ops.link"
}

fn map_err(map: &str, sec: &str, reason: impl Into<String>) -> ObjError {
    ObjError::Map {
        map: map.into(),
        section: sec.into(),
        reason: reason.into(),
    }
}

/// Parses the maps of one struct_ops section and their program slots.
pub(crate) fn struct_ops_maps(
    elf: &Elf<'_>,
    btf: Option<&Btf>,
    sec: &Section<'_>,
    maps: &mut Vec<MapSpec>,
    program_at: &dyn Fn(usize, u64) -> Option<usize>,
) -> Result<()> {
    let data = sec.data()?;
    let Some(btf) = btf else {
        return Err(ObjError::Section {
            section: sec.name.clone(),
            reason: "struct_ops maps need the object's .BTF".into(),
        });
    };
    let ds = crate::btf_maps::section_datasec(btf, sec)?;
    let first = maps.len();
    for v in ds.datasec_vars() {
        maps.push(struct_ops_map(elf, btf, sec, data, &v)?);
    }
    for rel in &sec.relocs {
        struct_ops_slot(elf, btf, sec, &mut maps[first..], rel, program_at)?;
    }
    Ok(())
}

/// The map of one struct_ops variable: its value is the ops struct's bytes from the
/// section (`data`); programs go into its slots later.
fn struct_ops_map(
    elf: &Elf<'_>,
    btf: &Btf,
    sec: &Section<'_>,
    data: &[u8],
    v: &corebpf_btf::DatasecVar,
) -> Result<MapSpec> {
    let var = btf.type_by_id(v.type_id).map_err(obj_btf_err)?;
    let name = var.name().to_string();
    let ty = btf
        .skip_mods_and_typedefs(var.type_id().unwrap_or(0))
        .map_err(obj_btf_err)?;
    if ty.kind() != Kind::Struct {
        return Err(map_err(
            &name,
            &sec.name,
            "struct_ops value is not a struct",
        ));
    }
    let off = elf
        .symbol_in(sec.index, &name)
        .map_or(v.offset as u64, |s| s.value);
    let size = ty.size() as usize;
    let bytes = usize::try_from(off)
        .ok()
        .and_then(|o| data.get(o..o.checked_add(size)?))
        .ok_or_else(|| map_err(&name, &sec.name, "value outside the section"))?;
    let mut m = MapSpec::new(name, sec.name.clone(), sec.index, MapKind::StructOps);
    m.sec_offset = off;
    m.map_type = MapType::StructOps;
    m.key_size = 4;
    m.value_size = ty.size();
    m.max_entries = 1;
    if sec.name == ".struct_ops.link" {
        m.map_flags = BPF_F_LINK;
    }
    m.struct_ops_type_id = Some(ty.id());
    m.data = Some(bytes.to_vec());
    log::debug!(
        "struct_ops map '{}': type '{}', size {}",
        m.name,
        ty.name(),
        size
    );
    Ok(m)
}

/// One relocation of a struct_ops section: a function pointer member of one of `maps`
/// set to a program.
fn struct_ops_slot(
    elf: &Elf<'_>,
    btf: &Btf,
    sec: &Section<'_>,
    maps: &mut [MapSpec],
    rel: &Rel,
    program_at: &dyn Fn(usize, u64) -> Option<usize>,
) -> Result<()> {
    let sym = elf
        .symbols
        .get(rel.sym as usize)
        .ok_or_else(|| ObjError::Section {
            section: sec.name.clone(),
            reason: format!("relocation names symbol #{} past .symtab", rel.sym),
        })?;
    let Some(m) = maps
        .iter_mut()
        .find(|m| rel.offset >= m.sec_offset && rel.offset < m.sec_offset + m.value_size as u64)
    else {
        return Err(ObjError::Section {
            section: sec.name.clone(),
            reason: format!("relocation at {:#x} is in no struct_ops map", rel.offset),
        });
    };
    let moff = (rel.offset - m.sec_offset) as u32;
    let member = member_at(btf, sec, m, moff)?;
    let program = sym
        .shndx
        .and_then(|s| program_at(s, sym.value))
        .ok_or_else(|| {
            map_err(
                &m.name,
                &sec.name,
                format!("member '{member}': '{}' is not a program", sym.name),
            )
        })?;
    m.struct_ops_slots.push(StructOpsSlot {
        offset: moff,
        member,
        program,
    });
    Ok(())
}

/// The name of the member of `m`'s ops struct at byte offset `moff`.
fn member_at(btf: &Btf, sec: &Section<'_>, m: &MapSpec, moff: u32) -> Result<String> {
    let ty = btf
        .type_by_id(m.struct_ops_type_id.unwrap_or(0))
        .map_err(obj_btf_err)?;
    ty.members()
        .find(|mm| mm.bit_offset / 8 == moff)
        .map(|mm| mm.name().to_string())
        .ok_or_else(|| map_err(&m.name, &sec.name, format!("no member at offset {moff}")))
}
