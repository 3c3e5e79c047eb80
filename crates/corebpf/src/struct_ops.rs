//! struct_ops at load, in libbpf's order: each struct_ops map being created is laid out
//! for the running kernel (`bpf_map__init_kern_struct_ops`: types found in vmlinux, then
//! module BTF), which gives its programs their attach target (the ops struct's BTF id and
//! the member's index); programs load only when a created map uses them
//! (`bpf_object_adjust_struct_ops_autoload`); once they are loaded their fds go into the
//! values (`bpf_map_prepare_vdata`), which registering writes into the maps
//! (see `attach/struct_ops.rs`).

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use corebpf_btf::Btf;
use corebpf_obj::struct_ops::kern::{kern_struct_ops, KernOpsTypes, KernStructOps};
use corebpf_obj::{MapKind, MapSpec, ObjectSpec};
use corebpf_sys::ProgType;

use crate::error::{Error, Result};
use crate::kernel::LoadModules;
use crate::object::OpenObject;
use crate::program::Program;

/// Where a struct_ops program attaches: `attach_btf_id`, `expected_attach_type`, and the
/// module whose BTF holds the ops struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProgTarget {
    /// The kernel's `struct <ops>` id.
    pub(crate) attach_btf_id: u32,
    /// The member's index in it.
    pub(crate) member_index: u32,
    /// BTF object id of the module holding the type (`None`: vmlinux).
    pub(crate) module: Option<u32>,
}

/// One created struct_ops map laid out for the kernel.
pub(crate) struct PlannedMap {
    /// The layout.
    pub(crate) kern: KernStructOps,
    /// The ops struct's name (`tcp_congestion_ops`).
    pub(crate) type_name: String,
    /// BTF object id of the module holding the types (`None`: vmlinux).
    pub(crate) module: Option<u32>,
}

/// What loading needs to know about the object's struct_ops maps and programs.
#[derive(Default)]
pub(crate) struct Plan {
    /// Per map index: its layout, for the created struct_ops maps.
    pub(crate) maps: HashMap<usize, PlannedMap>,
    /// Per program index: its target, for the struct_ops programs a created map uses.
    pub(crate) progs: HashMap<usize, ProgTarget>,
    /// Module BTF fds by BTF object id, for the maps' and programs' types in modules.
    module_fds: HashMap<u32, OwnedFd>,
}

impl Plan {
    /// Lays out every struct_ops map being created and decides which struct_ops programs
    /// load (changing `open.autoload`).
    pub(crate) fn new(open: &mut OpenObject, modules: &LoadModules) -> Result<Plan> {
        let mut plan = Plan::default();
        let spec = &open.spec;
        if !spec.maps.iter().any(|m| m.kind == MapKind::StructOps) {
            return Ok(plan);
        }
        let btf = spec
            .btf
            .as_deref()
            .ok_or_else(|| Error::InvalidInput("struct_ops maps need the object's BTF".into()))?;
        for (i, m) in spec.maps.iter().enumerate() {
            if m.kind == MapKind::StructOps && open.autocreate[i] {
                plan.add_map(spec, btf, i, m, modules)?;
            }
        }
        plan.adjust_autoload(open)?;
        Ok(plan)
    }

    /// Lays out map `m` (index `i`) and records its programs' targets.
    fn add_map(
        &mut self,
        spec: &ObjectSpec,
        btf: &Btf,
        i: usize,
        m: &MapSpec,
        modules: &LoadModules,
    ) -> Result<()> {
        let type_name = btf
            .type_by_id(m.struct_ops_type_id.unwrap_or(0))
            .map(|t| t.name().to_string())
            .map_err(|e| map_error(m, e.to_string()))?;
        let (kbtf, types, module) = find_kern_types(m, &type_name, modules)?;
        let module_id = module.as_ref().map(|(_, id)| *id);
        let kernel = format!("Linux {}", crate::kernel::release());
        let kern = kern_struct_ops(m, btf, &spec.programs, &kbtf, &types, &kernel)?;
        for f in &kern.funcs {
            let target = ProgTarget {
                attach_btf_id: types.type_id,
                member_index: f.member_index,
                module: module_id,
            };
            let prog = &spec.programs[f.program].name;
            match self.progs.insert(f.program, target) {
                Some(before) if before != target => {
                    return Err(map_error(
                        m,
                        format!(
                            "member '{}': program '{prog}' is already used for another \
                             member or ops type (a struct_ops program serves one member of \
                             one ops struct)",
                            f.member
                        ),
                    ))
                }
                _ => {}
            }
        }
        if let Some((name, id)) = module {
            if let std::collections::hash_map::Entry::Vacant(v) = self.module_fds.entry(id) {
                v.insert(crate::kernel::open_module_btf(&name, id).map_err(|r| map_error(m, r))?);
            }
        }
        self.maps.insert(
            i,
            PlannedMap {
                kern,
                type_name,
                module: module_id,
            },
        );
        Ok(())
    }

    /// libbpf's rule for struct_ops programs: one a created map uses loads, one that only
    /// maps not created use does not; one no map uses is an error while it is to load
    /// (unless a kernel lacking its member dropped it, which turns it off).
    fn adjust_autoload(&self, open: &mut OpenObject) -> Result<()> {
        let spec = &open.spec;
        let dropped: Vec<usize> = self
            .maps
            .values()
            .flat_map(|p| p.kern.dropped.iter().copied())
            .collect();
        for (i, p) in spec.programs.iter().enumerate() {
            if p.prog_type != ProgType::StructOps {
                continue;
            }
            let used_by: Vec<usize> = spec
                .maps
                .iter()
                .enumerate()
                .filter(|(_, m)| m.struct_ops_slots.iter().any(|s| s.program == i))
                .map(|(mi, _)| mi)
                .collect();
            let load = self.progs.contains_key(&i);
            if !used_by.is_empty() || dropped.contains(&i) {
                if open.autoload[i] != load {
                    log::debug!(
                        "prog '{}': autoload {load}: {} created struct_ops map uses it",
                        p.name,
                        if load { "a" } else { "no" }
                    );
                }
                open.autoload[i] = load;
            } else if open.autoload[i] {
                return Err(Error::ProgramSpec {
                    prog: p.name.clone(),
                    reason: format!(
                        "SEC(\"{}\") program isn't referenced by any struct_ops map, did you \
                         forget to use it? (or turn its autoload off)",
                        p.section
                    ),
                });
            }
        }
        Ok(())
    }

    /// The attach target of struct_ops program `prog`, with its module BTF fd.
    pub(crate) fn prog_target(&self, prog: usize) -> Option<(ProgTarget, Option<BorrowedFd<'_>>)> {
        let t = *self.progs.get(&prog)?;
        Some((
            t,
            t.module
                .and_then(|id| self.module_fds.get(&id))
                .map(|f| f.as_fd()),
        ))
    }

    /// The module BTF fd of planned map `map`, if its type is in a module.
    pub(crate) fn map_module_fd(&self, map: usize) -> Option<BorrowedFd<'_>> {
        let id = self.maps.get(&map)?.module?;
        self.module_fds.get(&id).map(|f| f.as_fd())
    }
}

/// Where an ops struct's kernel types are: the BTF, the types, and for a module its
/// name and BTF object id.
type KernTypesAt = (Arc<Btf>, KernOpsTypes, Option<(String, u32)>);

/// The kernel BTF holding `struct bpf_struct_ops_<type_name>` (vmlinux first, then the
/// modules, as libbpf's `find_ksym_btf_id`), its types, and the module (name, BTF id).
fn find_kern_types(m: &MapSpec, type_name: &str, modules: &LoadModules) -> Result<KernTypesAt> {
    let vmlinux = crate::kernel::kernel_btf()?;
    if let Some(t) = KernOpsTypes::find(&vmlinux, type_name).map_err(|r| map_error(m, r))? {
        return Ok((vmlinux, t, None));
    }
    for module in modules.list() {
        if let Some(t) = KernOpsTypes::find(&module.btf, type_name).map_err(|r| map_error(m, r))? {
            log::debug!(
                "struct_ops {}: struct {type_name} is in module '{}'",
                m.name,
                module.name
            );
            return Ok((
                module.btf.clone(),
                t,
                Some((module.name.clone(), module.btf_obj_id)),
            ));
        }
    }
    Err(map_error(
        m,
        format!(
            "struct {}{} is not found in the kernel's BTF: this kernel (Linux {}) has no \
             struct_ops type '{type_name}' (built without it, or its module is not loaded)",
            corebpf_obj::struct_ops::kern::VALUE_PREFIX,
            corebpf_obj::struct_ops::kern::essential_name(type_name),
            crate::kernel::release()
        ),
    ))
}

fn map_error(m: &MapSpec, reason: String) -> Error {
    Error::StructOps {
        map: m.name.clone(),
        reason,
        error: None,
    }
}

/// A created struct_ops map's value, ready to be written: what registering it needs.
#[derive(Debug, Clone)]
pub(crate) struct StructOpsValue {
    /// The ops struct's name (`tcp_congestion_ops`).
    pub(crate) type_name: String,
    /// The `struct bpf_struct_ops_<name>` bytes with program fds in place.
    pub(crate) value: Vec<u8>,
    /// Members set to programs, with the program names.
    pub(crate) funcs: Vec<(String, String)>,
}

/// The value of planned map `p` with the fds of the `programs` loaded (`loaded` maps a
/// program index to its place in `programs`). The fds stay valid as long as the programs
/// do; the kernel takes its own references when the value is written.
pub(crate) fn value_with_fds<'p>(
    spec: &ObjectSpec,
    p: &PlannedMap,
    loaded: impl Fn(usize) -> Option<&'p Program>,
) -> std::result::Result<StructOpsValue, String> {
    use std::os::fd::AsRawFd;
    let mut value = p.kern.value.clone();
    let mut funcs = Vec::new();
    for f in &p.kern.funcs {
        let name = &spec.programs[f.program].name;
        let prog = loaded(f.program)
            .ok_or_else(|| format!("member '{}': program '{name}' was not loaded", f.member))?;
        let fd = prog.as_fd().as_raw_fd() as u64;
        let off = f.value_offset as usize;
        let slot = value
            .get_mut(off..off + 8)
            .ok_or_else(|| format!("member '{}': offset {off} past the value", f.member))?;
        slot.copy_from_slice(&fd.to_ne_bytes());
        funcs.push((f.member.clone(), name.clone()));
    }
    Ok(StructOpsValue {
        type_name: p.type_name.clone(),
        value,
        funcs,
    })
}
