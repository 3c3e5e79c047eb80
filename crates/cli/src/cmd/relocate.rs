//! `corebpf relocate OBJ [--btf FILE]... [--dump] [--json]`: CO-RE dry run. Resolves every
//! relocation of an object against the running kernel's BTF or BTF files of other kernels,
//! without loading anything, and answers "does this object relocate on kernel X?".

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use corebpf_btf::relo::TargetSet;
use corebpf_obj::ObjectSpec;
use serde_json::{json, Value};

use super::dry_run::{self, DryRun, Outcome, Site};
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
        in libbpf: the verifier accepts it on a dead branch. The exit code is 1 if any \
        relocation fails against any target.";

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
        let targets = TargetSet::kernel().map_err(|e| format!("{VMLINUX}: {e}"))?;
        vec![Run {
            label: "vmlinux".into(),
            path: VMLINUX.into(),
            dry: dry_run::relocate(spec, &targets),
        }]
    } else {
        let mut runs = Vec::new();
        for path in &args.btf {
            let targets = TargetSet::from_btfs(vec![Arc::new(read_btf(path)?)]);
            runs.push(Run {
                label: label(path, &args.btf),
                path: path.display().to_string(),
                dry: dry_run::relocate(spec.clone(), &targets),
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
    if failed > 0 {
        eprintln!("corebpf: {failed} CO-RE relocation(s) failed");
        return Ok(Exit::Failed);
    }
    Ok(Exit::Ok)
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
    if dump {
        o.push_str(&dump_text(&r.dry.spec));
    }
    o
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
    if dump {
        for r in runs {
            let _ = writeln!(o, "instructions against {}:", r.label);
            o.push_str(&dump_text(&r.dry.spec));
        }
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

fn to_json(runs: &[Run], dump: bool) -> Value {
    let targets: Vec<Value> = runs
        .iter()
        .map(|r| {
            let (patched, poisoned, failed) = r.dry.counts();
            let mut v = json!({
                "btf": r.path,
                "label": r.label,
                "ok": failed == 0,
                "patched": patched,
                "poisoned": poisoned,
                "failed": failed,
                "relocations": r.dry.relocations.iter()
                    .map(|(s, o)| outcome_json(s, o)).collect::<Vec<_>>(),
            });
            if dump {
                v["programs"] = dump_json(&r.dry.spec);
            }
            v
        })
        .collect();
    json!({
        "object": runs[0].dry.spec.name,
        "ok": runs.iter().all(|r| r.dry.counts().2 == 0),
        "targets": targets,
    })
}
