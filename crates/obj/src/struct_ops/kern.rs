//! A struct_ops map's value laid out for a kernel (libbpf's `bpf_map__init_kern_struct_ops`):
//! the kernel's `struct bpf_struct_ops_<name>` wraps its `struct <name>` as member `data`;
//! each member of the object's struct is matched by name, scalars and arrays are copied to
//! the kernel's offsets, function pointers are left for the loader to fill with program fds.
//!
//! Version tolerance is libbpf 1.4's: a member the kernel's type lacks is skipped when the
//! object leaves it zero (NULL), and an error otherwise; its program is then not loaded.

use corebpf_btf::{Btf, Kind};

use crate::error::{obj_btf_err, ObjError, Result};
use crate::maps::MapSpec;
use crate::object::ProgramSpec;

/// The value type's prefix: `struct bpf_struct_ops_tcp_congestion_ops` wraps
/// `struct tcp_congestion_ops`.
pub const VALUE_PREFIX: &str = "bpf_struct_ops_";

/// The kernel types a struct_ops map needs, found in one kernel BTF (vmlinux or a module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernOpsTypes {
    /// `struct <name>`: the programs' `attach_btf_id`.
    pub type_id: u32,
    /// `struct bpf_struct_ops_<name>`: the map's `btf_vmlinux_value_type_id`.
    pub value_type_id: u32,
    /// Size of the value type: the map's value size.
    pub value_size: u32,
    /// Byte offset of the `struct <name>` member within the value type.
    pub data_offset: u32,
}

impl KernOpsTypes {
    /// Finds the types of ops struct `name` (a `___flavor` suffix is dropped, as CO-RE
    /// does) in `kern`: `Ok(None)` if `kern` has no `struct bpf_struct_ops_<name>`, an error
    /// (in words) if it has one that does not wrap `struct <name>`.
    pub fn find(kern: &Btf, name: &str) -> std::result::Result<Option<KernOpsTypes>, String> {
        let name = essential_name(name);
        let vname = format!("{VALUE_PREFIX}{name}");
        let Some(value_type_id) = kern.find_by_name_kind(&vname, Kind::Struct) else {
            return Ok(None);
        };
        let type_id = kern
            .find_by_name_kind(name, Kind::Struct)
            .ok_or_else(|| format!("struct {name} is not found in kernel BTF"))?;
        let vtype = kern.type_by_id(value_type_id).map_err(|e| e.to_string())?;
        let data = vtype
            .members()
            .find(|m| m.type_id == type_id)
            .ok_or_else(|| format!("struct {name} data is not found in struct {vname}"))?;
        Ok(Some(KernOpsTypes {
            type_id,
            value_type_id,
            value_size: vtype.size(),
            data_offset: data.bit_offset / 8,
        }))
    }
}

/// The part of a type name before a `___flavor` suffix (libbpf's essential name).
pub fn essential_name(name: &str) -> &str {
    &name[..corebpf_btf::essential_len(name.as_bytes())]
}

/// A function pointer member set to a program, in the kernel's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernFunc {
    /// Member name.
    pub member: String,
    /// Index of the member in the kernel's struct: the program's `expected_attach_type`.
    pub member_index: u32,
    /// Byte offset in the kernel value where the program's fd goes.
    pub value_offset: u32,
    /// The program (index in the object's programs).
    pub program: usize,
}

/// A struct_ops map's value for one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernStructOps {
    /// The kernel types.
    pub types: KernOpsTypes,
    /// The value: data members copied, function pointers zero (see [`Self::funcs`]).
    pub value: Vec<u8>,
    /// The function pointer members set to programs.
    pub funcs: Vec<KernFunc>,
    /// Programs of zero members the kernel lacks: not loaded for this map.
    pub dropped: Vec<usize>,
}

/// Lays out struct_ops map `map` (of the object whose BTF is `btf` and whose programs are
/// named `programs`) for kernel BTF `kern`, whose types are `types`. `kernel` names the
/// kernel in errors (`Linux 6.1.0`). Logs libbpf's `struct_ops init_kern` lines.
pub fn kern_struct_ops(
    map: &MapSpec,
    btf: &Btf,
    programs: &[ProgramSpec],
    kern: &Btf,
    types: &KernOpsTypes,
    kernel: &str,
) -> Result<KernStructOps> {
    let err = |member: &str, reason: String| ObjError::Map {
        map: map.name.clone(),
        section: map.section.clone(),
        reason: format!("member '{member}': {reason}"),
    };
    let local = btf
        .type_by_id(map.struct_ops_type_id.unwrap_or(0))
        .map_err(obj_btf_err)?;
    let kern_type = kern.type_by_id(types.type_id).map_err(obj_btf_err)?;
    let data = map.data.as_deref().unwrap_or(&[]);
    log::debug!(
        "struct_ops init_kern {}: type_id:{} kern_type_id:{} kern_vtype_id:{}",
        map.name,
        local.id(),
        types.type_id,
        types.value_type_id
    );
    let mut out = KernStructOps {
        types: *types,
        value: vec![0; types.value_size as usize],
        funcs: Vec::new(),
        dropped: Vec::new(),
    };
    for m in local.members() {
        let name = m.name();
        let ctx = MemberCtx {
            map,
            btf,
            programs,
            kern,
            data,
            name,
        };
        let program = map
            .struct_ops_slots
            .iter()
            .find(|s| s.member == name)
            .map(|s| s.program);
        let Some(km) = kern_type.members().find(|k| k.name() == name) else {
            ctx.skip_missing(&m, program, kern_type.name(), kernel, &mut out)
                .map_err(|r| err(name, r))?;
            continue;
        };
        if m.bitfield_size != 0 || km.bitfield_size != 0 {
            return Err(err(name, "bitfields are not supported".into()));
        }
        ctx.place(&m, &km, types.data_offset, program, &mut out)
            .map_err(|r| err(name, r))?;
    }
    Ok(out)
}

/// One member of the object's struct being placed in the kernel value.
struct MemberCtx<'a> {
    map: &'a MapSpec,
    btf: &'a Btf,
    programs: &'a [ProgramSpec],
    kern: &'a Btf,
    data: &'a [u8],
    name: &'a str,
}

impl MemberCtx<'_> {
    /// The member's bytes in the object's value.
    fn bytes(&self, m: &corebpf_btf::Member<'_>) -> std::result::Result<&[u8], String> {
        let size = self.btf.size_of(m.type_id).map_err(|e| e.to_string())? as usize;
        let off = (m.bit_offset / 8) as usize;
        off.checked_add(size)
            .and_then(|end| self.data.get(off..end))
            .ok_or_else(|| format!("{size} bytes at offset {off} run past the value"))
    }

    /// A member the kernel's struct lacks: fine if the object leaves it zero.
    fn skip_missing(
        &self,
        m: &corebpf_btf::Member<'_>,
        program: Option<usize>,
        kern_name: &str,
        kernel: &str,
        out: &mut KernStructOps,
    ) -> std::result::Result<(), String> {
        let set = program.is_some() || self.bytes(m)?.iter().any(|&b| b != 0);
        if set {
            return Err(format!(
                "set in the object, but struct {kern_name} of {kernel} has no such member"
            ));
        }
        log::debug!(
            "struct_ops {}: member {} not found in kernel, skipping it as it's set to zero",
            self.map.name,
            self.name
        );
        out.dropped.extend(program);
        Ok(())
    }

    /// Places one member the kernel has in the value, whose kernel struct starts at
    /// `data_off`.
    fn place(
        &self,
        m: &corebpf_btf::Member<'_>,
        km: &corebpf_btf::Member<'_>,
        data_off: u32,
        program: Option<usize>,
        out: &mut KernStructOps,
    ) -> std::result::Result<(), String> {
        let mtype = self
            .btf
            .skip_mods_and_typedefs(m.type_id)
            .map_err(|e| e.to_string())?;
        let ktype = self
            .kern
            .skip_mods_and_typedefs(km.type_id)
            .map_err(|e| e.to_string())?;
        if mtype.kind() != ktype.kind() {
            return Err(format!(
                "type kind {} does not match the kernel's {}",
                mtype.kind(),
                ktype.kind()
            ));
        }
        let (moff, kern_moff) = (m.bit_offset / 8, km.bit_offset / 8);
        let kern_off = data_off + kern_moff;
        if mtype.kind() == Kind::Ptr {
            let Some(program) = program else {
                return Ok(());
            };
            if !super::is_func_ptr(self.kern, km.type_id) {
                return Err("the kernel's member is not a function pointer".into());
            }
            log::debug!(
                "struct_ops init_kern {}: func ptr {} is set to prog {} from data(+{moff}) to kern_data(+{kern_moff})",
                self.map.name,
                self.name,
                self.programs.get(program).map_or("?", |p| p.name.as_str()),
            );
            out.funcs.push(KernFunc {
                member: self.name.to_string(),
                member_index: km.index,
                value_offset: kern_off,
                program,
            });
            return Ok(());
        }
        let bytes = self.bytes(m)?;
        let ksize = self.kern.size_of(km.type_id).map_err(|e| e.to_string())?;
        if bytes.len() != ksize as usize {
            return Err(format!(
                "size {} does not match the kernel's {ksize}",
                bytes.len()
            ));
        }
        let dst = out
            .value
            .get_mut(kern_off as usize..kern_off as usize + bytes.len())
            .ok_or_else(|| format!("kernel offset {kern_off} runs past the kernel's value"))?;
        dst.copy_from_slice(bytes);
        log::debug!(
            "struct_ops init_kern {}: copy {} {} bytes from data(+{moff}) to kern_data(+{kern_moff})",
            self.map.name,
            self.name,
            bytes.len(),
        );
        Ok(())
    }
}
