//! Pass 1: which definitions a type needs, in an order C accepts (libbpf's
//! `btf_dump_order_type`), and which anonymous enums are referenced at all.

use super::{st, CDumper};
use crate::raw::Kind;
use crate::{BtfError, Result, Type};

impl CDumper<'_> {
    /// Marks every type referenced by another (an unreferenced anonymous enum is a
    /// top-level constant list and is printed on its own) and checks that every
    /// reference is in range.
    pub(super) fn mark_referenced(&mut self) -> Result<()> {
        let count = self.types.len() as u32;
        let mut refs: Vec<u32> = Vec::with_capacity(16);
        for i in 1..self.types.len() {
            let t = self.types[i];
            refs.clear();
            match t.kind() {
                Kind::Array => {
                    if let Some(a) = t.array() {
                        refs.extend([a.index_type, a.elem_type]);
                    }
                }
                Kind::Struct | Kind::Union => refs.extend(t.members().map(|m| m.type_id)),
                Kind::FuncProto => {
                    // libbpf does not count the return type as a reference (an anonymous
                    // enum only returned is printed on its own), but it must be in range.
                    let ret = t.type_id().unwrap_or(0);
                    if ret >= count {
                        return Err(out_of_range(i, t.kind(), ret, count));
                    }
                    refs.extend(t.params().map(|p| p.type_id));
                }
                Kind::Datasec => refs.extend(t.datasec_vars().map(|v| v.type_id)),
                _ => refs.extend(t.type_id()),
            }
            for &r in &refs {
                if r >= count {
                    return Err(out_of_range(i, t.kind(), r, count));
                }
                self.state[r as usize] |= st::REFERENCED;
            }
        }
        Ok(())
    }

    fn order_state(&self, id: u32) -> u8 {
        self.state[id as usize] & st::ORDER_MASK
    }

    fn set_order(&mut self, id: u32, s: u8) {
        let v = &mut self.state[id as usize];
        *v = (*v & !st::ORDER_MASK) | s;
    }

    /// Queues the definitions type `id` needs, then `id` itself if it is a named definition.
    /// Returns whether the link from the referrer is *strong* (`id` must be fully defined
    /// first) rather than *weak* (a forward declaration will do, through a pointer).
    pub(super) fn order_type(&mut self, id: u32, through_ptr: bool) -> Result<bool> {
        self.enter()?;
        let r = self.order_type_inner(id, through_ptr);
        self.leave();
        r
    }

    fn order_type_inner(&mut self, id: u32, through_ptr: bool) -> Result<bool> {
        let state = self.order_state(id);
        if state == st::ORDERED {
            return Ok(true);
        }
        let t = self.ty(id);
        if t.is_unknown_kind() {
            // An opaque placeholder definition: needed first, like a full struct.
            self.emit_queue.push(id);
            self.set_order(id, st::ORDERED);
            return Ok(true);
        }
        let named = t.name_off() != 0;
        if state == st::ORDERING {
            // A loop, resolvable through a forward declaration of a named struct/union.
            if t.is_composite() && through_ptr && named {
                return Ok(false);
            }
            return Err(BtfError::Dump(format!(
                "unsatisfiable type cycle through type [{id}]"
            )));
        }
        let referenced = self.state[id as usize] & st::REFERENCED != 0;
        let next = t.type_id().unwrap_or(0);
        match t.kind() {
            Kind::Int | Kind::Float => {
                self.set_order(id, st::ORDERED);
                Ok(false)
            }
            Kind::Ptr => {
                let strong = self.order_type(next, true)?;
                self.set_order(id, st::ORDERED);
                Ok(strong)
            }
            Kind::Array => self.order_type(t.array().map_or(0, |a| a.elem_type), false),
            Kind::Struct | Kind::Union => self.order_composite(id, t, through_ptr),
            Kind::Enum | Kind::Enum64 | Kind::Fwd => {
                // Named or unreferenced ones are top-level declarations.
                if named || !referenced {
                    self.emit_queue.push(id);
                }
                self.set_order(id, st::ORDERED);
                Ok(true)
            }
            Kind::Typedef => {
                let strong = self.order_type(next, through_ptr)?;
                if through_ptr && !strong {
                    return Ok(false);
                }
                self.emit_queue.push(id);
                self.set_order(id, st::ORDERED);
                Ok(true)
            }
            Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                self.order_type(next, through_ptr)
            }
            Kind::FuncProto => {
                let mut strong = self.order_type(next, through_ptr)?;
                for p in t.params() {
                    strong |= self.order_type(p.type_id, through_ptr)?;
                }
                Ok(strong)
            }
            Kind::Func | Kind::Var | Kind::Datasec | Kind::DeclTag => {
                self.set_order(id, st::ORDERED);
                Ok(false)
            }
            Kind::Void => Ok(false),
        }
    }
}

impl<'a> CDumper<'a> {
    /// [`CDumper::order_type`] of struct or union `t` (type `id`): strong only if embedded
    /// (no pointer on the path) or anonymous (then it is defined inline even behind a
    /// pointer).
    fn order_composite(&mut self, id: u32, t: Type<'a>, through_ptr: bool) -> Result<bool> {
        let named = t.name_off() != 0;
        if through_ptr && named {
            return Ok(false);
        }
        self.set_order(id, st::ORDERING);
        for m in t.members() {
            self.order_type(m.type_id, false)?;
        }
        if named {
            self.emit_queue.push(id);
        }
        self.set_order(id, st::ORDERED);
        Ok(true)
    }
}

fn out_of_range(i: usize, kind: Kind, id: u32, count: u32) -> BtfError {
    BtfError::TypeIdOutOfRange {
        what: format!("type [{i}] ({kind})"),
        id,
        last: count - 1,
    }
}
