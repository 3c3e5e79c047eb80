//! The Rust view of the object's BTF types: which types are reachable (from maps, globals and
//! the types the caller names), their Rust names, and how each maps to a Rust type.

use std::collections::HashMap;

use corebpf_btf::{Btf, Kind, Type, INT_BOOL, INT_SIGNED};

use crate::layout::Layout;
use crate::names::Namespace;
use crate::GenError;

/// Deepest nesting of types by value followed (structs in structs, arrays of arrays).
const MAX_DEPTH: u32 = 64;

/// A Rust scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prim {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    U128,
    I128,
    F32,
    F64,
    Bool,
}

impl Prim {
    /// The Rust type name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Prim::U8 => "u8",
            Prim::I8 => "i8",
            Prim::U16 => "u16",
            Prim::I16 => "i16",
            Prim::U32 => "u32",
            Prim::I32 => "i32",
            Prim::U64 => "u64",
            Prim::I64 => "i64",
            Prim::U128 => "u128",
            Prim::I128 => "i128",
            Prim::F32 => "f32",
            Prim::F64 => "f64",
            Prim::Bool => "bool",
        }
    }

    /// Size in bytes.
    pub(crate) fn size(self) -> u32 {
        match self {
            Prim::U8 | Prim::I8 | Prim::Bool => 1,
            Prim::U16 | Prim::I16 => 2,
            Prim::U32 | Prim::I32 | Prim::F32 => 4,
            Prim::U64 | Prim::I64 | Prim::F64 => 8,
            Prim::U128 | Prim::I128 => 16,
        }
    }

    /// Whether it is a signed integer.
    pub(crate) fn signed(self) -> bool {
        matches!(
            self,
            Prim::I8 | Prim::I16 | Prim::I32 | Prim::I64 | Prim::I128
        )
    }

    /// The integer of `size` bytes.
    pub(crate) fn int(size: u32, signed: bool) -> Option<Prim> {
        Some(match (size, signed) {
            (1, false) => Prim::U8,
            (1, true) => Prim::I8,
            (2, false) => Prim::U16,
            (2, true) => Prim::I16,
            (4, false) => Prim::U32,
            (4, true) => Prim::I32,
            (8, false) => Prim::U64,
            (8, true) => Prim::I64,
            (16, false) => Prim::U128,
            (16, true) => Prim::I128,
            _ => return None,
        })
    }
}

/// A Rust type: a scalar, a generated type, or an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    Prim(Prim),
    Named(usize),
    Array(Box<Ty>, u32),
}

/// What a generated type is.
#[derive(Debug)]
pub(crate) enum Body {
    /// Being computed (a type reached again while computing it contains itself).
    Pending,
    /// A struct, or a union (as bytes with accessors).
    Composite(Layout),
    /// An enum as a newtype over `repr`, with its enumerators as consts.
    Enum {
        repr: Prim,
        values: Vec<(String, String)>,
    },
}

/// One generated type.
#[derive(Debug)]
pub(crate) struct Decl {
    /// Its BTF id.
    pub id: u32,
    /// Its Rust name (escaped).
    pub name: String,
    /// How the BTF names it (`struct event`, `union <anon>`).
    pub c_name: String,
    /// Its size in bytes.
    pub size: u32,
    /// Its alignment in Rust.
    pub align: u32,
    /// Its shape.
    pub body: Body,
}

/// The reachable types and their names.
pub(crate) struct Types<'a> {
    pub btf: &'a Btf,
    pub decls: Vec<Decl>,
    by_id: HashMap<u32, usize>,
    /// The module's type namespace.
    pub names: Namespace,
    depth: u32,
}

impl<'a> Types<'a> {
    /// An empty set over `btf`; `reserved` names are the module's own items.
    pub(crate) fn new(btf: &'a Btf, reserved: &[&str]) -> Types<'a> {
        Types {
            btf,
            decls: Vec::new(),
            by_id: HashMap::new(),
            names: Namespace::with_reserved(reserved),
            depth: 0,
        }
    }

    /// The Rust type of BTF type `id`; `hint` names it if it is an anonymous struct, union
    /// or enum, and `what` says where it was reached from (for errors).
    pub(crate) fn ty_of(&mut self, id: u32, hint: &str, what: &str) -> Result<Ty, GenError> {
        if self.depth > MAX_DEPTH {
            return Err(self.unsupported(id, what, "types nest deeper than 64 levels"));
        }
        self.depth += 1;
        let r = self.ty_of_inner(id, hint, what);
        self.depth -= 1;
        r
    }

    fn ty_of_inner(&mut self, id: u32, hint: &str, what: &str) -> Result<Ty, GenError> {
        let (t, typedef) = self.skip_mods_and_typedefs(id)?;
        match t.kind() {
            Kind::Int => self.int(t, what).map(Ty::Prim),
            Kind::Float => match t.size() {
                4 => Ok(Ty::Prim(Prim::F32)),
                8 => Ok(Ty::Prim(Prim::F64)),
                n => Err(self.unsupported(t.id(), what, &format!("a {n}-byte float"))),
            },
            Kind::Ptr => match self.btf.pointer_size() {
                4 => Ok(Ty::Prim(Prim::U32)),
                _ => Ok(Ty::Prim(Prim::U64)),
            },
            Kind::Array => {
                let a = t
                    .array()
                    .ok_or_else(|| self.unsupported(t.id(), what, "bad array"))?;
                let elem = self.ty_of(a.elem_type, hint, what)?;
                Ok(Ty::Array(Box::new(elem), a.nelems))
            }
            Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 => {
                let name = match t.name() {
                    "" => typedef.unwrap_or(hint),
                    n => n,
                };
                self.decl(t, name, what).map(Ty::Named)
            }
            Kind::Fwd => Err(self.unsupported(
                t.id(),
                what,
                "it is only declared (a forward declaration has no layout)",
            )),
            _ => Err(self.unsupported(t.id(), what, "it has no value layout")),
        }
    }

    /// Follows modifiers and typedefs; also returns the last typedef's name (which names an
    /// anonymous type behind it: `typedef struct { ... } cfg_t`).
    fn skip_mods_and_typedefs(&self, id: u32) -> Result<(Type<'a>, Option<&'a str>), GenError> {
        let mut t = self.btf.type_by_id(id)?;
        let mut typedef = None;
        for _ in 0..corebpf_btf::MAX_RESOLVE_DEPTH {
            match t.kind() {
                Kind::Typedef => typedef = Some(t.name()),
                k if k.is_modifier() => {}
                _ => return Ok((t, typedef)),
            }
            t = self.btf.type_by_id(t.type_id().unwrap_or(0))?;
        }
        Err(corebpf_btf::BtfError::ReferenceCycle {
            id,
            limit: corebpf_btf::MAX_RESOLVE_DEPTH,
        }
        .into())
    }

    fn int(&self, t: Type<'_>, what: &str) -> Result<Prim, GenError> {
        let enc = t.int_encoding();
        if enc & INT_BOOL != 0 && t.size() == 1 {
            return Ok(Prim::Bool);
        }
        // Plain `char` is a byte: C strings are bytes (`comm` reads as `[u8; 16]`).
        let signed = enc & INT_SIGNED != 0 && t.name() != "char";
        Prim::int(t.size(), signed)
            .ok_or_else(|| self.unsupported(t.id(), what, &format!("a {}-byte int", t.size())))
    }

    /// The generated type for struct, union or enum `t`, computed on first reach.
    fn decl(&mut self, t: Type<'a>, name: &str, what: &str) -> Result<usize, GenError> {
        if let Some(&i) = self.by_id.get(&t.id()) {
            if matches!(self.decls[i].body, Body::Pending) {
                return Err(self.unsupported(t.id(), what, "it contains itself"));
            }
            return Ok(i);
        }
        let i = self.decls.len();
        let rust_name = self.names.take(name);
        self.decls.push(Decl {
            id: t.id(),
            name: rust_name.clone(),
            c_name: t.to_string(),
            size: t.size(),
            align: 1,
            body: Body::Pending,
        });
        self.by_id.insert(t.id(), i);
        let body = match t.kind() {
            Kind::Enum | Kind::Enum64 => self.enum_body(t, what)?,
            _ => Body::Composite(crate::layout::layout(self, t, &sanitize_hint(&rust_name))?),
        };
        self.decls[i].align = match &body {
            Body::Enum { repr, .. } => repr.size(),
            Body::Composite(l) => l.align,
            Body::Pending => 1,
        };
        self.decls[i].body = body;
        Ok(i)
    }

    fn enum_body(&self, t: Type<'_>, what: &str) -> Result<Body, GenError> {
        let repr = Prim::int(t.size(), t.enum_signed())
            .filter(|p| p.size() <= 8)
            .ok_or_else(|| self.unsupported(t.id(), what, &format!("a {}-byte enum", t.size())))?;
        let mut ns = Namespace::default();
        let values = t
            .enumerators()
            .map(|e| (ns.take(e.name()), enum_value(repr, e.value)))
            .collect();
        Ok(Body::Enum { repr, values })
    }

    /// Rust size of `ty` in bytes.
    pub(crate) fn size_of(&self, ty: &Ty) -> u64 {
        match ty {
            Ty::Prim(p) => u64::from(p.size()),
            Ty::Named(i) => u64::from(self.decls[*i].size),
            Ty::Array(e, n) => self.size_of(e) * u64::from(*n),
        }
    }

    /// Rust alignment of `ty`.
    pub(crate) fn align_of(&self, ty: &Ty) -> u32 {
        match ty {
            Ty::Prim(p) => p.size(),
            Ty::Named(i) => self.decls[*i].align,
            Ty::Array(e, _) => self.align_of(e),
        }
    }

    /// `ty` as Rust source.
    pub(crate) fn rust(&self, ty: &Ty) -> String {
        match ty {
            Ty::Prim(p) => p.name().to_string(),
            Ty::Named(i) => self.decls[*i].name.clone(),
            Ty::Array(e, n) => format!("[{}; {n}]", self.rust(e)),
        }
    }

    /// An error naming type `id` and where it was reached from.
    pub(crate) fn unsupported(&self, id: u32, what: &str, reason: &str) -> GenError {
        let ty = match self.btf.type_by_id(id) {
            Ok(t) => t.with_id().to_string(),
            Err(_) => format!("[{id}]"),
        };
        GenError::Unsupported {
            what: what.to_string(),
            ty,
            reason: reason.to_string(),
        }
    }
}

/// A generated name without its raw-identifier prefix, to derive member type names from.
fn sanitize_hint(name: &str) -> String {
    name.trim_start_matches("r#").to_string()
}

/// An enumerator's value as a literal of `repr`.
fn enum_value(repr: Prim, v: u64) -> String {
    let bits = repr.size() * 8;
    if repr.signed() {
        let shift = 64 - bits;
        (((v << shift) as i64) >> shift).to_string()
    } else if bits == 64 {
        v.to_string()
    } else {
        (v & ((1u64 << bits) - 1)).to_string()
    }
}

/// How C spells type `id`, for doc comments: `__u32`, `struct event`, `char[16]`, `void *`.
pub(crate) fn c_type(btf: &Btf, id: u32) -> String {
    c_type_depth(btf, id, 0)
}

/// Array dimensions [`c_type`] spells out before it gives up (C code has a handful).
const MAX_ARRAY_DIMS: usize = 32;

fn c_type_depth(btf: &Btf, id: u32, depth: u32) -> String {
    let Ok(t) = btf.type_by_id(id) else {
        return format!("[{id}]");
    };
    if depth > 8 {
        return "...".to_string();
    }
    let next = t.type_id().unwrap_or(0);
    match t.kind() {
        Kind::Void => "void".to_string(),
        Kind::Const => format!("const {}", c_type_depth(btf, next, depth + 1)),
        Kind::Volatile => format!("volatile {}", c_type_depth(btf, next, depth + 1)),
        k if k.is_modifier() => c_type_depth(btf, next, depth + 1),
        Kind::Ptr => format!("{} *", c_type_depth(btf, next, depth + 1)),
        Kind::Array => {
            // `T[2][3]`: the dimensions outermost first, after the element type. An array
            // whose element type leads back to itself (hostile BTF) is cut short.
            let mut dims = String::new();
            let mut elem = t;
            let mut n = 0;
            while let Some(a) = elem.array() {
                if n == MAX_ARRAY_DIMS {
                    return format!("...{dims}");
                }
                n += 1;
                dims.push_str(&format!("[{}]", a.nelems));
                match btf.type_by_id(a.elem_type) {
                    Ok(e) => elem = e,
                    Err(_) => break,
                }
            }
            format!("{}{dims}", c_type_depth(btf, elem.id(), depth + 1))
        }
        Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Fwd => t.to_string(),
        _ => t.name().to_string(),
    }
}
