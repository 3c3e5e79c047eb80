//! Declarators: turning a chain of BTF types into C syntax (libbpf's
//! `btf_dump_emit_type_decl` and `btf_dump_emit_type_chain`).
//!
//! `typedef const int * const * arr_t[10]` is, in BTF, the chain
//! typedef → array → ptr → const → ptr → const → int. The chain is pushed on a stack
//! down to a terminal type, then printed from the terminal up: qualifiers before a base
//! type go left of it, qualifiers of pointers go right of the `*`, and arrays and
//! function prototypes wrap what is left of the chain in parentheses around the name.

use super::names::{tname, Ns};
use super::CDumper;
use crate::raw::Kind;
use crate::{BtfError, Result, Type};

/// Longest declarator chain printed (kernel chains are a handful of links).
const MAX_CHAIN: usize = 1024;

impl CDumper<'_> {
    /// Prints a declaration of `fname` (possibly empty) with type `id`, as a struct member,
    /// a parameter or a typedef; nested anonymous types are printed inline at `lvl`.
    pub(super) fn emit_type_decl(&mut self, mut id: u32, fname: &[u8], lvl: u32) -> Result<()> {
        self.enter()?;
        let start = self.decl_stack.len();
        loop {
            self.decl_stack.push(id);
            if self.decl_stack.len() - start > MAX_CHAIN {
                self.decl_stack.truncate(start);
                return Err(BtfError::Dump(format!(
                    "declarator of type [{id}] is longer than {MAX_CHAIN} (a reference cycle?)"
                )));
            }
            if id == 0 {
                break;
            }
            let t = self.ty(id);
            id = match t.kind() {
                Kind::Ptr
                | Kind::Volatile
                | Kind::Const
                | Kind::Restrict
                | Kind::FuncProto
                | Kind::TypeTag => t.type_id().unwrap_or(0),
                Kind::Array => t.array().map_or(0, |a| a.elem_type),
                // Terminal types, and kinds that cannot appear in a declarator.
                _ => break,
            };
        }
        // This call's frame is decl_stack[start..start + cnt]; nested declarations push
        // above it and pop back before returning.
        let mut cnt = self.decl_stack.len() - start;
        let r = self.emit_type_chain(start, &mut cnt, fname, lvl);
        self.decl_stack.truncate(start);
        self.leave();
        r
    }

    fn top(&self, base: usize, cnt: usize) -> u32 {
        self.decl_stack[base + cnt - 1]
    }

    /// Prints the qualifiers at the top of the frame, left of a base type.
    fn emit_mods(&mut self, base: usize, cnt: &mut usize) {
        while *cnt > 0 {
            let s: &[u8] = match self.ty(self.top(base, *cnt)).kind() {
                Kind::Volatile => b"volatile ",
                Kind::Const => b"const ",
                Kind::Restrict => b"restrict ",
                _ => return,
            };
            self.w(s);
            *cnt -= 1;
        }
    }

    /// Drops qualifiers that C cannot express (on arrays, on function types).
    fn drop_mods(&mut self, base: usize, cnt: &mut usize) {
        while *cnt > 0 && self.ty(self.top(base, *cnt)).kind().is_modifier() {
            *cnt -= 1;
        }
    }

    fn emit_name(&mut self, fname: &[u8], last_was_ptr: bool) {
        if !fname.is_empty() && !last_was_ptr {
            self.w(b" ");
        }
        self.w(fname);
    }

    /// Prints the frame `decl_stack[base..base + cnt]` from the top (the terminal type)
    /// down, with the name `fname` where C puts it.
    fn emit_type_chain(
        &mut self,
        base: usize,
        cnt: &mut usize,
        fname: &[u8],
        lvl: u32,
    ) -> Result<()> {
        self.enter()?;
        // On an error the dump is abandoned, so depth is only restored on success.
        self.emit_chain_links(base, cnt, fname, lvl)?;
        self.leave();
        Ok(())
    }

    fn emit_chain_links(
        &mut self,
        base: usize,
        cnt: &mut usize,
        fname: &[u8],
        lvl: u32,
    ) -> Result<()> {
        // Whether the last thing printed was `*`: then `**` needs no space, and nor does a
        // name after it.
        let mut last_was_ptr = true;
        while *cnt > 0 {
            *cnt -= 1;
            let id = self.decl_stack[base + *cnt];
            if id == 0 {
                self.emit_mods(base, cnt);
                self.w(b"void");
                last_was_ptr = false;
                continue;
            }
            let t = self.ty(id);
            if t.is_unknown_kind() {
                self.emit_mods(base, cnt);
                self.emit_unknown_ref(id);
                last_was_ptr = false;
                continue;
            }
            let kind = t.kind();
            match kind {
                Kind::Int
                | Kind::Float
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::Fwd
                | Kind::Typedef
                | Kind::TypeTag => {
                    self.emit_mods(base, cnt);
                    self.emit_base(id, t, lvl)?;
                }
                Kind::Ptr => self.w(if last_was_ptr { b"*" } else { b" *" }),
                Kind::Volatile => self.w(b" volatile"),
                Kind::Const => self.w(b" const"),
                Kind::Restrict => self.w(b" restrict"),
                Kind::Array => {
                    let nelems = t.array().map_or(0, |a| a.nelems);
                    return self.emit_array_link(nelems, base, cnt, fname, last_was_ptr, lvl);
                }
                Kind::FuncProto => {
                    return self.emit_proto_link(id, base, cnt, fname, last_was_ptr, lvl)
                }
                // Not a declarator kind (FUNC, VAR, ...): libbpf warns and stops here.
                _ => return Ok(()),
            }
            last_was_ptr = kind == Kind::Ptr;
        }
        self.emit_name(fname, last_was_ptr);
        Ok(())
    }

    /// The base type `t` (type `id`) a declarator chain ends in (its qualifiers already printed);
    /// anonymous structs, unions and enums are defined inline at `lvl`.
    fn emit_base(&mut self, id: u32, t: Type<'_>, lvl: u32) -> Result<()> {
        match t.kind() {
            Kind::Int | Kind::Float => self.w(tname(&t)),
            Kind::Struct | Kind::Union if t.name_off() == 0 => self.emit_struct_def(id, lvl)?,
            Kind::Struct | Kind::Union => self.emit_struct_fwd(id),
            Kind::Enum | Kind::Enum64 if t.name_off() == 0 => self.emit_enum_def(id, lvl)?,
            Kind::Enum | Kind::Enum64 => self.emit_enum_fwd(id),
            Kind::Fwd => self.emit_fwd_def(id),
            Kind::Typedef => self.write_name(id, Ns::Ident),
            Kind::TypeTag if t.kflag() => {
                self.w(b" __attribute__((");
                self.w(tname(&t));
                self.w(b"))");
            }
            Kind::TypeTag => {
                self.w(b" __attribute__((btf_type_tag(\"");
                self.w(tname(&t));
                self.w(b"\")))");
            }
            _ => {}
        }
        Ok(())
    }

    /// An array link: what is left of the chain, in parentheses unless it is another
    /// array, then `[nelems]`.
    fn emit_array_link(
        &mut self,
        nelems: u32,
        base: usize,
        cnt: &mut usize,
        fname: &[u8],
        last_was_ptr: bool,
        lvl: u32,
    ) -> Result<()> {
        // GCC puts an array element's qualifiers on the array too; C has no way to say
        // that, and it means nothing, so they are dropped.
        self.drop_mods(base, cnt);
        if *cnt == 0 {
            self.emit_name(fname, last_was_ptr);
        } else {
            let multidim = self.ty(self.top(base, *cnt)).kind() == Kind::Array;
            if !fname.is_empty() && !last_was_ptr {
                self.w(b" ");
            }
            // `int (*a)[4]`, but `int a[2][4]` without parentheses.
            if !multidim {
                self.w(b"(");
            }
            self.emit_type_chain(base, cnt, fname, lvl)?;
            if !multidim {
                self.w(b")");
            }
        }
        self.w(b"[");
        self.num(nelems);
        self.w(b"]");
        Ok(())
    }

    /// A function prototype link: what is left of the chain in parentheses (a function
    /// pointer) or the name, then the parameters of prototype `id`.
    fn emit_proto_link(
        &mut self,
        id: u32,
        base: usize,
        cnt: &mut usize,
        fname: &[u8],
        last_was_ptr: bool,
        lvl: u32,
    ) -> Result<()> {
        // GCC marks noreturn function pointers volatile; dropped likewise.
        self.drop_mods(base, cnt);
        if *cnt > 0 {
            self.w(b" (");
            self.emit_type_chain(base, cnt, fname, lvl)?;
            self.w(b")");
        } else {
            self.emit_name(fname, last_was_ptr);
        }
        self.emit_params(id, lvl)
    }

    /// `(int a, char *b)`, `(void)` for none (clang writes `f(void)` as one void
    /// parameter), `(int, ...)` for a trailing void parameter.
    fn emit_params(&mut self, id: u32, lvl: u32) -> Result<()> {
        let t = self.ty(id);
        let vlen = t.vlen() as usize;
        self.w(b"(");
        let mut params = t.params();
        if vlen == 0 || (vlen == 1 && params.clone().next().is_some_and(|p| p.type_id == 0)) {
            self.w(b"void)");
            return Ok(());
        }
        let strs = t.btf();
        for i in 0..vlen {
            let Some(p) = params.next() else { break };
            if i > 0 {
                self.w(b", ");
            }
            if i == vlen - 1 && p.type_id == 0 {
                self.w(b"...");
                break;
            }
            let name = strs.str_bytes_at(p.name_off).unwrap_or(b"");
            self.emit_type_decl(p.type_id, name, lvl)?;
        }
        self.w(b")");
        Ok(())
    }
}
