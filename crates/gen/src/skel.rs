//! The skeleton's parts, collected from the object: maps, programs and global variables with
//! their Rust types, and the accessor names they get.

use corebpf_btf::{Kind, Linkage};
use corebpf_obj::{DataKind, MapKind, ObjectSpec};

use crate::model::{Ty, Types};
use crate::names::Namespace;
use crate::GenError;

/// A map the skeleton hands out.
pub(crate) struct MapInfo {
    /// The name `corebpf::Object::map` finds it by (the section for a data map).
    pub lookup: String,
    /// The accessor's name.
    pub method: String,
    /// What it is, for the accessor's doc.
    pub doc: String,
    /// Whether the loader may leave it out by default (`SEC("?.struct_ops")`).
    pub optional: bool,
}

/// A program the skeleton hands out.
pub(crate) struct ProgInfo {
    /// Its name.
    pub name: String,
    /// The accessor's name.
    pub method: String,
    /// Its section.
    pub section: String,
    /// Whether it may be absent after load: not loaded by default (`SEC("?...")`), a
    /// struct_ops program no map created by default uses, or a program the object parser
    /// could not place.
    pub optional: bool,
}

/// A global variable with typed accessors.
pub(crate) struct VarInfo {
    /// Its C name.
    pub name: String,
    /// The getter's name.
    pub getter: String,
    /// The setter's name.
    pub setter: String,
    /// Its Rust type.
    pub ty: Ty,
    /// Its data section.
    pub section: String,
    /// Whether programs may write it (`.data`, `.bss`): then it can be written after load too.
    pub writable: bool,
}

/// Every part, in the object's order.
pub(crate) struct Parts {
    pub maps: Vec<MapInfo>,
    pub progs: Vec<ProgInfo>,
    pub vars: Vec<VarInfo>,
}

/// Collects the maps (and their key and value types), programs and globals of `spec`.
pub(crate) fn collect(spec: &ObjectSpec, types: &mut Types<'_>) -> Result<Parts, GenError> {
    let maps = maps(spec, types)?;
    let vars = vars(spec, types)?;
    let mut ns = Namespace::default();
    let progs = spec
        .programs
        .iter()
        .enumerate()
        .map(|(i, p)| ProgInfo {
            name: p.name.clone(),
            method: ns.take(&p.name),
            section: p.section.clone(),
            optional: p.section.starts_with('?')
                || p.error.is_some()
                || (p.section.starts_with("struct_ops") && !used_by_created_map(spec, i)),
        })
        .collect();
    Ok(Parts { maps, progs, vars })
}

/// Whether struct_ops program `prog` is in a map created by default: then it loads (the
/// loader loads exactly the struct_ops programs of created maps).
fn used_by_created_map(spec: &ObjectSpec, prog: usize) -> bool {
    spec.maps
        .iter()
        .any(|m| m.autocreate && m.struct_ops_slots.iter().any(|s| s.program == prog))
}

fn maps(spec: &ObjectSpec, types: &mut Types<'_>) -> Result<Vec<MapInfo>, GenError> {
    let mut ns = Namespace::default();
    let mut out = Vec::new();
    for m in &spec.maps {
        let (lookup, method) = match m.kind {
            MapKind::Data(_) | MapKind::Kconfig => (m.section.clone(), m.section.clone()),
            _ => (m.name.clone(), m.name.clone()),
        };
        let method = ns.take(method.trim_start_matches('.'));
        let mut doc = format!("`{}`: {:?}", m.name, m.map_type);
        if matches!(m.kind, MapKind::Btf | MapKind::Legacy) {
            for (part, id) in [("key", m.btf_key_type_id), ("value", m.btf_value_type_id)] {
                let Some(id) = id.filter(|&id| id != 0) else {
                    continue;
                };
                let what = format!("map '{}' {part}", m.name);
                let ty = types.ty_of(id, &format!("{}__{part}", m.name), &what)?;
                doc.push_str(&format!(", {part} `{}`", types.rust(&ty)));
            }
        }
        doc.push('.');
        out.push(MapInfo {
            lookup,
            method,
            doc,
            optional: !m.autocreate,
        });
    }
    Ok(out)
}

/// The global (not static) variables of every data section, as bpftool's skeletons expose
/// them.
fn vars(spec: &ObjectSpec, types: &mut Types<'_>) -> Result<Vec<VarInfo>, GenError> {
    let btf = types.btf;
    let mut ns = Namespace::default();
    let mut out = Vec::new();
    for m in &spec.maps {
        let MapKind::Data(kind) = m.kind else {
            continue;
        };
        let Some(sec) = btf
            .types()
            .find(|t| t.kind() == Kind::Datasec && t.name() == m.section)
        else {
            continue;
        };
        for v in sec.datasec_vars() {
            let var = btf.type_by_id(v.type_id)?;
            if var.kind() != Kind::Var || var.linkage() != Some(Linkage::Global) {
                continue;
            }
            let what = format!("global '{}' in {}", var.name(), m.section);
            let ty = types.ty_of(
                var.type_id().unwrap_or(0),
                &format!("{}__type", var.name()),
                &what,
            )?;
            if types.size_of(&ty) != u64::from(v.size) {
                return Err(types.unsupported(
                    v.type_id,
                    &what,
                    "its size differs from its section's record",
                ));
            }
            let (getter, setter) = ns.take_pair(var.name());
            out.push(VarInfo {
                name: var.name().to_string(),
                getter,
                setter,
                ty,
                section: m.section.clone(),
                writable: kind != DataKind::Rodata,
            });
        }
    }
    Ok(out)
}
