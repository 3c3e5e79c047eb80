//! Following references: skipping typedefs and modifiers, sizes and alignments
//! (libbpf's `btf__resolve_size`, `btf__align_of`, `skip_mods_and_typedefs`).

use crate::raw::Kind;
use crate::types::Type;
use crate::{Btf, BtfError, Result};

/// Deepest reference chain followed before calling it a cycle (libbpf's `MAX_RESOLVE_DEPTH`).
pub const MAX_RESOLVE_DEPTH: u32 = 32;

impl Btf {
    /// Follows CONST, VOLATILE, RESTRICT, TYPE_TAG and TYPEDEF from `id` to the first other
    /// type.
    pub fn skip_mods_and_typedefs(&self, id: u32) -> Result<Type<'_>> {
        self.skip_while(id, |k| k.is_modifier() || k == Kind::Typedef)
    }

    /// Follows modifiers (not typedefs) from `id`.
    pub fn skip_mods(&self, id: u32) -> Result<Type<'_>> {
        self.skip_while(id, Kind::is_modifier)
    }

    fn skip_while(&self, id: u32, skip: impl Fn(Kind) -> bool) -> Result<Type<'_>> {
        let mut t = self.type_by_id(id)?;
        for _ in 0..MAX_RESOLVE_DEPTH {
            if !skip(t.kind()) {
                return Ok(t);
            }
            t = self.type_by_id(t.type_id().unwrap_or(0))?;
        }
        Err(BtfError::ReferenceCycle {
            id,
            limit: MAX_RESOLVE_DEPTH,
        })
    }

    /// Size in bytes of a value of type `id` (libbpf's `btf__resolve_size`): follows
    /// typedefs, modifiers and VARs, multiplies array counts; pointers are
    /// [`Btf::pointer_size`] bytes.
    pub fn size_of(&self, id: u32) -> Result<u32> {
        let mut t = self.type_by_id(id)?;
        let mut nelems: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            unknown_has_no_size(t, "size")?;
            let size = match t.kind() {
                Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::Datasec
                | Kind::Float => t.size() as u64,
                Kind::Ptr => self.pointer_size() as u64,
                Kind::Typedef | Kind::Var | Kind::DeclTag | Kind::TypeTag => {
                    t = self.type_by_id(t.type_id().unwrap_or(0))?;
                    continue;
                }
                k if k.is_modifier() => {
                    t = self.type_by_id(t.type_id().unwrap_or(0))?;
                    continue;
                }
                Kind::Array => {
                    let a = t.array().unwrap_or(crate::Array {
                        elem_type: 0,
                        index_type: 0,
                        nelems: 0,
                    });
                    nelems = nelems
                        .checked_mul(a.nelems as u64)
                        .filter(|&n| n <= u32::MAX as u64)
                        .ok_or_else(|| overflow(id))?;
                    t = self.type_by_id(a.elem_type)?;
                    continue;
                }
                k => {
                    return Err(BtfError::BadSize {
                        id,
                        reason: format!("a {k} has no size"),
                    })
                }
            };
            let total = nelems.checked_mul(size).ok_or_else(|| overflow(id))?;
            return u32::try_from(total).map_err(|_| overflow(id));
        }
        Err(BtfError::ReferenceCycle {
            id,
            limit: MAX_RESOLVE_DEPTH,
        })
    }

    /// Alignment in bytes of type `id` (libbpf's `btf__align_of`): scalars align to their
    /// size capped at the pointer size; a struct is 1-aligned if it is packed.
    pub fn align_of(&self, id: u32) -> Result<u32> {
        self.align_of_depth(id, 0)
    }

    fn align_of_depth(&self, id: u32, depth: u32) -> Result<u32> {
        if depth > MAX_RESOLVE_DEPTH {
            return Err(BtfError::ReferenceCycle {
                id,
                limit: MAX_RESOLVE_DEPTH,
            });
        }
        let t = self.type_by_id(id)?;
        unknown_has_no_size(t, "alignment")?;
        let ptr = self.pointer_size();
        Ok(match t.kind() {
            Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Float => t.size().min(ptr).max(1),
            Kind::Ptr => ptr,
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                self.align_of_depth(t.type_id().unwrap_or(0), depth + 1)?
            }
            Kind::Array => self.align_of_depth(t.array().map_or(0, |a| a.elem_type), depth + 1)?,
            Kind::Struct | Kind::Union => {
                let mut max = 1;
                for m in t.members() {
                    let align = self.align_of_depth(m.type_id, depth + 1)?;
                    // A member at an offset its own alignment does not allow means the
                    // struct was declared packed.
                    if m.bitfield_size == 0 && m.bit_offset % (8 * align) != 0 {
                        return Ok(1);
                    }
                    max = max.max(align);
                }
                if t.size() % max != 0 {
                    return Ok(1);
                }
                max
            }
            k => {
                return Err(BtfError::BadSize {
                    id,
                    reason: format!("a {k} has no alignment"),
                })
            }
        })
    }

    /// Pointer size of the target this BTF describes: the size of `long` if the BTF has it,
    /// else 8 (BPF and every 64-bit kernel).
    pub fn pointer_size(&self) -> u32 {
        self.cached_pointer_size(|| self.guess_pointer_size())
    }

    fn guess_pointer_size(&self) -> u32 {
        for name in ["long int", "long unsigned int", "long", "unsigned long"] {
            if let Some(id) = self.find_by_name_kind(name, Kind::Int) {
                if let Ok(t) = self.type_by_id(id) {
                    if matches!(t.size(), 4 | 8) {
                        return t.size();
                    }
                }
            }
        }
        8
    }
}

/// A type of a kind this reader does not know is opaque: it has no size or alignment.
fn unknown_has_no_size(t: Type<'_>, what: &str) -> Result<()> {
    if t.is_unknown_kind() {
        return Err(BtfError::BadSize {
            id: t.id(),
            reason: format!(
                "a type of BTF kind {} (unknown to corebpf) has no {what}",
                t.raw_kind()
            ),
        });
    }
    Ok(())
}

fn overflow(id: u32) -> BtfError {
    BtfError::BadSize {
        id,
        reason: "size overflows 32 bits".into(),
    }
}
