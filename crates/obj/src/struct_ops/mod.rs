//! `.struct_ops` and `.struct_ops.link` maps: each variable is a kernel ops struct (e.g.
//! `tcp_congestion_ops`) whose function pointer members are set to `struct_ops/` programs
//! by relocations (libbpf's `init_struct_ops_maps` and `collect_st_ops_relos`).
//!
//! - this module: the maps and their program slots, as the object declares them;
//! - [`kern`]: the value laid out for the running kernel's `struct bpf_struct_ops_<name>`;
//! - [`shadow`]: user-space changes to the value before load (libbpf's shadow type).

pub mod kern;
pub mod shadow;

use corebpf_abi::consts::BPF_F_LINK;
use corebpf_abi::{MapType, ProgType};
use corebpf_btf::{Btf, Kind};

use crate::elf::{Elf, Rel, Section};
use crate::error::{obj_btf_err, ObjError, Result};
use crate::maps::{MapKind, MapSpec, StructOpsSlot};
use crate::object::ProgramSpec;

/// Whether `name` is a struct_ops section (`SEC("?.struct_ops")`: maps not created by
/// default, as `SEC("?...")` programs are not loaded by default).
pub(crate) fn is_struct_ops_sec(name: &str) -> bool {
    matches!(
        name.strip_prefix('?').unwrap_or(name),
        ".struct_ops" | ".struct_ops.link"
    )
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
    if ty.name().is_empty() {
        return Err(map_err(
            &name,
            &sec.name,
            "struct_ops value is an anonymous struct (the kernel type is found by its name)",
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
    let plain = sec.name.strip_prefix('?');
    m.autocreate = plain.is_none();
    if plain.unwrap_or(&sec.name) == ".struct_ops.link" {
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
    if sym.value % crate::insn::INSN_SIZE as u64 != 0 {
        return Err(map_err(
            &m.name,
            &sec.name,
            format!(
                "member '{member}': target '{}' at offset {} is not on an instruction",
                sym.name, sym.value
            ),
        ));
    }
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

/// The name of the function pointer member of `m`'s ops struct at byte offset `moff`.
fn member_at(btf: &Btf, sec: &Section<'_>, m: &MapSpec, moff: u32) -> Result<String> {
    let ty = btf
        .type_by_id(m.struct_ops_type_id.unwrap_or(0))
        .map_err(obj_btf_err)?;
    let member = ty
        .members()
        .find(|mm| mm.bit_offset == moff * 8)
        .ok_or_else(|| map_err(&m.name, &sec.name, format!("no member at offset {moff}")))?;
    if !is_func_ptr(btf, member.type_id) {
        return Err(map_err(
            &m.name,
            &sec.name,
            format!(
                "member '{}' is not a function pointer: only those can point to programs",
                member.name()
            ),
        ));
    }
    Ok(member.name().to_string())
}

/// Whether type `id` is a pointer to a function prototype (modifiers and typedefs aside).
pub(crate) fn is_func_ptr(btf: &Btf, id: u32) -> bool {
    let pointee = match btf.skip_mods_and_typedefs(id) {
        Ok(t) if t.kind() == Kind::Ptr => t.type_id().unwrap_or(0),
        _ => return false,
    };
    btf.skip_mods_and_typedefs(pointee)
        .is_ok_and(|t| t.kind() == Kind::FuncProto)
}

/// Every struct_ops slot names a `struct_ops` program (libbpf: "prog is not struct_ops BPF
/// program"): the kernel would refuse any other program type in the value.
pub(crate) fn check_slot_programs(maps: &[MapSpec], programs: &[ProgramSpec]) -> Result<()> {
    for m in maps {
        for s in &m.struct_ops_slots {
            let Some(p) = programs.get(s.program) else {
                continue;
            };
            if p.prog_type != ProgType::StructOps {
                return Err(map_err(
                    &m.name,
                    &m.section,
                    format!(
                        "member '{}': program '{}' (SEC(\"{}\")) is not a struct_ops program",
                        s.member, p.name, p.section
                    ),
                ));
            }
        }
    }
    Ok(())
}
