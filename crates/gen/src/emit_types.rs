//! Writes the generated types: `#[repr(C)]` structs (unions as bytes with accessors), enum
//! newtypes, their `Bytes` impls and the compile-time layout asserts.

use crate::layout::{Accessor, Layout, Place};
use crate::model::{Body, Decl, Prim, Ty, Types};
use crate::out::Out;

/// The `Bytes` trait, its impls for scalars and arrays, and the bitfield helpers: the
/// module's fixed part (written in rustfmt's style by hand).
pub(crate) const PRELUDE: &str = include_str!("prelude.rs.txt");

/// Writes every generated type, in BTF id order.
pub(crate) fn emit_types(o: &mut Out, types: &Types<'_>) {
    let mut order: Vec<&Decl> = types.decls.iter().collect();
    order.sort_by_key(|d| d.id);
    for d in order {
        o.line("");
        match &d.body {
            Body::Enum { repr, values } => emit_enum(o, d, *repr, values),
            Body::Composite(l) => emit_composite(o, types, d, l),
            Body::Pending => {}
        }
    }
}

fn emit_enum(o: &mut Out, d: &Decl, repr: Prim, values: &[(String, String)]) {
    let r = repr.name();
    o.doc(&format!(
        "`{}` (BTF type id {}): a newtype over `{r}`, not a Rust enum, because the kernel may \
         hand back values the BPF code did not name.",
        d.c_name, d.id
    ));
    o.line("#[repr(transparent)]");
    o.line("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]");
    o.line(&format!("pub struct {}(pub {r});", d.name));
    if !values.is_empty() {
        o.line("");
        o.open(&format!("impl {} {{", d.name));
        for (name, value) in values {
            o.doc(&format!("`{}`.", name.trim_start_matches("r#")));
            o.line(&format!("pub const {name}: Self = Self({value});"));
        }
        o.close("}");
    }
    o.line("");
    o.open(&format!("impl Bytes for {} {{", d.name));
    o.line(&format!("const SIZE: usize = {};", d.size));
    o.line("");
    o.open("fn write_bytes(&self, out: &mut [u8]) {");
    o.line("Bytes::write_bytes(&self.0, out);");
    o.close("}");
    o.line("");
    o.open("fn read_bytes(b: &[u8]) -> Self {");
    o.line("Self(Bytes::read_bytes(b))");
    o.close("}");
    o.close("}");
    o.line("");
    emit_asserts(o, d, &[]);
}

fn emit_composite(o: &mut Out, types: &Types<'_>, d: &Decl, l: &Layout) {
    let what = if l.union {
        "as its bytes, since reading a Rust union needs `unsafe`: each member through its \
         accessor"
    } else {
        "with explicit padding"
    };
    o.doc(&format!(
        "`{}` (BTF type id {}), {} bytes, {what}.",
        d.c_name, d.id, d.size
    ));
    o.line(if l.packed {
        "#[repr(C, packed)]"
    } else {
        "#[repr(C)]"
    });
    o.line("#[derive(Debug, Clone, Copy, PartialEq)]");
    if l.fields.is_empty() {
        o.line(&format!("pub struct {} {{}}", d.name));
    } else {
        o.open(&format!("pub struct {} {{", d.name));
        for f in &l.fields {
            o.doc(&f.doc);
            o.line(&format!("pub {}: {},", f.name, types.rust(&f.ty)));
        }
        o.close("}");
    }
    o.line("");
    emit_default(o, d);
    o.line("");
    emit_bytes_impl(o, types, d, l);
    if !l.accessors.is_empty() {
        o.line("");
        emit_accessors(o, types, d, l);
    }
    o.line("");
    let fields: Vec<&str> = l.fields.iter().map(|f| f.name.as_str()).collect();
    let offsets: Vec<u32> = l.fields.iter().map(|f| f.offset).collect();
    emit_asserts(o, d, &fields.into_iter().zip(offsets).collect::<Vec<_>>());
}

fn emit_default(o: &mut Out, d: &Decl) {
    o.open(&format!("impl Default for {} {{", d.name));
    o.doc("All zero bytes, as a BPF map or `.bss` starts.");
    o.open("fn default() -> Self {");
    o.line(&format!("Bytes::read_bytes(&[0; {}])", d.size));
    o.close("}");
    o.close("}");
}

fn emit_bytes_impl(o: &mut Out, types: &Types<'_>, d: &Decl, l: &Layout) {
    let (out, b) = if l.fields.is_empty() {
        ("_out", "_b")
    } else {
        ("out", "b")
    };
    o.open(&format!("impl Bytes for {} {{", d.name));
    o.line(&format!("const SIZE: usize = {};", d.size));
    o.line("");
    o.open(&format!("fn write_bytes(&self, {out}: &mut [u8]) {{"));
    for f in &l.fields {
        // A packed field is copied out first: a reference to it may be unaligned.
        let value = if l.packed && types.align_of(&f.ty) > 1 {
            format!("&{{ self.{} }}", f.name)
        } else {
            format!("&self.{}", f.name)
        };
        let dst = format!("&mut out[{}..]", f.offset);
        o.call("", "Bytes::write_bytes", &[&value, &dst], ";");
    }
    o.close("}");
    o.line("");
    o.open(&format!("fn read_bytes({b}: &[u8]) -> Self {{"));
    if l.fields.is_empty() {
        o.line("Self {}");
    } else {
        o.open("Self {");
        for f in &l.fields {
            o.line(&format!(
                "{}: Bytes::read_bytes(&b[{}..]),",
                f.name, f.offset
            ));
        }
        o.close("}");
    }
    o.close("}");
    o.close("}");
}

fn emit_accessors(o: &mut Out, types: &Types<'_>, d: &Decl, l: &Layout) {
    o.open(&format!("impl {} {{", d.name));
    for (i, a) in l.accessors.iter().enumerate() {
        if i > 0 {
            o.line("");
        }
        let ty = types.rust(&a.ty);
        o.doc(&a.doc);
        o.open_fn(
            &format!("pub fn {}", a.name),
            &["&self"],
            &format!(" -> {ty}"),
        );
        o.line(&getter_body(types, a));
        o.close("}");
        o.line("");
        o.doc(&format!("Sets `{}`.", a.name.trim_start_matches("r#")));
        let v = format!("v: {ty}");
        o.open_fn(&format!("pub fn {}", a.setter), &["&mut self", &v], "");
        o.line(&setter_body(types, a));
        o.close("}");
    }
    o.close("}");
}

/// The scalar behind an accessor's type: itself, or an enum newtype's representation.
fn scalar(types: &Types<'_>, ty: &Ty) -> (Prim, bool) {
    match ty {
        Ty::Prim(p) => (*p, false),
        Ty::Named(i) => match types.decls[*i].body {
            Body::Enum { repr, .. } => (repr, true),
            _ => (Prim::U64, false),
        },
        Ty::Array(..) => (Prim::U64, false),
    }
}

fn getter_body(types: &Types<'_>, a: &Accessor) -> String {
    let (bit, bits) = match a.place {
        Place::Bytes(off) => return format!("Bytes::read_bytes(&self.{}[{off}..])", a.field),
        Place::Bits { bit, bits } => (bit, bits),
    };
    let raw = format!("bits_get(&self.{}, {bit}, {bits})", a.field);
    let (p, newtype) = scalar(types, &a.ty);
    let value = match p {
        Prim::Bool => format!("{raw} != 0"),
        Prim::U64 => raw,
        Prim::I64 => format!("sign_extend({raw}, {bits})"),
        p if p.signed() => format!("sign_extend({raw}, {bits}) as {}", p.name()),
        p => format!("{raw} as {}", p.name()),
    };
    if newtype {
        format!("{}({value})", types.rust(&a.ty))
    } else {
        value
    }
}

fn setter_body(types: &Types<'_>, a: &Accessor) -> String {
    let (bit, bits) = match a.place {
        Place::Bytes(off) => {
            return format!("Bytes::write_bytes(&v, &mut self.{}[{off}..]);", a.field)
        }
        Place::Bits { bit, bits } => (bit, bits),
    };
    let (p, newtype) = scalar(types, &a.ty);
    let v = if newtype { "v.0" } else { "v" };
    let value = match p {
        Prim::Bool => format!("u64::from({v})"),
        Prim::U64 => v.to_string(),
        _ => format!("{v} as u64"),
    };
    format!("bits_set(&mut self.{}, {bit}, {bits}, {value});", a.field)
}

/// `const _: () = { assert!(size_of ...); assert!(offset_of!(...)); };`
fn emit_asserts(o: &mut Out, d: &Decl, fields: &[(&str, u32)]) {
    o.open("const _: () = {");
    o.macro_stmt(
        "assert",
        &format!("::core::mem::size_of::<{}>() == {}", d.name, d.size),
    );
    for (f, off) in fields {
        o.macro_stmt(
            "assert",
            &format!("::core::mem::offset_of!({}, {f}) == {off}", d.name),
        );
    }
    o.close("};");
}
