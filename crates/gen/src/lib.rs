//! `corebpf-gen`: generates a typed Rust skeleton for a BPF object, from its BTF, in pure
//! Rust (no libbpf, no bindgen, no rustfmt: the output is already formatted, and the same
//! object and options always give the same text).
//!
//! The generated module holds:
//! - `#[repr(C)]` types for every BTF type reachable from the maps' keys and values, the
//!   global variables of the data sections (`.rodata`, `.data`, `.bss`, custom ones) and
//!   the types named in [`Options::types`] (ring buffer events, as bpf2go's `-type`), each
//!   with compile-time size and field-offset asserts against the BTF;
//! - a `Bytes` trait (`to_bytes`/`from_bytes`, field by field in host byte order) so that
//!   no generated code needs `unsafe`;
//! - the object, embedded with `include_bytes!` from [`Options::object_path`], and
//!   `Open<Name>Skel`/`<Name>Skel` over `corebpf::OpenObject`/`corebpf::Object`.
//!
//! How C maps to Rust:
//! - integers to `u8`..`u128`/`i8`..`i128` (plain `char` to `u8`: C strings are bytes),
//!   `_Bool` to `bool`, floats to `f32`/`f64`, pointers to `u64` (a BPF address);
//! - typedefs and modifiers resolve to their type (an anonymous type behind a typedef takes
//!   the typedef's name);
//! - structs keep the BTF's offsets with explicit `__pad_<offset>` fields; a struct whose
//!   members sit where Rust alignment would move them is `#[repr(C, packed)]`; a flexible
//!   array member is a `[T; 0]` field at the end;
//! - bitfields: each run of adjacent bitfields is one `__bf_<offset>: [u8; N]` storage
//!   field, read and written through `name()`/`set_name(v)` methods;
//! - unions: a struct with the union's bytes (`raw`) and a getter/setter per member, since
//!   reading a Rust `union` field is `unsafe`;
//! - enums: a `#[repr(transparent)]` newtype over their integer with the enumerators as
//!   associated consts (a Rust enum cannot hold the unnamed values a kernel may give);
//! - anonymous types are named after where they are reached (`<struct>__<member>`,
//!   `<struct>__anon_<index>` for an anonymous member, `<map>__key`, `<map>__value`,
//!   `<var>__type`); names that are Rust keywords are escaped (`r#type`).
//!
//! Generated types keep C's size and offsets; their Rust alignment can be lower than C's
//! (bitfield storage and unions are byte arrays), which nothing relies on: values cross to
//! and from the kernel through `Bytes`.
//!
//! What cannot be expressed is a [`GenError::Unsupported`] naming the type: a type that is
//! only declared (`struct foo;`) used by value, integers and floats of sizes Rust lacks, a
//! bitfield wider than 64 bits or not of an integer or enum type, overlapping members, and
//! objects of the other byte order than the host's (see [`generate`]).

#![forbid(unsafe_code)]

mod emit_skel;
mod emit_types;
mod layout;
mod model;
mod names;
mod out;
mod skel;

use corebpf_btf::{BtfError, Endian, Kind};
use corebpf_obj::ObjectSpec;

use crate::emit_skel::Names;
use crate::model::{Ty, Types};
use crate::out::Out;

/// What cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The object has no `.BTF`: its types are unknown.
    #[error("the object has no BTF (build it with clang -g): the skeleton's types come from it")]
    NoBtf,
    /// A type named in [`Options::types`] is not in the object's BTF.
    #[error(
        "type '{0}' is not in the object's BTF (a struct, union, enum or typedef of that name; \
         clang describes only types a map, global or function signature uses: add e.g. \
         `struct {0} *unused_{0} __attribute__((unused));` to the C)"
    )]
    TypeNotFound(String),
    /// A type the generator cannot express in Rust.
    #[error("{what}: {ty} cannot be expressed in Rust: {reason}")]
    Unsupported {
        /// Where it was reached from: `map 'events' value`, `global 'cfg' in .rodata`,
        /// `event.flags`.
        what: String,
        /// The type: `[12] struct foo`.
        ty: String,
        /// Why.
        reason: String,
    },
    /// The object's BTF is malformed.
    #[error("object BTF: {0}")]
    Btf(BtfError),
}

// The message includes the BTF error, so this is not `#[from]` (which would also make it
// `source()`, and error reporters would print it twice).
impl From<BtfError> for GenError {
    fn from(e: BtfError) -> Self {
        GenError::Btf(e)
    }
}

/// What to generate.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The skeleton's name: the module is `<name>`, the types `<Name>Skel`,
    /// `Open<Name>Skel`, ...; the object's name when `None`.
    pub name: Option<String>,
    /// The path the generated `include_bytes!` embeds (relative paths are relative to the
    /// generated file).
    pub object_path: String,
    /// Types to generate besides the reachable ones (e.g. ring buffer event structs), by
    /// their C name; a typedef name also gets a `pub type` alias.
    pub types: Vec<String>,
}

/// Items of the module itself, which generated type names must not take.
const RESERVED: &[&str] = &[
    "Bytes",
    "bits_get",
    "bits_set",
    "sign_extend",
    "scalar_bytes",
    "skel_map",
    "skel_prog",
    "skel_read",
    "skel_write",
    "skel_set",
    "OBJECT",
    "OBJECT_NAME",
    "u8",
    "i8",
    "u16",
    "i16",
    "u32",
    "i32",
    "u64",
    "i64",
    "u128",
    "i128",
    "f32",
    "f64",
    "bool",
    "char",
    "str",
    "Self",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Vec",
    "String",
    "Default",
    "Clone",
    "Copy",
    "Debug",
    "PartialEq",
    "Eq",
    "Hash",
    "Sized",
    "Box",
];

/// Generates the skeleton module of `spec` as Rust source: one `pub mod <name> { ... }`
/// item, to `include!` (see the crate docs for what it holds and how C maps to Rust).
///
/// The generated code assumes the host has the object's byte order (BPF objects are built
/// for the host's); an object of the other order is refused.
pub fn generate(spec: &ObjectSpec, opts: &Options) -> Result<String, GenError> {
    let btf = spec.btf.as_deref().ok_or(GenError::NoBtf)?;
    if btf.endian() != Endian::Little {
        return Err(GenError::Unsupported {
            what: "the object".to_string(),
            ty: "its BTF".to_string(),
            reason: "it is big-endian; skeletons are generated for little-endian hosts".to_string(),
        });
    }
    let name = opts.name.clone().unwrap_or_else(|| spec.name.clone());
    let names = Names::new(&names::camel(&name));
    let mut reserved: Vec<&str> = RESERVED.to_vec();
    reserved.extend(names.all());
    let mut types = Types::new(btf, &reserved);
    let parts = skel::collect(spec, &mut types)?;
    let aliases = explicit_types(&mut types, &opts.types)?;
    let mut o = Out::default();
    o.line(&format!(
        "// @generated by `corebpf gen skeleton` from {}: do not edit.",
        spec.name
    ));
    o.line("");
    module_doc(&mut o, &spec.name, &names);
    for l in [
        "#[allow(",
        "    dead_code,",
        "    non_camel_case_types,",
        "    non_snake_case,",
    ] {
        o.line(l);
    }
    o.line("    non_upper_case_globals");
    o.line(")]");
    o.open(&format!(
        "pub mod {} {{",
        names::escape(&names::sanitize(&name))
    ));
    for l in emit_types::PRELUDE.lines() {
        o.line(l);
    }
    emit_types::emit_types(&mut o, &types);
    emit_aliases(&mut o, &types, &aliases);
    emit_skel::emit_skel(
        &mut o,
        &types,
        &parts,
        &names,
        &spec.name,
        &opts.object_path,
    );
    o.close("}");
    Ok(o.finish())
}

/// The types named in `wanted`, added to `types`; returns `(alias, type)` for names that
/// differ from the generated type's (typedefs).
fn explicit_types(types: &mut Types<'_>, wanted: &[String]) -> Result<Vec<(String, Ty)>, GenError> {
    let mut aliases = Vec::new();
    for name in wanted {
        let kinds = [
            Kind::Struct,
            Kind::Union,
            Kind::Enum,
            Kind::Enum64,
            Kind::Typedef,
        ];
        let id = types
            .btf
            .find_by_name(name)
            .find(|&id| {
                types
                    .btf
                    .type_by_id(id)
                    .is_ok_and(|t| kinds.contains(&t.kind()))
            })
            .ok_or_else(|| GenError::TypeNotFound(name.clone()))?;
        let ty = types.ty_of(id, name, &format!("type '{name}'"))?;
        let same = matches!(&ty, Ty::Named(i) if types.decls[*i].name == *name);
        if !same && !types.names.contains(name) {
            let alias = types.names.take(name);
            aliases.push((alias, ty));
        }
    }
    Ok(aliases)
}

fn emit_aliases(o: &mut Out, types: &Types<'_>, aliases: &[(String, Ty)]) {
    for (alias, ty) in aliases {
        o.line("");
        o.doc(&format!(
            "`{}` (a typedef).",
            alias.trim_start_matches("r#")
        ));
        o.line(&format!("pub type {alias} = {};", types.rust(ty)));
    }
}

fn module_doc(o: &mut Out, obj: &str, n: &Names) {
    o.doc(&format!(
        "Skeleton of the BPF object `{obj}`: its types, maps, programs and globals, typed.

```ignore
let mut open = {open}::open()?;
open.globals().set_some_rodata_var(42)?; // before load: the verifier sees it
let skel = open.load()?;
let _links = skel.attach_all()?; // or skel.progs().some_prog().attach()?
let map: &corebpf::Map = skel.maps().some_map();
let v = skel.globals().some_bss_var()?; // read from the kernel, typed
```

- `{open}::open()`/`open_with(builder)` open the embedded object; `globals()` sets the
  initial value of each global variable (`.rodata`, `.data`, `.bss`, custom sections);
  `object_mut()` reaches the rest of `corebpf::OpenObject`; `load()` gives a `{skel}`.
- `{skel}`: `maps()` and `progs()` give each map (`&corebpf::Map`) and program
  (`&corebpf::Program`) by name, `globals()` reads each global variable (and writes those
  of `.data`/`.bss`), `attach_all()` attaches every program its SEC name places.
- Every generated type implements `Bytes`: `to_bytes()` gives the bytes a map or ring
  buffer holds, `T::from_bytes(bytes)` reads them back (`None` if too short). Map keys and
  values go through them: `map.lookup(&key.to_bytes(), 0)`.",
        open = n.open,
        skel = n.skel,
    ));
}
