//! Pass 2: printing definitions (libbpf's `btf_dump_emit_type` and the `*_def`/`*_fwd`
//! printers), with forward declarations where a pointer cycle needs them.

use super::names::{cstr, tname, Ns};
use super::{st, CDumper};
use crate::raw::Kind;
use crate::{Result, Type};

/// Typedefs of GCC's internal Arm SIMD types, which clang does not know.
const MISSING_BASE_TYPES: [(&[u8], &[u8]); 4] = [
    (b"__Poly8_t", b"unsigned char"),
    (b"__Poly16_t", b"unsigned short"),
    (b"__Poly64_t", b"unsigned long long"),
    (b"__Poly128_t", b"unsigned __int128"),
];

impl<'a> CDumper<'a> {
    fn emit_state(&self, id: u32) -> u8 {
        self.state[id as usize] & st::EMIT_MASK
    }

    fn set_emit(&mut self, id: u32, s: u8) {
        let v = &mut self.state[id as usize];
        *v = (*v & !st::EMIT_MASK) | s;
    }

    fn fwd_emitted(&self, id: u32) -> bool {
        self.state[id as usize] & st::FWD_EMITTED != 0
    }

    fn set_fwd_emitted(&mut self, id: u32) {
        self.state[id as usize] |= st::FWD_EMITTED;
    }

    /// `__builtin_va_list` is a compiler built-in: defining it breaks compilation.
    fn is_blacklisted(&self, id: u32) -> bool {
        let t = self.ty(id);
        t.name_off() != 0 && tname(&t) == b"__builtin_va_list"
    }

    /// Prints type `id` and what it needs; `cont_id` is the struct/union being defined
    /// around it (0 at top level), whose own name needs no forward declaration.
    pub(super) fn emit_type(&mut self, id: u32, cont_id: u32) -> Result<()> {
        self.enter()?;
        let r = self.emit_type_inner(id, cont_id);
        self.leave();
        r
    }

    fn emit_type_inner(&mut self, id: u32, cont_id: u32) -> Result<()> {
        let state = self.emit_state(id);
        if state == st::EMITTED {
            return Ok(());
        }
        let t = self.ty(id);
        if state == st::EMITTING {
            return self.emit_cycle_break(id, t, cont_id);
        }
        if t.is_unknown_kind() {
            self.emit_unknown_def(id);
            self.set_emit(id, st::EMITTED);
            return Ok(());
        }
        let top_level = cont_id == 0;
        let next = t.type_id().unwrap_or(0);
        match t.kind() {
            Kind::Int => {
                self.emit_missing_aliases(id);
                self.set_emit(id, st::EMITTED);
            }
            Kind::Enum | Kind::Enum64 => {
                if top_level {
                    self.emit_enum_def(id, 0)?;
                    self.w(b";\n\n");
                }
                self.set_emit(id, st::EMITTED);
            }
            Kind::Ptr | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                self.emit_type(next, cont_id)?;
            }
            Kind::Array => {
                self.emit_type(t.array().map_or(0, |a| a.elem_type), cont_id)?;
            }
            Kind::Fwd => {
                self.emit_fwd_def(id);
                self.w(b";\n\n");
                self.set_emit(id, st::EMITTED);
            }
            Kind::Typedef => self.emit_typedef(id, next)?,
            Kind::Struct | Kind::Union => self.emit_composite(id, t, cont_id)?,
            Kind::FuncProto => {
                self.emit_type(next, cont_id)?;
                for p in t.params() {
                    self.emit_type(p.type_id, cont_id)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `t` (type `id`) is referenced while being defined: a forward declaration breaks the cycle.
    fn emit_cycle_break(&mut self, id: u32, t: Type<'a>, cont_id: u32) -> Result<()> {
        if self.fwd_emitted(id) {
            return Ok(());
        }
        match t.kind() {
            Kind::Struct | Kind::Union => {
                // Inside its own definition, or an anonymous loop (not printable).
                if id == cont_id || t.name_off() == 0 {
                    return Ok(());
                }
                self.emit_struct_fwd(id);
                self.w(b";\n\n");
                self.set_fwd_emitted(id);
            }
            Kind::Typedef => {
                // The typedef itself serves as the declaration for pointer uses.
                if !self.is_blacklisted(id) {
                    self.emit_typedef_def(id, 0)?;
                    self.w(b";\n\n");
                }
                self.set_fwd_emitted(id);
            }
            _ => {}
        }
        Ok(())
    }

    /// A typedef: the type it names first, then the typedef (unless a cycle already
    /// printed it).
    fn emit_typedef(&mut self, id: u32, next: u32) -> Result<()> {
        self.set_emit(id, st::EMITTING);
        self.emit_type(next, id)?;
        if !self.fwd_emitted(id) && !self.is_blacklisted(id) {
            self.emit_typedef_def(id, 0)?;
            self.w(b";\n\n");
        }
        self.set_emit(id, st::EMITTED);
        Ok(())
    }

    /// A struct or union `t` (type `id`): its member types first when it is printed in full here (at top
    /// level, or anonymous and so inline), else a forward declaration; the definition
    /// itself only at top level.
    fn emit_composite(&mut self, id: u32, t: Type<'a>, cont_id: u32) -> Result<()> {
        let top_level = cont_id == 0;
        let named = t.name_off() != 0;
        self.set_emit(id, st::EMITTING);
        if top_level || !named {
            // All member types are printed in full here (not just `struct X`), so they
            // need their forward declarations first.
            let new_cont = if named { id } else { cont_id };
            for m in t.members() {
                self.emit_type(m.type_id, new_cont)?;
            }
        } else if !self.fwd_emitted(id) && id != cont_id {
            self.emit_struct_fwd(id);
            self.w(b";\n\n");
            self.set_fwd_emitted(id);
        }
        if top_level {
            self.emit_struct_def(id, 0)?;
            self.w(b";\n\n");
            self.set_emit(id, st::EMITTED);
        } else {
            self.set_emit(id, 0);
        }
        Ok(())
    }

    fn emit_missing_aliases(&mut self, id: u32) {
        let t = self.ty(id);
        if let Some(&(name, alias)) = MISSING_BASE_TYPES.iter().find(|(n, _)| *n == tname(&t)) {
            self.w(b"typedef ");
            self.w(alias);
            self.w(b" ");
            self.w(name);
            self.w(b";\n\n");
        }
    }

    /// A type of a kind this reader does not know, as an opaque placeholder: an empty
    /// struct (size 0 in GNU C), so that any reference to it compiles, by pointer or by
    /// value; the padding of a struct holding one keeps its other members in place.
    fn emit_unknown_def(&mut self, id: u32) {
        let t = self.ty(id);
        self.w(b"/* type [");
        self.num(id);
        self.w(b"] '");
        // A name cannot end the comment early.
        let name = String::from_utf8_lossy(tname(&t)).replace("*/", "* /");
        self.w(name.as_bytes());
        self.w(b"': BTF kind ");
        self.num(t.raw_kind());
        self.w(b", unknown to corebpf */\n");
        self.emit_unknown_ref(id);
        self.w(b" {};\n\n");
    }

    /// `struct __btf_unknown_kind<K>_id<ID>`: how a type of unknown kind is referred to.
    pub(super) fn emit_unknown_ref(&mut self, id: u32) {
        self.w(b"struct __btf_unknown_kind");
        self.num(self.ty(id).raw_kind());
        self.w(b"_id");
        self.num(id);
    }

    /// `struct foo` / `union foo` / `struct` (anonymous).
    pub(super) fn emit_struct_fwd(&mut self, id: u32) {
        let t = self.ty(id);
        self.w(if t.kind() == Kind::Struct {
            b"struct"
        } else {
            b"union"
        });
        if t.name_off() != 0 {
            self.w(b" ");
        }
        self.write_name(id, Ns::Tag);
    }

    /// A struct or union definition, members indented at `lvl + 1`.
    pub(super) fn emit_struct_def(&mut self, id: u32, lvl: u32) -> Result<()> {
        self.enter()?;
        let t = self.ty(id);
        let is_struct = t.kind() == Kind::Struct;
        let align = self.align_of(id);
        let packed = is_struct && self.is_struct_packed(id);
        self.emit_struct_fwd(id);
        self.w(b" {");
        let mut off: u64 = 0;
        let mut prev_bitfield = false;
        for m in t.members() {
            let m_sz = m.bitfield_size as u64;
            let m_off = m.bit_offset as u64;
            let m_align = if packed { 1 } else { self.align_of(m.type_id) };
            let in_bitfield = prev_bitfield && m_sz != 0;
            self.emit_bit_padding(off, m_off, m_align, in_bitfield, lvl + 1)?;
            self.w(b"\n");
            self.pfx(lvl + 1);
            self.emit_type_decl(m.type_id, cstr(t.btf(), m.name_off), lvl + 1)?;
            if m_sz != 0 {
                self.w(b": ");
                self.num(m_sz);
                off = m_off + m_sz;
                prev_bitfield = true;
            } else {
                off = m_off + self.resolve_size(m.type_id).unwrap_or(0) * 8;
                prev_bitfield = false;
            }
            self.w(b";");
        }
        if is_struct {
            self.emit_bit_padding(off, t.size() as u64 * 8, align, false, lvl + 1)?;
        }
        // `struct empty {}` stays on one line.
        if t.vlen() != 0 || t.size() != 0 {
            self.w(b"\n");
            self.pfx(lvl);
        }
        self.w(b"}");
        if packed {
            self.w(b" __attribute__((packed))");
        }
        self.leave();
        Ok(())
    }

    /// `enum foo` (a reference to a named enum).
    pub(super) fn emit_enum_fwd(&mut self, id: u32) {
        self.w(b"enum ");
        self.write_name(id, Ns::Tag);
    }

    /// An enum definition with its enumerators at `lvl + 1`; enumerators share the
    /// namespace of typedefs, so a repeated one gets a `___n` suffix.
    pub(super) fn emit_enum_def(&mut self, id: u32, lvl: u32) -> Result<()> {
        self.charge()?;
        let t = self.ty(id);
        self.w(b"enum");
        if t.name_off() != 0 {
            self.w(b" ");
        }
        self.write_name(id, Ns::Tag);
        if t.vlen() == 0 {
            return Ok(());
        }
        self.w(b" {");
        let signed = t.kflag();
        let is64 = t.kind() == Kind::Enum64;
        let mut range = EnumRange::default();
        for e in t.enumerators() {
            let name = cstr(t.btf(), e.name_off);
            let dup = self.name_dups(Ns::Ident, name);
            self.w(b"\n");
            self.pfx(lvl + 1);
            self.write_dup(name, dup);
            self.w(b" = ");
            match (is64, signed) {
                (false, true) => self.num(e.value as i64),
                (false, false) => self.num(e.value as u32),
                (true, true) => {
                    self.num(e.value as i64);
                    self.w(b"LL");
                }
                (true, false) => {
                    self.num(e.value);
                    self.w(b"ULL");
                }
            }
            self.w(b",");
            range.add(e.value, signed);
        }
        self.w(b"\n");
        self.pfx(lvl);
        self.w(b"}");
        match t.size() {
            // Odd sizes are forced with a machine mode.
            1 => self.w(b" __attribute__((mode(byte)))"),
            // libbpf prints nothing here, and the enum becomes 4 bytes.
            2 => self.w(b" __attribute__((mode(HI)))"),
            // An enum is 8 bytes by itself only if a value does not fit 32 bits. (libbpf
            // looks at the upper 32 bits, which misses small negative ENUM64 values.)
            8 if self.ptr_sz == 8 && (!is64 || !range.needs_64_bits()) => {
                self.w(b" __attribute__((mode(word)))")
            }
            _ => {}
        }
        Ok(())
    }

    /// `struct foo` or `union foo` for a FWD.
    pub(super) fn emit_fwd_def(&mut self, id: u32) {
        let t = self.ty(id);
        self.w(if t.kflag() { b"union " } else { b"struct " });
        self.write_name(id, Ns::Tag);
    }

    /// `typedef <decl of the aliased type named as the typedef>`.
    pub(super) fn emit_typedef_def(&mut self, id: u32, lvl: u32) -> Result<()> {
        let t = self.ty(id);
        let (name, dup) = self.resolve_name(id, Ns::Ident);
        let next = t.type_id().unwrap_or(0);
        // Old GCCs emit `__gnuc_va_list` as a typedef of void.
        if next == 0 && name == b"__gnuc_va_list" {
            self.w(b"typedef __builtin_va_list __gnuc_va_list");
            return Ok(());
        }
        self.w(b"typedef ");
        if dup > 1 {
            let mut full = Vec::with_capacity(name.len() + 8);
            full.extend_from_slice(name);
            full.extend_from_slice(b"___");
            full.extend_from_slice(dup.to_string().as_bytes());
            self.emit_type_decl(next, &full, lvl)
        } else {
            self.emit_type_decl(next, name, lvl)
        }
    }
}

/// The range of an enum's values, to tell whether C makes it 8 bytes by itself: when a
/// value fits neither `int` nor (all values being non-negative) `unsigned int`.
#[derive(Default)]
struct EnumRange {
    /// Some value is below `INT_MIN` or above `UINT_MAX`.
    wide: bool,
    /// Some value is negative.
    negative: bool,
    /// Some value is above `INT_MAX`.
    above_int: bool,
}

impl EnumRange {
    fn add(&mut self, value: u64, signed: bool) {
        if signed {
            let v = value as i64;
            self.wide |= v < i32::MIN as i64 || v > u32::MAX as i64;
            self.negative |= v < 0;
            self.above_int |= v > i32::MAX as i64;
        } else {
            self.wide |= value > u32::MAX as u64;
            self.above_int |= value > i32::MAX as u64;
        }
    }

    fn needs_64_bits(&self) -> bool {
        self.wide || (self.negative && self.above_int)
    }
}
