//! `corebpf inspect OBJ [--disasm] [--json]`: programs, maps, data sections, externs,
//! license, BTF and CO-RE relocation counts of a BPF object, without a kernel. A program
//! that reaches a symbol nothing defines is shown with that symbol listed (it would fail to
//! load; the object's other programs would not).

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

use corebpf_obj::{
    disasm, ExternKind, KsymKind, MapKind, MapSpec, ObjectSpec, Pinning, ProgramSpec, SlotTarget,
    UndefinedRef,
};
use serde_json::{json, Value};

/// Arguments of `corebpf inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The BPF object file (`clang -target bpf` output).
    pub object: PathBuf,
    /// Also print each program's linked instructions.
    #[arg(long)]
    pub disasm: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let spec = ObjectSpec::from_file(&args.object)?;
    let out = if args.json {
        serde_json::to_string_pretty(&to_json(&spec, args.disasm))? + "\n"
    } else {
        to_text(&spec, args.disasm)
    };
    print!("{out}");
    Ok(())
}

fn pinning(p: Pinning) -> &'static str {
    match p {
        Pinning::None => "none",
        Pinning::ByName => "by_name",
    }
}

fn map_kind(k: MapKind) -> &'static str {
    match k {
        MapKind::Btf => "btf",
        MapKind::Legacy => "legacy",
        MapKind::Data(_) => "data",
        MapKind::Kconfig => "kconfig",
        MapKind::StructOps => "struct_ops",
    }
}

fn extern_kind(k: &ExternKind) -> String {
    match k {
        ExternKind::Kconfig { ty, size, .. } => format!("kconfig {ty:?} ({size} bytes)"),
        ExternKind::Ksym(KsymKind::Var { .. }) => "ksym var".into(),
        ExternKind::Ksym(KsymKind::Typeless) => "ksym typeless".into(),
        ExternKind::Ksym(KsymKind::Func { .. }) => "ksym func".into(),
    }
}

/// The undefined symbols program `idx` reaches, each once: `NAME` for an `LD_IMM64`,
/// `NAME()` for a call. Empty if it links (or fails to link for another reason).
fn undefined_names(spec: &ObjectSpec, idx: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for u in spec.undefined_symbols(idx).unwrap_or_default() {
        let name = undefined_name(&u);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn undefined_name(u: &UndefinedRef) -> String {
    if u.call {
        format!("{}()", u.symbol)
    } else {
        u.symbol.clone()
    }
}

/// Linked instructions as text (references to undefined symbols noted as such), or the
/// link error.
pub(crate) fn program_disasm(spec: &ObjectSpec, idx: usize) -> String {
    match spec.link_program_allow_undefined(idx) {
        Ok(l) => {
            // Name what each reference is, as bpftool does with map names.
            let note = |idx: usize| {
                if let Some(r) = l.map_relocs.iter().find(|r| r.insn_idx == idx) {
                    return Some(format!("map '{}'", spec.maps[r.map].name));
                }
                if let Some(r) = l.extern_relocs.iter().find(|r| r.insn_idx == idx) {
                    return Some(format!("extern '{}'", spec.externs[r.ext].name));
                }
                let undefined = l.undefined.iter().find(|u| {
                    l.layout
                        .iter()
                        .any(|p| p.function == u.function && p.start + u.insn == idx)
                });
                if let Some(u) = undefined {
                    return Some(format!("undefined '{}'", u.symbol));
                }
                let insn = l.insns[idx];
                if insn.is_pseudo_call() || insn.is_pseudo_func() {
                    let target = (idx as i64 + insn.imm as i64 + 1) as usize;
                    let p = l.layout.iter().find(|p| p.start == target)?;
                    return Some(spec.functions[p.function].name.clone());
                }
                None
            };
            disasm::disasm_annotated(&l.insns, &note)
        }
        Err(e) => format!("  (cannot link: {e})\n"),
    }
}

fn to_text(spec: &ObjectSpec, with_disasm: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "object: {}", spec.name);
    let _ = writeln!(o, "license: {}", spec.license);
    if let Some(v) = spec.kern_version {
        let _ = writeln!(o, "version: {v:#x}");
    }
    write_programs(&mut o, spec, with_disasm);
    write_subprograms(&mut o, spec);
    write_maps(&mut o, spec);
    write_data_sections(&mut o, spec);
    write_externs(&mut o, spec);
    match &spec.btf {
        Some(b) => {
            let _ = writeln!(o, "btf: {} types", b.type_count().saturating_sub(1));
        }
        None => {
            let _ = writeln!(o, "btf: none");
        }
    }
    write_core_relocations(&mut o, spec);
    o
}

/// One line per program, each followed by its disassembly when asked.
fn write_programs(o: &mut String, spec: &ObjectSpec, with_disasm: bool) {
    let _ = writeln!(o, "programs: {}", spec.programs.len());
    for (i, p) in spec.programs.iter().enumerate() {
        let f = &spec.functions[p.function];
        let _ = write!(
            o,
            "  {} sec '{}' type {} insns {}",
            p.name,
            p.section,
            p.prog_type,
            f.insns.len()
        );
        if let Some(a) = p.expected_attach_type {
            let _ = write!(o, " attach_type {a}");
        }
        if let Some(t) = &p.attach_target {
            let _ = write!(o, " target '{t}'");
        }
        if p.sleepable {
            let _ = write!(o, " sleepable");
        }
        if p.xdp_frags {
            let _ = write!(o, " frags");
        }
        if let Some(e) = &p.error {
            let _ = write!(o, " ERROR: {e}");
        }
        let undefined = undefined_names(spec, i);
        if !undefined.is_empty() {
            let _ = write!(o, " undefined: {}", undefined.join(", "));
        }
        o.push('\n');
        if with_disasm {
            for line in program_disasm(spec, i).lines() {
                let _ = writeln!(o, "    {line}");
            }
        }
    }
}

/// One line per function that is not a program.
fn write_subprograms(o: &mut String, spec: &ObjectSpec) {
    let subprogs: Vec<_> = spec
        .functions
        .iter()
        .filter(|f| f.program.is_none())
        .collect();
    let _ = writeln!(o, "subprograms: {}", subprogs.len());
    for f in subprogs {
        let _ = writeln!(
            o,
            "  {} sec '{}' {} insns {}",
            f.name,
            f.section,
            match (f.global, f.hidden) {
                (true, true) => "global hidden",
                (true, false) => "global",
                _ => "static",
            },
            f.insns.len()
        );
    }
}

/// One line per map: its definition, inner map and initial slots.
fn write_maps(o: &mut String, spec: &ObjectSpec) {
    let _ = writeln!(o, "maps: {}", spec.maps.len());
    for m in &spec.maps {
        let _ = write!(
            o,
            "  {} ({}) type {} key {} value {} max_entries {} flags {:#x} pinning {}",
            m.name,
            map_kind(m.kind),
            m.map_type,
            m.key_size,
            m.value_size,
            m.max_entries,
            m.map_flags,
            pinning(m.pinning)
        );
        if let Some(inner) = &m.inner {
            let _ = write!(
                o,
                " inner {} key {} value {} max_entries {}",
                inner.map_type, inner.key_size, inner.value_size, inner.max_entries
            );
        }
        for s in &m.init_slots {
            let _ = write!(o, " [{}]={}", s.index, slot_target(spec, &s.target));
        }
        o.push('\n');
        if let Some((ty, members)) = struct_ops_members(spec, m) {
            let list: Vec<String> = members.iter().map(|(m, p)| format!("{m}={p}")).collect();
            let off = if m.autocreate {
                ""
            } else {
                " (not created by default)"
            };
            let _ = writeln!(o, "    struct {ty}{off}: {}", list.join(" "));
        }
    }
}

/// A struct_ops map's ops struct and its members set to programs, in member order.
fn struct_ops_members(spec: &ObjectSpec, m: &MapSpec) -> Option<(String, Vec<(String, String)>)> {
    let ty = spec.btf.as_ref()?.type_by_id(m.struct_ops_type_id?).ok()?;
    let mut slots: Vec<_> = m.struct_ops_slots.iter().collect();
    slots.sort_by_key(|s| s.offset);
    let members = slots
        .iter()
        .map(|s| (s.member.clone(), spec.programs[s.program].name.clone()))
        .collect();
    Some((ty.name().to_string(), members))
}

/// The name of what an initial slot holds.
fn slot_target(spec: &ObjectSpec, target: &SlotTarget) -> String {
    match target {
        SlotTarget::Map(i) => spec.maps[*i].name.clone(),
        SlotTarget::Program(i) => spec.programs[*i].name.clone(),
    }
}

/// One line per global data section (`.data`, `.rodata`, `.bss`, ...).
fn write_data_sections(o: &mut String, spec: &ObjectSpec) {
    let data: Vec<_> = spec
        .maps
        .iter()
        .filter(|m| matches!(m.kind, MapKind::Data(_)))
        .collect();
    let _ = writeln!(o, "data sections: {}", data.len());
    for m in data {
        let _ = writeln!(
            o,
            "  {} size {}{}{}",
            m.section,
            m.value_size,
            if m.freeze { " read-only" } else { "" },
            if m.data.is_none() { " zeroed" } else { "" }
        );
    }
}

/// One line per extern.
fn write_externs(o: &mut String, spec: &ObjectSpec) {
    let _ = writeln!(o, "externs: {}", spec.externs.len());
    for e in &spec.externs {
        let _ = writeln!(
            o,
            "  {} {}{}",
            e.name,
            extern_kind(&e.kind),
            if e.weak { " weak" } else { "" }
        );
    }
}

/// The number of CO-RE relocations, in all and per section.
fn write_core_relocations(o: &mut String, spec: &ObjectSpec) {
    let counts = spec.core_relo_counts();
    let total: usize = counts.iter().map(|c| c.1).sum();
    let _ = writeln!(o, "core relocations: {total}");
    for (sec, n) in counts {
        let _ = writeln!(o, "  sec '{sec}': {n}");
    }
}

fn to_json(spec: &ObjectSpec, with_disasm: bool) -> Value {
    let programs: Vec<Value> = spec
        .programs
        .iter()
        .enumerate()
        .map(|(i, p)| program_json(spec, i, p, with_disasm))
        .collect();
    let functions: Vec<Value> = spec
        .functions
        .iter()
        .map(|f| {
            json!({
                "name": f.name, "section": f.section, "global": f.global,
                "hidden": f.hidden, "program": f.program.is_some(), "insns": f.insns.len(),
            })
        })
        .collect();
    let maps: Vec<Value> = spec.maps.iter().map(|m| map_json(spec, m)).collect();
    let externs: Vec<Value> = spec
        .externs
        .iter()
        .map(|e| json!({"name": e.name, "kind": extern_kind(&e.kind), "weak": e.weak}))
        .collect();
    let core: serde_json::Map<String, Value> = spec
        .core_relo_counts()
        .into_iter()
        .map(|(s, n)| (s, json!(n)))
        .collect();
    json!({
        "name": spec.name,
        "license": spec.license,
        "version": spec.kern_version,
        "programs": programs,
        "functions": functions,
        "maps": maps,
        "externs": externs,
        "btf_types": spec.btf.as_ref().map(|b| b.type_count().saturating_sub(1)),
        "core_relocations": core,
    })
}

/// Program `i` (`p`) as JSON, with its disassembly when asked.
fn program_json(spec: &ObjectSpec, i: usize, p: &ProgramSpec, with_disasm: bool) -> Value {
    let mut v = json!({
        "name": p.name,
        "section": p.section,
        "type": p.prog_type.name(),
        "expected_attach_type": p.expected_attach_type.map(|a| a.name()),
        "attach_target": p.attach_target,
        "sleepable": p.sleepable,
        "xdp_frags": p.xdp_frags,
        "insns": spec.functions[p.function].insns.len(),
        "error": p.error.as_ref().map(|e| e.to_string()),
        "undefined": spec.undefined_symbols(i).unwrap_or_default().iter().map(|u| json!({
            "symbol": u.symbol,
            "call": u.call,
            "function": spec.functions[u.function].name,
            "insn": u.insn,
        })).collect::<Vec<_>>(),
    });
    if with_disasm {
        v["disasm"] = json!(program_disasm(spec, i));
    }
    v
}

/// A map's definition, inner map and initial slots as JSON.
fn map_json(spec: &ObjectSpec, m: &MapSpec) -> Value {
    json!({
        "name": m.name,
        "kind": map_kind(m.kind),
        "section": m.section,
        "type": m.map_type.name(),
        "key_size": m.key_size,
        "value_size": m.value_size,
        "max_entries": m.max_entries,
        "map_flags": m.map_flags,
        "numa_node": m.numa_node,
        "map_extra": m.map_extra,
        "pinning": pinning(m.pinning),
        "inner": m.inner.as_ref().map(|i| json!({
            "type": i.map_type.name(), "key_size": i.key_size,
            "value_size": i.value_size, "max_entries": i.max_entries,
        })),
        "init_slots": m.init_slots.iter().map(|s| json!({
            "index": s.index,
            "target": slot_target(spec, &s.target),
        })).collect::<Vec<_>>(),
        "struct_ops": struct_ops_members(spec, m).map(|(ty, members)| json!({
            "type": ty,
            "autocreate": m.autocreate,
            "members": members.into_iter().map(|(m, p)| json!({"member": m, "program": p}))
                .collect::<Vec<_>>(),
        })),
    })
}
