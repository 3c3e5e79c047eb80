//! User-space changes to a struct_ops map's value before load: what libbpf's skeleton
//! exposes as the "shadow type" (data members writable in place, function pointers as
//! programs). Members are named, and checked against the object's struct.

use corebpf_btf::Kind;

use crate::error::{obj_btf_err, ObjError, Result};
use crate::maps::{MapKind, StructOpsSlot};
use crate::object::ObjectSpec;

impl ObjectSpec {
    /// The struct_ops map `map`'s index, or an error if it is none.
    fn struct_ops_index(&self, map: &str) -> Result<usize> {
        self.maps
            .iter()
            .position(|m| m.name == map && m.kind == MapKind::StructOps)
            .ok_or_else(|| ObjError::Map {
                map: map.into(),
                section: ".struct_ops".into(),
                reason: "no struct_ops map of that name".into(),
            })
    }

    /// Byte offset, size and whether it is a function pointer, of `member` in struct_ops
    /// map `map`'s struct.
    fn struct_ops_member(&self, map: usize, member: &str) -> Result<(usize, usize, bool)> {
        let m = &self.maps[map];
        let err = |reason: String| ObjError::Map {
            map: m.name.clone(),
            section: m.section.clone(),
            reason: format!("member '{member}': {reason}"),
        };
        let btf = self
            .btf
            .as_ref()
            .ok_or_else(|| err("the object has no BTF".into()))?;
        let ty = btf
            .type_by_id(m.struct_ops_type_id.unwrap_or(0))
            .map_err(obj_btf_err)?;
        let mm = ty
            .members()
            .find(|mm| mm.name() == member)
            .ok_or_else(|| err(format!("struct {} has no such member", ty.name())))?;
        if mm.bitfield_size != 0 {
            return Err(err("bitfields are not supported".into()));
        }
        let size = btf.size_of(mm.type_id).map_err(obj_btf_err)? as usize;
        let ptr = btf
            .skip_mods_and_typedefs(mm.type_id)
            .is_ok_and(|t| t.kind() == Kind::Ptr);
        let func = ptr && super::is_func_ptr(btf, mm.type_id);
        if ptr && !func {
            return Err(err("a data pointer cannot be set from user space".into()));
        }
        Ok(((mm.bit_offset / 8) as usize, size, func))
    }

    /// The bytes of data member `member` of struct_ops map `map`'s value, to read or change
    /// before load (e.g. `name` of a `tcp_congestion_ops`, or a scheduler's `flags`).
    pub fn struct_ops_data_mut(&mut self, map: &str, member: &str) -> Result<&mut [u8]> {
        let i = self.struct_ops_index(map)?;
        let (off, size, func) = self.struct_ops_member(i, member)?;
        let m = &mut self.maps[i];
        if func {
            return Err(ObjError::Map {
                map: m.name.clone(),
                section: m.section.clone(),
                reason: format!("member '{member}' is a function pointer: set its program instead"),
            });
        }
        let value_size = m.value_size as usize;
        let (name, section) = (m.name.clone(), m.section.clone());
        let data = m.data.get_or_insert_with(|| vec![0; value_size]);
        data.get_mut(off..off.saturating_add(size))
            .ok_or_else(|| ObjError::Map {
                map: name,
                section,
                reason: format!("member '{member}': {size} bytes at {off} run past the value"),
            })
    }

    /// The program function pointer member `member` of struct_ops map `map` points to.
    pub fn struct_ops_program(&self, map: &str, member: &str) -> Result<Option<usize>> {
        let i = self.struct_ops_index(map)?;
        let (_, _, func) = self.struct_ops_member(i, member)?;
        if !func {
            return Ok(None);
        }
        Ok(self.maps[i]
            .struct_ops_slots
            .iter()
            .find(|s| s.member == member)
            .map(|s| s.program))
    }

    /// Points function pointer member `member` of struct_ops map `map` to program `program`
    /// (an index; it must be a struct_ops program), or to nothing (`None`: NULL, so a kernel
    /// lacking the member accepts the map, and a program no map uses is not loaded).
    pub fn set_struct_ops_program(
        &mut self,
        map: &str,
        member: &str,
        program: Option<usize>,
    ) -> Result<()> {
        let i = self.struct_ops_index(map)?;
        let (off, _, func) = self.struct_ops_member(i, member)?;
        let m = &self.maps[i];
        let err = |reason: String| ObjError::Map {
            map: m.name.clone(),
            section: m.section.clone(),
            reason: format!("member '{member}': {reason}"),
        };
        if !func {
            return Err(err("not a function pointer".into()));
        }
        if let Some(p) = program {
            let spec = self
                .programs
                .get(p)
                .ok_or_else(|| err(format!("no program #{p}")))?;
            if spec.prog_type != corebpf_abi::ProgType::StructOps {
                return Err(err(format!(
                    "program '{}' is not a struct_ops program",
                    spec.name
                )));
            }
        }
        let m = &mut self.maps[i];
        m.struct_ops_slots.retain(|s| s.member != member);
        if let Some(program) = program {
            m.struct_ops_slots.push(StructOpsSlot {
                offset: off as u32,
                member: member.to_string(),
                program,
            });
        }
        Ok(())
    }
}
