//! Writes the skeleton: the embedded object, `Open<Name>Skel` (before load: typed global
//! setters), `<Name>Skel` (after load: maps, programs, typed globals, `attach_all`).

use crate::model::Types;
use crate::out::Out;
use crate::skel::{Parts, VarInfo};

/// The skeleton's helper functions (written in rustfmt's style by hand).
const HELPERS: &str = include_str!("helpers.rs.txt");

/// The skeleton's own type names for object `base` (CamelCase).
pub(crate) struct Names {
    pub open: String,
    pub skel: String,
    pub maps: String,
    pub progs: String,
    pub globals: String,
    pub open_globals: String,
}

impl Names {
    pub(crate) fn new(base: &str) -> Names {
        Names {
            open: format!("Open{base}Skel"),
            skel: format!("{base}Skel"),
            maps: format!("{base}Maps"),
            progs: format!("{base}Progs"),
            globals: format!("{base}Globals"),
            open_globals: format!("Open{base}Globals"),
        }
    }

    pub(crate) fn all(&self) -> [&str; 6] {
        [
            &self.open,
            &self.skel,
            &self.maps,
            &self.progs,
            &self.globals,
            &self.open_globals,
        ]
    }
}

/// Writes the object constants and the skeleton types.
pub(crate) fn emit_skel(
    o: &mut Out,
    types: &Types<'_>,
    parts: &Parts,
    n: &Names,
    obj_name: &str,
    path: &str,
) {
    o.line("");
    o.doc("The BPF object, embedded.");
    o.assign(
        "pub static OBJECT: &[u8]",
        &format!("include_bytes!({path:?})"),
    );
    o.line("");
    o.doc("The object's name: internal map names (`<name>.rodata`) derive from it.");
    o.line(&format!("pub const OBJECT_NAME: &str = {obj_name:?};"));
    o.line("");
    emit_open(o, n);
    o.line("");
    emit_loaded(o, n);
    o.line("");
    emit_maps(o, parts, n);
    o.line("");
    emit_progs(o, parts, n);
    o.line("");
    emit_globals(o, types, parts, n);
    o.line("");
    emit_open_globals(o, types, parts, n);
}

fn emit_open(o: &mut Out, n: &Names) {
    o.doc(
        "The object opened, not loaded: set globals (`globals()`), then `load()`. \
         `object_mut()` reaches the rest of `corebpf::OpenObject` (autoload, map sizes).",
    );
    o.line("#[derive(Debug)]");
    o.open(&format!("pub struct {} {{", n.open));
    o.line("obj: ::corebpf::OpenObject,");
    o.close("}");
    o.line("");
    o.open(&format!("impl {} {{", n.open));
    o.doc("Opens the embedded object with default options.");
    o.open("pub fn open() -> ::corebpf::Result<Self> {");
    o.line("Self::open_with(::corebpf::ObjectBuilder::new())");
    o.close("}");
    o.line("");
    o.doc("Opens the embedded object with `builder`'s options (target BTF, pin root, ...).");
    o.open("pub fn open_with(builder: ::corebpf::ObjectBuilder) -> ::corebpf::Result<Self> {");
    o.open("Ok(Self {");
    o.line("obj: builder.open_mem(OBJECT, OBJECT_NAME)?,");
    o.close("})");
    o.close("}");
    o.line("");
    o.doc("The opened object.");
    o.open("pub fn object(&self) -> &::corebpf::OpenObject {");
    o.line("&self.obj");
    o.close("}");
    o.line("");
    o.doc("The opened object, to change before load.");
    o.open("pub fn object_mut(&mut self) -> &mut ::corebpf::OpenObject {");
    o.line("&mut self.obj");
    o.close("}");
    o.line("");
    o.doc("Typed setters of the global variables' initial values.");
    o.open(&format!(
        "pub fn globals(&mut self) -> {}<'_> {{",
        n.open_globals
    ));
    o.line(&format!("{} {{ obj: &mut self.obj }}", n.open_globals));
    o.close("}");
    o.line("");
    o.doc("Loads the object (CO-RE, maps, programs) into the kernel.");
    o.open(&format!(
        "pub fn load(self) -> ::corebpf::Result<{}> {{",
        n.skel
    ));
    o.open(&format!("Ok({} {{", n.skel));
    o.line("obj: self.obj.load()?,");
    o.close("})");
    o.close("}");
    o.close("}");
}

fn emit_loaded(o: &mut Out, n: &Names) {
    o.doc("The loaded object: its maps, programs and global variables, typed.");
    o.line("#[derive(Debug)]");
    o.open(&format!("pub struct {} {{", n.skel));
    o.line("obj: ::corebpf::Object,");
    o.close("}");
    o.line("");
    o.open(&format!("impl {} {{", n.skel));
    o.doc(&format!("Opens the embedded object: `{}::open()`.", n.open));
    o.open(&format!(
        "pub fn open() -> ::corebpf::Result<{}> {{",
        n.open
    ));
    o.line(&format!("{}::open()", n.open));
    o.close("}");
    let getters = [
        (
            "The loaded object.",
            "object",
            "&::corebpf::Object",
            "&self.obj",
        ),
        (
            "The maps, by name.",
            "maps",
            &format!("{}<'_>", n.maps),
            &format!("{} {{ obj: &self.obj }}", n.maps),
        ),
        (
            "The programs, by name.",
            "progs",
            &format!("{}<'_>", n.progs),
            &format!("{} {{ obj: &self.obj }}", n.progs),
        ),
        (
            "The global variables, typed.",
            "globals",
            &format!("{}<'_>", n.globals),
            &format!("{} {{ obj: &self.obj }}", n.globals),
        ),
    ];
    for (doc, name, ret, body) in getters {
        o.line("");
        o.doc(doc);
        o.open(&format!("pub fn {name}(&self) -> {ret} {{"));
        o.line(body);
        o.close("}");
    }
    o.line("");
    o.doc("The loaded object, to keep without the skeleton.");
    o.open("pub fn into_object(self) -> ::corebpf::Object {");
    o.line("self.obj");
    o.close("}");
    o.line("");
    o.doc("Attaches every program whose SEC name says where (`corebpf::Object::attach_all`).");
    o.open("pub fn attach_all(&self) -> ::corebpf::Result<Vec<::corebpf::Link>> {");
    o.line("self.obj.attach_all()");
    o.close("}");
    o.close("}");
}

/// A view struct holding the loaded object.
fn view_struct(o: &mut Out, doc: &str, name: &str, mutable: bool, object: &str) {
    o.doc(doc);
    o.line("#[derive(Debug)]");
    o.open(&format!("pub struct {name}<'a> {{"));
    let m = if mutable { "mut " } else { "" };
    o.line(&format!("obj: &'a {m}::corebpf::{object},"));
    o.close("}");
}

fn emit_maps(o: &mut Out, parts: &Parts, n: &Names) {
    view_struct(o, "The object's maps.", &n.maps, false, "Object");
    o.line("");
    if parts.maps.is_empty() {
        return o.line(&format!("impl {}<'_> {{}}", n.maps));
    }
    o.open(&format!("impl<'a> {}<'a> {{", n.maps));
    for (i, m) in parts.maps.iter().enumerate() {
        if i > 0 {
            o.line("");
        }
        o.doc(&m.doc);
        let name = format!("{:?}", m.lookup);
        if m.optional {
            o.doc("Not created unless asked for (`object_mut().set_autocreate`) before load.");
            o.open_fn(
                &format!("pub fn {}", m.method),
                &["&self"],
                " -> Option<&'a ::corebpf::Map>",
            );
            o.call("", "self.obj.map", &[&name], "");
        } else {
            o.doc("\n# Panics\nIf its creation was turned off before load.");
            o.open_fn(
                &format!("pub fn {}", m.method),
                &["&self"],
                " -> &'a ::corebpf::Map",
            );
            o.call("", "skel_map", &["self.obj", &name], "");
        }
        o.close("}");
    }
    o.close("}");
}

fn emit_progs(o: &mut Out, parts: &Parts, n: &Names) {
    view_struct(o, "The object's programs.", &n.progs, false, "Object");
    o.line("");
    if parts.progs.is_empty() {
        return o.line(&format!("impl {}<'_> {{}}", n.progs));
    }
    o.open(&format!("impl<'a> {}<'a> {{", n.progs));
    for (i, p) in parts.progs.iter().enumerate() {
        if i > 0 {
            o.line("");
        }
        o.doc(&format!("`{}` (SEC(\"{}\")).", p.name, p.section));
        let name = format!("{:?}", p.name);
        if p.optional {
            o.doc("Not loaded by default.");
            o.open_fn(
                &format!("pub fn {}", p.method),
                &["&self"],
                " -> Option<&'a ::corebpf::Program>",
            );
            o.call("", "self.obj.program", &[&name], "");
        } else {
            o.doc("\n# Panics\nIf its autoload was turned off before load.");
            o.open_fn(
                &format!("pub fn {}", p.method),
                &["&self"],
                " -> &'a ::corebpf::Program",
            );
            o.call("", "skel_prog", &["self.obj", &name], "");
        }
        o.close("}");
    }
    o.close("}");
}

fn var_doc(types: &Types<'_>, v: &VarInfo) -> String {
    format!("`{}` ({}, `{}`).", v.name, v.section, types.rust(&v.ty))
}

fn emit_globals(o: &mut Out, types: &Types<'_>, parts: &Parts, n: &Names) {
    view_struct(
        o,
        "The global variables of the loaded object.",
        &n.globals,
        false,
        "Object",
    );
    o.line("");
    if parts.vars.is_empty() {
        o.line(&format!("impl {}<'_> {{}}", n.globals));
    } else {
        emit_global_readers(o, types, parts, n);
    }
    o.line("");
    emit_read_global(o);
}

fn emit_global_readers(o: &mut Out, types: &Types<'_>, parts: &Parts, n: &Names) {
    o.open(&format!("impl {}<'_> {{", n.globals));
    for (i, v) in parts.vars.iter().enumerate() {
        if i > 0 {
            o.line("");
        }
        let ty = types.rust(&v.ty);
        o.doc(&format!("Reads {}", var_doc(types, v)));
        o.open_fn(
            &format!("pub fn {}", v.getter),
            &["&self"],
            &format!(" -> ::corebpf::Result<{ty}>"),
        );
        o.call("", "skel_read", &["self.obj", &format!("{:?}", v.name)], "");
        o.close("}");
        if v.writable {
            o.line("");
            o.doc(&format!("Writes {}", var_doc(types, v)));
            let p = format!("v: {ty}");
            o.open_fn(
                &format!("pub fn {}", v.setter),
                &["&self", &p],
                " -> ::corebpf::Result<()>",
            );
            o.call(
                "",
                "skel_write",
                &["self.obj", &format!("{:?}", v.name), "&v"],
                "",
            );
            o.close("}");
        }
    }
    o.close("}");
}

fn emit_read_global(o: &mut Out) {
    for l in HELPERS.lines() {
        o.line(l);
    }
}

fn emit_open_globals(o: &mut Out, types: &Types<'_>, parts: &Parts, n: &Names) {
    let doc = "The global variables of the opened object: their initial values, which the \
               verifier sees for `.rodata`.";
    view_struct(o, doc, &n.open_globals, true, "OpenObject");
    o.line("");
    if parts.vars.is_empty() {
        return o.line(&format!("impl {}<'_> {{}}", n.open_globals));
    }
    o.open(&format!("impl {}<'_> {{", n.open_globals));
    for (i, v) in parts.vars.iter().enumerate() {
        if i > 0 {
            o.line("");
        }
        let ty = types.rust(&v.ty);
        o.doc(&format!("Sets the initial value of {}", var_doc(types, v)));
        let p = format!("v: {ty}");
        o.open_fn(
            &format!("pub fn {}", v.setter),
            &["&mut self", &p],
            " -> ::corebpf::Result<()>",
        );
        o.call(
            "",
            "skel_set",
            &["self.obj", &format!("{:?}", v.name), "&v"],
            "",
        );
        o.close("}");
    }
    o.close("}");
}
