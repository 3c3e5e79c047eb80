//! `corebpf relocate OBJ [--btf FILE]... [--dump] [--json]`: CO-RE dry run. Resolves every
//! relocation of an object against the running kernel's BTF or BTF files of other kernels,
//! without loading anything, and answers "does this object relocate on kernel X?".

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use corebpf_btf::relo::TargetSet;
use corebpf_obj::{ExternValue, KsymOutcome, KsymTarget, ObjError, ObjectSpec};
use serde_json::{json, Value};

use super::dry_run::{self, DryRun, ExternSite, Outcome, Site};
use super::{hex, read_btf, Exit, VMLINUX};

/// The long help of `corebpf relocate` (set on the subcommand in `main.rs`).
pub const LONG_ABOUT: &str =
    "Dry-run CO-RE relocation: resolve every relocation of a BPF object against \
        target BTF and print what each instruction becomes, without loading anything.\n\n\
        With no --btf, the target is the running kernel (/sys/kernel/btf/vmlinux and module \
        BTF). With one --btf, the target is that file (raw BTF, an ELF object with .BTF, or \
        either gzip-compressed). With several, one table answers \"does this object relocate \
        on each of these kernels?\": a row per relocation, a column per BTF holding the \
        patched value, `poison` or `FAIL`, and a summary line per BTF.\n\n\
        A poisoned instruction (no target for a field read) is a warning, not a failure, as \
        in libbpf: the verifier accepts it on a dead branch.\n\n\
        `__ksym` externs (kfuncs, typed kernel variables, typeless symbols) are resolved as \
        libbpf resolves them, against each target: by name (a kfunc by its name without a \
        `___suffix`) and compatible type, in vmlinux and, for the running kernel, in its \
        modules' BTF; typeless symbols from /proc/kallsyms (for a BTF file their address is \
        unknown: `?`). A missing `__weak` one is not a failure (its calls are poisoned, its \
        address is 0); a missing strong one fails. With --dump, the instructions are those \
        libbpf 1.7 loads, but for module references: a kfunc call's `off` is the module's \
        fd_array index (as libbpf), and where libbpf writes the module BTF's fd (the second \
        half of a BTF-id `ld_imm64`) a dry run, which opens nothing, writes the module's BTF \
        object id (`bpftool btf show`).\n\n\
        The exit code is 1 if any relocation or strong extern fails against any target.";

/// Arguments of `corebpf relocate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
        corebpf relocate prog.bpf.o\n  \
        corebpf relocate prog.bpf.o --btf 5.10.btf --btf 6.1.btf.gz --btf 6.12.btf\n  \
        corebpf relocate prog.bpf.o --btf 6.1.btf --dump --json\n  \
        corebpf -v relocate prog.bpf.o     # libbpf-format CO-RE log lines on stderr")]
pub struct Args {
    /// The BPF object file.
    pub object: PathBuf,
    /// Target BTF file; repeat to compare kernels (default: the running kernel).
    #[arg(long = "btf", value_name = "FILE")]
    pub btf: Vec<PathBuf>,
    /// Also print each program's final instructions (after CO-RE and subprogram linking).
    #[arg(long)]
    pub dump: bool,
    /// Print JSON (with --dump: instructions also as 16-hex-digit strings).
    #[arg(long)]
    pub json: bool,
}

/// One target's dry run, with the name it goes by in the output.
struct Run {
    label: String,
    path: String,
    dry: DryRun,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Box<dyn Error>> {
    let spec = corebpf_obj::Object::from_file(&args.object)
        .map_err(|e| format!("{}: {e}", args.object.display()))?;
    let runs = if args.btf.is_empty() {
        vec![running_kernel(spec)?]
    } else {
        let mut runs = Vec::new();
        for path in &args.btf {
            let btf = Arc::new(read_btf(path)?);
            let targets = TargetSet::from_btfs(vec![btf.clone()]);
            runs.push(Run {
                label: label(path, &args.btf),
                path: path.display().to_string(),
                dry: dry_run::relocate(spec.clone(), &targets, &mut KsymTarget::new(&btf)),
            });
        }
        runs
    };
    let out = if args.json {
        serde_json::to_string_pretty(&to_json(&runs, args.dump))? + "\n"
    } else if runs.len() == 1 {
        single_text(&runs[0], args.dump)
    } else {
        table_text(&runs, args.dump)
    };
    print!("{out}");
    let failed: usize = runs.iter().map(|r| r.dry.counts().2).sum();
    let externs_failed: usize = runs.iter().map(|r| r.dry.extern_counts().3).sum();
    if failed > 0 {
        eprintln!("corebpf: {failed} CO-RE relocation(s) failed");
    }
    if externs_failed > 0 {
        eprintln!("corebpf: {externs_failed} __ksym extern(s) not resolved");
    }
    if failed > 0 || externs_failed > 0 {
        return Ok(Exit::Failed);
    }
    Ok(Exit::Ok)
}

/// The dry run against the running kernel: CO-RE against vmlinux and module BTF, externs
/// against them and `/proc/kallsyms`.
fn running_kernel(spec: ObjectSpec) -> Result<Run, Box<dyn Error>> {
    let targets = TargetSet::kernel().map_err(|e| format!("{VMLINUX}: {e}"))?;
    let vmlinux = targets
        .primary()
        .cloned()
        .ok_or_else(|| format!("{VMLINUX}: no kernel BTF"))?;
    let mut ksyms = KsymTarget::new(&vmlinux)
        .with_modules(|| corebpf::kernel_module_btfs(&vmlinux))
        .with_running_kallsyms();
    Ok(Run {
        label: "vmlinux".into(),
        path: VMLINUX.into(),
        dry: dry_run::relocate(spec, &targets, &mut ksyms),
    })
}

/// A short column name for a BTF file: its file name, or the full path if two share it.
fn label(path: &std::path::Path, all: &[PathBuf]) -> String {
    let name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let n = name(path).unwrap_or_else(|| path.display().to_string());
    if all
        .iter()
        .filter(|p| name(p).as_deref() == Some(n.as_str()))
        .count()
        > 1
    {
        path.display().to_string()
    } else {
        n
    }
}

fn kind_name(site: &Site) -> &'static str {
    site.kind.map_or("unknown", |k| k.name())
}

/// `<kind> spec`, or just the kind when the spec could not be parsed.
fn spec_text(site: &Site) -> String {
    if site.local_spec.is_empty() {
        format!("<{}>", kind_name(site))
    } else {
        site.local_spec.clone()
    }
}

fn summary(r: &Run) -> String {
    let (ok, poisoned, failed) = r.dry.counts();
    format!(
        "{}: {} relocations: {ok} patched, {poisoned} poisoned, {failed} failed: {}",
        r.label,
        ok + poisoned + failed,
        if failed == 0 { "relocates" } else { "FAILS" }
    )
}

fn single_text(r: &Run, dump: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "object {}: target {}", r.dry.spec.name, r.path);
    let mut current: Option<(&str, &str)> = None;
    for (site, outcome) in &r.dry.relocations {
        if current != Some((&site.section, &site.function)) {
            current = Some((&site.section, &site.function));
            let _ = writeln!(o, "prog '{}' (sec '{}')", site.function, site.section);
        }
        let _ = writeln!(
            o,
            "  relo #{} insn #{} {}",
            site.relo_idx,
            site.insn_idx,
            spec_text(site)
        );
        let _ = match outcome {
            Outcome::Patched {
                orig,
                new,
                target,
                target_btf,
            } => {
                // Name the BTF only when it is not the main one (a kernel module).
                let from = match target_btf.as_deref() {
                    Some(b) if b != "vmlinux" => format!(" in [{b}]"),
                    _ => String::new(),
                };
                let target = target.as_deref().unwrap_or("no match");
                writeln!(o, "    => {target}{from}: {orig} -> {new}")
            }
            Outcome::Poisoned => writeln!(
                o,
                "    => no match: poisoned (warning: the verifier rejects the program if this \
                 instruction is reachable)"
            ),
            Outcome::Failed(e) => writeln!(o, "    => FAILED: {e}"),
        };
    }
    let _ = writeln!(o, "{}", summary(r));
    for (site, outcome) in &r.dry.externs {
        let weak = if site.weak { " (weak)" } else { "" };
        let _ = writeln!(
            o,
            "extern ({}) '{}'{weak}: {}",
            site.kind,
            site.name,
            extern_text(site, outcome)
        );
    }
    if !r.dry.externs.is_empty() {
        let _ = writeln!(o, "{}", extern_summary(r));
    }
    if dump {
        o.push_str(&dump_text(&r.dry.spec));
    }
    o
}

/// The summary line of a target's `__ksym` externs.
fn extern_summary(r: &Run) -> String {
    let (ok, weak, unknown, failed) = r.dry.extern_counts();
    format!(
        "{}: {} __ksym externs: {ok} resolved, {weak} weak and missing, {unknown} unknown, \
         {failed} failed: {}",
        r.label,
        r.dry.externs.len(),
        if failed == 0 { "resolves" } else { "FAILS" }
    )
}

/// The reason of an extern error without the `extern 'NAME': ` its message starts with.
fn extern_reason(e: &ObjError) -> String {
    match e {
        ObjError::Extern { reason, .. } => reason.clone(),
        e => e.to_string(),
    }
}

/// What a target made of an extern, in words.
fn extern_text(site: &ExternSite, outcome: &KsymOutcome) -> String {
    match outcome {
        KsymOutcome::Resolved(ExternValue::KsymBtf { btf_id, module }) => match module {
            None => format!("vmlinux [{btf_id}]"),
            Some(m) => {
                let idx = if m.fd_array_idx > 0 {
                    format!(", fd_array[{}]", m.fd_array_idx)
                } else {
                    String::new()
                };
                format!(
                    "module {} [{btf_id}] (BTF object id {}{idx})",
                    m.name, m.btf_obj_id
                )
            }
        },
        KsymOutcome::Resolved(ExternValue::KsymAddr(a)) => format!("{a:#x}"),
        KsymOutcome::Resolved(v) => format!("{v:?}"),
        KsymOutcome::WeakMissing(why) if site.kind == "kfunc" => {
            format!("missing, calls poisoned and address 0 ({why})")
        }
        KsymOutcome::WeakMissing(why) => format!("missing, address 0 ({why})"),
        KsymOutcome::Unknown => {
            "address unknown (only that kernel's /proc/kallsyms has it)".to_string()
        }
        KsymOutcome::Failed(e) => format!("FAILED: {}", extern_reason(e)),
    }
}

/// An extern's table cell: `[id]`, `MODULE:[id]`, an address, `missing`, `?`, `FAIL`.
fn extern_cell(outcome: &KsymOutcome) -> String {
    match outcome {
        KsymOutcome::Resolved(ExternValue::KsymBtf { btf_id, module }) => match module {
            None => format!("[{btf_id}]"),
            Some(m) => format!("{}:[{btf_id}]", m.name),
        },
        KsymOutcome::Resolved(ExternValue::KsymAddr(a)) => format!("{a:#x}"),
        KsymOutcome::Resolved(v) => format!("{v:?}"),
        KsymOutcome::WeakMissing(_) => "missing".into(),
        KsymOutcome::Unknown => "?".into(),
        KsymOutcome::Failed(_) => "FAIL".into(),
    }
}

fn cell(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Patched { new, .. } => new.to_string(),
        Outcome::Poisoned => "poison".into(),
        Outcome::Failed(_) => "FAIL".into(),
    }
}

/// Rows: relocations; columns: targets.
fn table_text(runs: &[Run], dump: bool) -> String {
    let first = &runs[0].dry;
    let mut rows: Vec<Vec<String>> = vec![["SEC", "RELO", "FUNCTION", "INSN"]
        .iter()
        .map(|s| s.to_string())
        .chain(runs.iter().map(|r| r.label.clone()))
        .chain(["SPEC".to_string()])
        .collect()];
    for (i, (site, _)) in first.relocations.iter().enumerate() {
        let mut row = vec![
            site.section.clone(),
            format!("#{}", site.relo_idx),
            site.function.clone(),
            site.insn_idx.to_string(),
        ];
        // The local spec comes from the object; any run that parsed it has it.
        let mut spec = spec_text(site);
        for r in runs {
            let (s, o) = &r.dry.relocations[i];
            row.push(cell(o));
            if !s.local_spec.is_empty() {
                spec = s.local_spec.clone();
            }
        }
        row.push(spec);
        rows.push(row);
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "object {}: {} CO-RE relocations",
        first.spec.name,
        first.relocations.len()
    );
    for row in &rows {
        let mut line = String::new();
        for (c, text) in row.iter().enumerate() {
            if c == cols - 1 {
                line.push_str(text);
            } else if c >= 4 {
                let _ = write!(line, "{text:>w$}  ", w = widths[c]);
            } else {
                let _ = write!(line, "{text:<w$}  ", w = widths[c]);
            }
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
    for r in runs {
        for (site, outcome) in &r.dry.relocations {
            if let Outcome::Failed(e) = outcome {
                let _ = writeln!(
                    o,
                    "{}: prog '{}': relo #{}: {}: {e}",
                    r.label,
                    site.function,
                    site.relo_idx,
                    spec_text(site)
                );
            }
        }
    }
    for r in runs {
        let _ = writeln!(o, "{}", summary(r));
    }
    o.push_str(&extern_table(runs));
    if dump {
        for r in runs {
            let _ = writeln!(o, "instructions against {}:", r.label);
            o.push_str(&dump_text(&r.dry.spec));
        }
    }
    o
}

/// Rows: `__ksym` externs; columns: targets; then each failure and a summary per target.
/// Empty when the object has none.
fn extern_table(runs: &[Run]) -> String {
    let first = &runs[0].dry;
    if first.externs.is_empty() {
        return String::new();
    }
    let mut rows: Vec<Vec<String>> = vec![["EXTERN", "KIND", "WEAK"]
        .iter()
        .map(|s| s.to_string())
        .chain(runs.iter().map(|r| r.label.clone()))
        .collect()];
    for (i, (site, _)) in first.externs.iter().enumerate() {
        let mut row = vec![
            site.name.clone(),
            site.kind.to_string(),
            if site.weak { "weak" } else { "-" }.to_string(),
        ];
        row.extend(runs.iter().map(|r| extern_cell(&r.dry.externs[i].1)));
        rows.push(row);
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "object {}: {} __ksym externs",
        first.spec.name,
        first.externs.len()
    );
    o.push_str(&super::columns(&rows, 3));
    for r in runs {
        for (site, outcome) in &r.dry.externs {
            if let KsymOutcome::Failed(e) = outcome {
                let _ = writeln!(
                    o,
                    "{}: extern '{}': {}",
                    r.label,
                    site.name,
                    extern_reason(e)
                );
            }
        }
    }
    for r in runs {
        let _ = writeln!(o, "{}", extern_summary(r));
    }
    o
}

/// Each program's final instructions, as `inspect --disasm` prints them.
fn dump_text(spec: &ObjectSpec) -> String {
    let mut o = String::new();
    for (i, p) in spec.programs.iter().enumerate() {
        let _ = writeln!(o, "prog '{}' (sec '{}'):", p.name, p.section);
        for line in super::inspect::program_disasm(spec, i).lines() {
            let _ = writeln!(o, "  {line}");
        }
    }
    o
}

fn dump_json(spec: &ObjectSpec) -> Value {
    let progs: Vec<Value> = spec
        .programs
        .iter()
        .enumerate()
        .map(|(i, p)| match spec.link_program(i) {
            Ok(l) => json!({
                "name": p.name,
                "section": p.section,
                "insns": l.insns.len(),
                "hex": l.insns.iter().map(|x| hex(&x.to_bytes())).collect::<Vec<_>>(),
                "disasm": super::inspect::program_disasm(spec, i),
            }),
            Err(e) => json!({"name": p.name, "section": p.section, "error": e.to_string()}),
        })
        .collect();
    json!(progs)
}

fn outcome_json(site: &Site, outcome: &Outcome) -> Value {
    let mut v = json!({
        "section": site.section,
        "relo": site.relo_idx,
        "function": site.function,
        "insn": site.insn_idx,
        "kind": kind_name(site),
        "local_spec": site.local_spec,
    });
    let extra = match outcome {
        Outcome::Patched {
            orig,
            new,
            target,
            target_btf,
        } => json!({
            "outcome": "patched", "orig": orig, "new": new,
            "target_spec": target, "target_btf": target_btf,
        }),
        Outcome::Poisoned => json!({"outcome": "poisoned"}),
        Outcome::Failed(e) => json!({"outcome": "failed", "error": e}),
    };
    if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
        v.extend(extra);
    }
    v
}

/// An extern and what a target made of it: `outcome` is `resolved` (with `btf`, `btf_id`,
/// and for a module `module_btf_obj_id` and, for a kfunc, `fd_array_idx`; or `address`),
/// `missing` (weak), `unknown` (a typeless symbol of a BTF file) or `failed` (`error`).
fn extern_json(site: &ExternSite, outcome: &KsymOutcome) -> Value {
    let mut v = json!({"name": site.name, "kind": site.kind, "weak": site.weak});
    let extra = match outcome {
        KsymOutcome::Resolved(ExternValue::KsymBtf { btf_id, module }) => match module {
            None => json!({"outcome": "resolved", "btf": "vmlinux", "btf_id": btf_id}),
            Some(m) => json!({
                "outcome": "resolved", "btf": m.name, "btf_id": btf_id,
                "module_btf_obj_id": m.btf_obj_id, "fd_array_idx": m.fd_array_idx,
            }),
        },
        KsymOutcome::Resolved(ExternValue::KsymAddr(a)) => {
            json!({"outcome": "resolved", "address": a})
        }
        KsymOutcome::Resolved(v) => json!({"outcome": "resolved", "value": format!("{v:?}")}),
        KsymOutcome::WeakMissing(why) => json!({"outcome": "missing", "reason": why}),
        KsymOutcome::Unknown => json!({"outcome": "unknown"}),
        KsymOutcome::Failed(e) => json!({"outcome": "failed", "error": extern_reason(e)}),
    };
    if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
        v.extend(extra);
    }
    v
}

fn to_json(runs: &[Run], dump: bool) -> Value {
    let targets: Vec<Value> = runs
        .iter()
        .map(|r| {
            let (patched, poisoned, failed) = r.dry.counts();
            let mut v = json!({
                "btf": r.path,
                "label": r.label,
                "ok": !r.dry.fails(),
                "patched": patched,
                "poisoned": poisoned,
                "failed": failed,
                "relocations": r.dry.relocations.iter()
                    .map(|(s, o)| outcome_json(s, o)).collect::<Vec<_>>(),
                "externs_failed": r.dry.extern_counts().3,
                "externs": r.dry.externs.iter()
                    .map(|(s, o)| extern_json(s, o)).collect::<Vec<_>>(),
            });
            if dump {
                v["programs"] = dump_json(&r.dry.spec);
            }
            v
        })
        .collect();
    json!({
        "object": runs[0].dry.spec.name,
        "ok": runs.iter().all(|r| !r.dry.fails()),
        "targets": targets,
    })
}
