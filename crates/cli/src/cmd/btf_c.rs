//! A C view of one BTF type for `corebpf btf show`: declarations with each member's offset
//! and size, as pahole shows them.

use std::fmt::Write as _;

use corebpf_btf::{Btf, Kind, Type};

/// Deeper chains than this are cut (`...`): BTF can be hostile.
const MAX_DEPTH: usize = 32;

/// The type's name as C spells it in a declaration's type part (`struct foo`, `int`).
fn base_name(t: Type<'_>) -> String {
    let name = t.name();
    match t.kind() {
        Kind::Void => "void".into(),
        Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Fwd => {
            let kw = match t.kind() {
                Kind::Struct => "struct",
                Kind::Union => "union",
                Kind::Fwd if t.fwd_is_union() => "union",
                Kind::Fwd => "struct",
                _ => "enum",
            };
            if name.is_empty() {
                format!("{kw} {{...}}")
            } else {
                format!("{kw} {name}")
            }
        }
        _ => name.to_string(),
    }
}

/// A C declaration of `name` with type `id` (`int *p`, `char comm[16]`,
/// `int (*fn)(void *)`).
pub fn decl(btf: &Btf, id: u32, name: &str) -> String {
    decl_depth(btf, id, name.to_string(), 0)
}

fn join(ty: &str, name: &str) -> String {
    if name.is_empty() {
        ty.to_string()
    } else if ty.ends_with('*') {
        format!("{ty}{name}")
    } else {
        format!("{ty} {name}")
    }
}

fn decl_depth(btf: &Btf, id: u32, name: String, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return join("...", &name);
    }
    let Ok(t) = btf.type_by_id(id) else {
        return join(&format!("<bad type {id}>"), &name);
    };
    let next = |n: String| decl_depth(btf, t.type_id().unwrap_or(0), n, depth + 1);
    match t.kind() {
        Kind::Ptr => {
            let target = btf.type_by_id(t.type_id().unwrap_or(0)).ok();
            match target.map(|x| x.kind()) {
                Some(Kind::Array) | Some(Kind::FuncProto) => next(format!("(*{name})")),
                _ => next(format!("*{name}")),
            }
        }
        Kind::Const | Kind::Volatile | Kind::Restrict => {
            let q = match t.kind() {
                Kind::Const => "const",
                Kind::Volatile => "volatile",
                _ => "restrict",
            };
            // Qualifiers of a pointer go after the star; of anything else, before the type.
            let target = btf.type_by_id(t.type_id().unwrap_or(0)).ok();
            if target.is_some_and(|x| x.kind() == Kind::Ptr) {
                next(format!(" {q} {name}").trim_end().to_string())
            } else {
                format!("{q} {}", next(name))
            }
        }
        Kind::TypeTag => next(name),
        Kind::Array => {
            let a = t.array();
            let n = a.map_or(0, |a| a.nelems);
            let elem = a.map_or(0, |a| a.elem_type);
            decl_depth(btf, elem, format!("{name}[{n}]"), depth + 1)
        }
        Kind::FuncProto => {
            let params: Vec<String> = t
                .params()
                .map(|p| {
                    if p.type_id == 0 && p.name_off == 0 {
                        "...".to_string()
                    } else {
                        decl_depth(btf, p.type_id, p.name().to_string(), depth + 1)
                    }
                })
                .collect();
            let params = if params.is_empty() {
                "void".to_string()
            } else {
                params.join(", ")
            };
            next(format!("{name}({params})"))
        }
        _ => join(&base_name(t), &name),
    }
}

/// Size in bytes of type `id` (pointers are 8 bytes), if it has one.
pub fn size_of(btf: &Btf, id: u32) -> Option<u64> {
    let mut id = id;
    for _ in 0..MAX_DEPTH {
        let t = btf.type_by_id(id).ok()?;
        match t.kind() {
            Kind::Int | Kind::Float | Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 => {
                return Some(t.size() as u64)
            }
            Kind::Datasec => return Some(t.size() as u64),
            Kind::Ptr => return Some(8),
            Kind::Array => {
                let a = t.array()?;
                return Some(size_of(btf, a.elem_type)? * a.nelems as u64);
            }
            Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag => {
                id = t.type_id()?
            }
            Kind::Var => id = t.type_id()?,
            _ => return None,
        }
    }
    None
}

/// The C view of `t`: members with offsets for structs and unions, values for enums,
/// the prototype for functions, the declaration for anything else.
pub fn c_view(t: Type<'_>) -> String {
    let btf = t.btf();
    let mut o = String::new();
    match t.kind() {
        Kind::Struct | Kind::Union => {
            let _ = writeln!(o, "{} {{ /* size {} */", base_name(t), t.size());
            for m in t.members() {
                let d = decl(btf, m.type_id, m.name());
                let (byte, bit) = (m.bit_offset / 8, m.bit_offset % 8);
                let comment = if m.bitfield_size != 0 {
                    format!("/* offset {byte}, bit {bit}, {} bits */", m.bitfield_size)
                } else {
                    let size = size_of(btf, m.type_id).map_or("?".into(), |s| s.to_string());
                    format!("/* offset {byte}, size {size} */")
                };
                let d = if m.bitfield_size != 0 {
                    format!("{d}:{};", m.bitfield_size)
                } else {
                    format!("{d};")
                };
                let _ = writeln!(o, "\t{d:<48} {comment}");
            }
            o.push_str("};\n");
        }
        Kind::Enum | Kind::Enum64 => {
            let _ = writeln!(o, "{} {{ /* size {} */", base_name(t), t.size());
            for e in t.enumerators() {
                let v = if e.signed {
                    (e.value as i64).to_string()
                } else {
                    e.value.to_string()
                };
                let _ = writeln!(o, "\t{} = {v},", e.name());
            }
            o.push_str("};\n");
        }
        Kind::Func => {
            let _ = writeln!(o, "{};", decl(btf, t.type_id().unwrap_or(0), t.name()));
        }
        Kind::Typedef => {
            let _ = writeln!(
                o,
                "typedef {}; /* size {} */",
                decl(btf, t.type_id().unwrap_or(0), t.name()),
                size_of(btf, t.id()).map_or("?".into(), |s| s.to_string())
            );
        }
        Kind::Var => {
            let _ = writeln!(o, "{};", decl(btf, t.type_id().unwrap_or(0), t.name()));
        }
        Kind::Datasec => {
            for v in t.datasec_vars() {
                let name = btf.type_by_id(v.type_id).map_or("?", |x| x.name());
                let _ = writeln!(o, "\t{name} /* offset {}, size {} */", v.offset, v.size);
            }
        }
        _ => {
            let _ = writeln!(o, "{}", decl(btf, t.id(), ""));
        }
    }
    o
}
