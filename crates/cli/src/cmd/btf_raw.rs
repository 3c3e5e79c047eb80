//! BTF types in bpftool's raw format (`bpftool btf dump file X`): one `[id] KIND 'name' ...`
//! line per type, members, enumerators, parameters and variables on tab-indented lines.

use std::fmt::Write as _;

use corebpf_btf::{Btf, Kind, Linkage, Type};

/// bpftool's upper-case kind names.
pub fn kind_str(k: Kind) -> &'static str {
    match k {
        Kind::Void => "UNKN",
        Kind::Int => "INT",
        Kind::Ptr => "PTR",
        Kind::Array => "ARRAY",
        Kind::Struct => "STRUCT",
        Kind::Union => "UNION",
        Kind::Enum => "ENUM",
        Kind::Fwd => "FWD",
        Kind::Typedef => "TYPEDEF",
        Kind::Volatile => "VOLATILE",
        Kind::Const => "CONST",
        Kind::Restrict => "RESTRICT",
        Kind::Func => "FUNC",
        Kind::FuncProto => "FUNC_PROTO",
        Kind::Var => "VAR",
        Kind::Datasec => "DATASEC",
        Kind::Float => "FLOAT",
        Kind::DeclTag => "DECL_TAG",
        Kind::TypeTag => "TYPE_TAG",
        Kind::Enum64 => "ENUM64",
    }
}

/// A name as bpftool's `btf_str` prints it: `(anon)` for none.
fn name_str(btf: &Btf, off: u32) -> String {
    if off == 0 {
        return "(anon)".into();
    }
    match btf.str_bytes_at(off) {
        Ok(b) => String::from_utf8_lossy(b).into_owned(),
        Err(_) => "(invalid)".into(),
    }
}

fn linkage_str(l: Option<Linkage>) -> &'static str {
    match l {
        Some(Linkage::Static) => "static",
        Some(Linkage::Global) => "global",
        Some(Linkage::Extern) => "extern",
        _ => "(unknown)",
    }
}

fn int_encoding(enc: u8) -> &'static str {
    match enc {
        0 => "(none)",
        1 => "SIGNED",
        2 => "CHAR",
        4 => "BOOL",
        _ => "UNKN",
    }
}

/// Appends one type (with its member lines) to `o`, newline-terminated.
pub fn write_type(o: &mut String, t: Type<'_>) {
    let btf = t.btf();
    let _ = write!(
        o,
        "[{}] {} '{}'",
        t.id(),
        kind_str(t.kind()),
        name_str(btf, t.name_off())
    );
    let tid = t.type_id().unwrap_or(0);
    match t.kind() {
        Kind::Int => {
            let _ = write!(
                o,
                " size={} bits_offset={} nr_bits={} encoding={}",
                t.size(),
                t.int_offset(),
                t.int_bits(),
                int_encoding(t.int_encoding())
            );
        }
        Kind::Ptr
        | Kind::Typedef
        | Kind::Volatile
        | Kind::Const
        | Kind::Restrict
        | Kind::TypeTag => {
            let _ = write!(o, " type_id={tid}");
        }
        Kind::Array => write_array(o, t),
        Kind::Struct | Kind::Union => write_members(o, t),
        Kind::Enum | Kind::Enum64 => write_enumerators(o, t),
        Kind::Fwd => {
            let kind = if t.fwd_is_union() { "union" } else { "struct" };
            let _ = write!(o, " fwd_kind={kind}");
        }
        Kind::Func => {
            let _ = write!(o, " type_id={tid} linkage={}", linkage_str(t.linkage()));
        }
        Kind::FuncProto => write_params(o, t, tid),
        Kind::Var => {
            let _ = write!(o, " type_id={tid}, linkage={}", linkage_str(t.linkage()));
        }
        Kind::Datasec => write_datasec_vars(o, t),
        Kind::Float => {
            let _ = write!(o, " size={}", t.size());
        }
        Kind::DeclTag => {
            let _ = write!(
                o,
                " type_id={tid} component_idx={}",
                t.decl_tag_component().unwrap_or(-1)
            );
        }
        Kind::Void => {}
    }
    o.push('\n');
}

/// An `ARRAY`'s element type, index type and length.
fn write_array(o: &mut String, t: Type<'_>) {
    let a = t.array().unwrap_or(corebpf_btf::Array {
        elem_type: 0,
        index_type: 0,
        nelems: 0,
    });
    let _ = write!(
        o,
        " type_id={} index_type_id={} nr_elems={}",
        a.elem_type, a.index_type, a.nelems
    );
}

/// A `STRUCT`'s or `UNION`'s size, then one line per member.
fn write_members(o: &mut String, t: Type<'_>) {
    let btf = t.btf();
    let _ = write!(o, " size={} vlen={}", t.size(), t.vlen());
    for m in t.members() {
        let _ = write!(
            o,
            "\n\t'{}' type_id={} bits_offset={}",
            name_str(btf, m.name_off),
            m.type_id,
            m.bit_offset
        );
        if m.bitfield_size != 0 {
            let _ = write!(o, " bitfield_size={}", m.bitfield_size);
        }
    }
}

/// An `ENUM`'s or `ENUM64`'s encoding and size, then one line per enumerator, its value
/// printed signed or unsigned as the kind flag says.
fn write_enumerators(o: &mut String, t: Type<'_>) {
    let btf = t.btf();
    let signed = t.kflag();
    let _ = write!(
        o,
        " encoding={} size={} vlen={}",
        if signed { "SIGNED" } else { "UNSIGNED" },
        t.size(),
        t.vlen()
    );
    let is64 = t.kind() == Kind::Enum64;
    for e in t.enumerators() {
        let name = name_str(btf, e.name_off);
        let _ = match (is64, signed) {
            (false, true) => write!(o, "\n\t'{name}' val={}", e.value as u32 as i32),
            (false, false) => write!(o, "\n\t'{name}' val={}", e.value as u32),
            (true, true) => write!(o, "\n\t'{name}' val={}LL", e.value as i64),
            (true, false) => write!(o, "\n\t'{name}' val={}ULL", e.value),
        };
    }
}

/// A `FUNC_PROTO`'s return type (`ret`), then one line per parameter.
fn write_params(o: &mut String, t: Type<'_>, ret: u32) {
    let btf = t.btf();
    let _ = write!(o, " ret_type_id={ret} vlen={}", t.vlen());
    for p in t.params() {
        let _ = write!(
            o,
            "\n\t'{}' type_id={}",
            name_str(btf, p.name_off),
            p.type_id
        );
    }
}

/// A `DATASEC`'s size, then one line per variable with its kind and name.
fn write_datasec_vars(o: &mut String, t: Type<'_>) {
    let btf = t.btf();
    let _ = write!(o, " size={} vlen={}", t.size(), t.vlen());
    for v in t.datasec_vars() {
        let (kind, name) = match btf.type_by_id(v.type_id) {
            Ok(vt) => (kind_str(vt.kind()), name_str(btf, vt.name_off())),
            Err(_) => ("UNKN", "(invalid)".into()),
        };
        let _ = write!(
            o,
            "\n\ttype_id={} offset={} size={} ({kind} '{name}')",
            v.type_id, v.offset, v.size
        );
    }
}
