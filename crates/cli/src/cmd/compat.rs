//! `corebpf compat OBJ... [--btf FILE]... [--json]`: will these objects load on these
//! kernels? Everything each object needs (CO-RE relocations, program, attach and map
//! types, helpers, kfuncs and ksyms, attach targets, struct_ops types, BTF kinds) checked
//! against each kernel's BTF, with a verdict per program and per kernel.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use corebpf::compat::{self, Category, Kernel, ProgVerdict, Report, Status, Verdict};
use corebpf_obj::ObjectSpec;
use serde_json::{json, Value};

use super::{read_btf, Exit, VMLINUX};

/// The long help of `corebpf compat` (set on the subcommand in `main.rs`).
pub const LONG_ABOUT: &str =
    "Compatibility report: for each object and kernel, everything the object needs and \
        whether that kernel's BTF has it, without loading anything.\n\n\
        Checked: CO-RE relocations (as `relocate`), program types, expected attach types and \
        map types (the kernel's enum bpf_prog_type, bpf_attach_type, bpf_map_type), helpers \
        (enum bpf_func_id), __ksym kfuncs and variables, attach targets (fentry/fexit/\
        fmod_ret/lsm/iter functions, tp_btf and tracepoints, struct_ops types and members) \
        and the BTF kinds of the object the kernel would need rewritten.\n\n\
        Each cell is `yes`, `NO`, `~` (missing but tolerated: a weak extern, a poisoned \
        relocation, a fallback, a BTF kind the loader rewrites) or `?` (the kernel's BTF \
        cannot tell: kernel config values, kallsyms addresses). Whether the verifier accepts \
        a program, and whether a helper or kfunc is allowed for its program type, is not \
        decided here.\n\n\
        With no --btf, the kernel is the running one (its vmlinux and module BTF and \
        kallsyms). The exit code is 1 if some program of some object fails on some kernel.";

/// Arguments of `corebpf compat`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
        corebpf compat prog.bpf.o\n  \
        corebpf compat a.bpf.o b.bpf.o --btf 5.10.btf --btf 6.1.btf.gz --btf 6.12.btf\n  \
        corebpf compat prog.bpf.o --btf 6.1.btf --json")]
pub struct Args {
    /// BPF object files.
    #[arg(required = true)]
    pub objects: Vec<PathBuf>,
    /// Kernel BTF file; repeat for several kernels (default: the running kernel).
    #[arg(long = "btf", value_name = "FILE")]
    pub btf: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// List every need, also those every kernel has (default: CO-RE relocations that
    /// resolve everywhere are counted, not listed).
    #[arg(long)]
    pub all: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Box<dyn Error>> {
    let kernels = kernels(&args.btf)?;
    let mut objects = Vec::new();
    for path in &args.objects {
        let spec =
            corebpf_obj::Object::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let reports: Vec<Report> = kernels.iter().map(|k| compat::check(&spec, k)).collect();
        objects.push((path, spec, reports));
    }
    if args.json {
        let v: Vec<Value> = objects
            .iter()
            .map(|(p, s, r)| object_json(&p.display().to_string(), s, r))
            .collect();
        let ok = objects.iter().all(|(_, _, r)| r.iter().all(loads));
        let out = json!({"ok": ok, "objects": v});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for (_, spec, reports) in &objects {
            print!("{}", object_text(spec, reports, args.all));
        }
    }
    let ok = objects.iter().all(|(_, _, r)| r.iter().all(loads));
    Ok(if ok { Exit::Ok } else { Exit::Failed })
}

fn loads(r: &Report) -> bool {
    r.verdict == Verdict::Loads
}

/// The kernels: each --btf file, or the running kernel.
fn kernels(files: &[PathBuf]) -> Result<Vec<Kernel>, Box<dyn Error>> {
    if files.is_empty() {
        return Ok(vec![
            Kernel::running().map_err(|e| format!("{VMLINUX}: {e}"))?
        ]);
    }
    let mut out = Vec::new();
    for path in files {
        let btf = Arc::new(read_btf(path)?);
        out.push(Kernel::from_btf(label(path, files), btf));
    }
    Ok(out)
}

/// A short column name for a BTF file: its name without `.btf`/`.gz`, or the full path
/// if two share it.
fn label(path: &std::path::Path, all: &[PathBuf]) -> String {
    let short = |p: &std::path::Path| {
        let n = p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let n = n.strip_suffix(".gz").unwrap_or(&n).to_string();
        n.strip_suffix(".btf").unwrap_or(&n).to_string()
    };
    let n = short(path);
    if all.iter().filter(|p| short(p) == n).count() > 1 {
        path.display().to_string()
    } else {
        n
    }
}

fn cell(s: &Status) -> &'static str {
    match s {
        Status::Yes(_) => "yes",
        Status::No(_) => "NO",
        Status::Tolerated(_) => "~",
        Status::Unknown(_) => "?",
    }
}

/// The programs column: names, or a count when there are many; `(object)` for none.
fn programs_cell(spec: &ObjectSpec, programs: &[usize]) -> String {
    match programs.len() {
        0 => "(object)".into(),
        1 | 2 => programs
            .iter()
            .filter_map(|&i| spec.programs.get(i).map(|p| p.name.as_str()))
            .collect::<Vec<_>>()
            .join(","),
        n => format!("{n} programs"),
    }
}

/// Rows: needs (union over kernels, first kernel's order); columns: kernels.
fn need_rows(spec: &ObjectSpec, reports: &[Report], all: bool) -> (Vec<Vec<String>>, usize) {
    let mut keys: Vec<(Category, &str, &[usize])> = Vec::new();
    for r in reports {
        for n in &r.needs {
            if !keys
                .iter()
                .any(|(c, name, _)| *c == n.category && *name == n.name)
            {
                keys.push((n.category, &n.name, &n.programs));
            }
        }
    }
    let mut rows = vec![["NEED", "NAME", "PROGRAMS"]
        .iter()
        .map(|s| s.to_string())
        .chain(reports.iter().map(|r| r.kernel.clone()))
        .collect::<Vec<_>>()];
    let mut hidden = 0;
    for (cat, name, progs) in keys {
        let cells: Vec<&str> = reports
            .iter()
            .map(|r| {
                r.needs
                    .iter()
                    .find(|n| n.category == cat && n.name == name)
                    .map_or("-", |n| cell(&n.status))
            })
            .collect();
        if !all && cat == Category::Core && cells.iter().all(|c| *c == "yes") {
            hidden += 1;
            continue;
        }
        let mut row = vec![
            cat.name().to_string(),
            name.to_string(),
            programs_cell(spec, progs),
        ];
        row.extend(cells.iter().map(|c| c.to_string()));
        rows.push(row);
    }
    (rows, hidden)
}

/// One object's table and each kernel's verdict with its reasons.
fn object_text(spec: &ObjectSpec, reports: &[Report], all: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "object {}: {} programs, {} kernels",
        spec.name,
        spec.programs.len(),
        reports.len()
    );
    let (rows, hidden) = need_rows(spec, reports, all);
    o.push_str(&super::columns(&rows, 3));
    if hidden > 0 {
        let _ = writeln!(
            o,
            "(and {hidden} CO-RE relocations that resolve on every kernel)"
        );
    }
    for r in reports {
        o.push_str(&verdict_text(r));
    }
    o.push('\n');
    o
}

/// A kernel's verdict, its failing programs with reasons, and what it cannot tell.
fn verdict_text(r: &Report) -> String {
    let mut o = String::new();
    let _ = match &r.verdict {
        Verdict::Loads => writeln!(o, "{}: loads", r.kernel),
        Verdict::LoadsWithFailing(p) => writeln!(
            o,
            "{}: loads with {} of {} programs failing: {}",
            r.kernel,
            p.len(),
            r.programs.len(),
            p.join(", ")
        ),
        Verdict::DoesNotLoad(why) => writeln!(o, "{}: does not load: {}", r.kernel, why.join("; ")),
    };
    for p in &r.programs {
        let what = match p.verdict {
            ProgVerdict::Loads => continue,
            ProgVerdict::Fails => "fails",
            ProgVerdict::AttachFails => "loads, cannot attach",
        };
        let _ = writeln!(o, "  prog '{}' (SEC \"{}\"): {what}", p.name, p.section);
        for reason in &p.reasons {
            let _ = writeln!(o, "    {reason}");
        }
    }
    let unknown: Vec<String> = r
        .needs
        .iter()
        .filter(|n| matches!(n.status, Status::Unknown(_)))
        .map(|n| format!("{} {}", n.category.name(), n.name))
        .collect();
    if !unknown.is_empty() {
        let _ = writeln!(o, "  unknown from BTF: {}", unknown.join(", "));
    }
    o
}

fn report_json(spec: &ObjectSpec, r: &Report) -> Value {
    let needs: Vec<Value> = r
        .needs
        .iter()
        .map(|n| {
            json!({
                "category": n.category.name(),
                "name": n.name,
                "programs": n.programs.iter()
                    .filter_map(|&i| spec.programs.get(i).map(|p| p.name.clone()))
                    .collect::<Vec<_>>(),
                "status": n.status.name(),
                "detail": n.status.detail(),
                "effect": format!("{:?}", n.effect).to_lowercase(),
            })
        })
        .collect();
    let programs: Vec<Value> = r
        .programs
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "section": p.section,
                "verdict": match p.verdict {
                    ProgVerdict::Loads => "loads",
                    ProgVerdict::AttachFails => "attach_fails",
                    ProgVerdict::Fails => "fails",
                },
                "reasons": p.reasons,
                "unknown": p.unknown,
            })
        })
        .collect();
    let detail = match &r.verdict {
        Verdict::Loads => Vec::new(),
        Verdict::LoadsWithFailing(p) => p.clone(),
        Verdict::DoesNotLoad(why) => why.clone(),
    };
    json!({
        "kernel": r.kernel,
        "verdict": r.verdict.name(),
        "verdict_detail": detail,
        "programs": programs,
        "needs": needs,
    })
}

fn object_json(path: &str, spec: &ObjectSpec, reports: &[Report]) -> Value {
    json!({
        "object": spec.name,
        "path": path,
        "kernels": reports.iter().map(|r| report_json(spec, r)).collect::<Vec<_>>(),
    })
}
