//! `corebpf btf dump [FILE] [--format raw|c] [--summary]`, `corebpf btf show TYPE [FILE]` and
//! `corebpf btf min OBJ... --btf FILE|--btf-dir DIR -o OUT` (in `btf_min.rs`).

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use corebpf_btf::{Btf, Kind, Type};

use super::btf_raw::{kind_str, write_type};
use super::{read_btf, usage, Exit, VMLINUX};

/// `corebpf btf` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Dump every type: bpftool's raw format, a C header (vmlinux.h), or a summary.
    #[command(
        long_about = "Dump every type of a BTF file.\n\n\
            --format raw (the default) prints bpftool's `btf dump file` format: \
            `[id] KIND 'name' ...` lines, members tab-indented. --format c prints a C header \
            (vmlinux.h) in libbpf's btf_dump order. --summary prints the type count, counts per \
            kind, the size and the parse time instead.\n\n\
            FILE is raw BTF, an ELF object with .BTF, either gzip-compressed, or a module's \
            split BTF under /sys/kernel/btf/ (read on top of vmlinux).",
        after_help = "Examples:\n  \
            corebpf btf dump --format c > vmlinux.h\n  \
            corebpf btf dump /sys/kernel/btf/vmlinux | grep \"STRUCT 'task_struct'\"\n  \
            corebpf btf dump testdata/btf/6.1.btf.gz --summary"
    )]
    Dump(DumpArgs),
    /// Show one type by name, with its members' offsets and sizes.
    #[command(
        long_about = "Show the types named TYPE (`task_struct`, or `struct task_struct` to pick \
            a kind): the raw bpftool line, then a C view with each member's offset and size.",
        after_help = "Examples:\n  \
            corebpf btf show task_struct\n  \
            corebpf btf show 'struct sk_buff' testdata/btf/5.10.btf.gz"
    )]
    Show(ShowArgs),
    /// Write minimal BTF for objects' CO-RE relocations (bpftool gen min_core_btf).
    #[command(long_about = super::btf_min::LONG_ABOUT)]
    Min(super::btf_min::MinArgs),
}

/// Output format of `btf dump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// bpftool's raw format.
    Raw,
    /// A C header.
    C,
}

/// Arguments of `corebpf btf dump`.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// BTF file (default: the running kernel's).
    #[arg(default_value = VMLINUX)]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "raw")]
    pub format: Format,
    /// Print counts, size and parse time instead of the types.
    #[arg(long)]
    pub summary: bool,
}

/// Arguments of `corebpf btf show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Type name, optionally with its kind (`struct foo`, `enum bar`, `typedef u32`).
    pub name: String,
    /// BTF file (default: the running kernel's).
    #[arg(default_value = VMLINUX)]
    pub file: PathBuf,
}

/// Runs a `btf` subcommand.
pub fn run(cmd: Command) -> Result<Exit, Box<dyn Error>> {
    match cmd {
        Command::Dump(a) => dump(a),
        Command::Show(a) => show(a),
        Command::Min(a) => super::btf_min::run(a),
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends the output quietly.
fn emit(text: &str) -> Result<(), Box<dyn Error>> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn dump(a: DumpArgs) -> Result<Exit, Box<dyn Error>> {
    let start = Instant::now();
    let btf = read_btf(&a.file)?;
    let parse = start.elapsed();
    if a.summary {
        emit(&summary(&a.file, &btf, parse))?;
        return Ok(Exit::Ok);
    }
    let out = match a.format {
        Format::C => corebpf_btf::cdump::to_c_header(&btf)?,
        Format::Raw => {
            let mut o = String::with_capacity(btf.raw_bytes().len() * 2);
            for t in btf.types() {
                write_type(&mut o, t);
            }
            o
        }
    };
    emit(&out)?;
    Ok(Exit::Ok)
}

fn summary(path: &Path, btf: &Btf, parse: std::time::Duration) -> String {
    // By kind number: kinds corebpf does not know (stepped over with the layout section)
    // are counted as `UNKNOWN_<n>`.
    let mut per_kind: BTreeMap<u32, usize> = BTreeMap::new();
    for t in btf.types() {
        *per_kind.entry(t.raw_kind()).or_insert(0) += 1;
    }
    let mut o = String::new();
    let _ = writeln!(o, "file: {}", path.display());
    let _ = writeln!(o, "size: {} bytes", btf.raw_bytes().len());
    if btf.start_id() > 1 {
        let _ = writeln!(o, "split BTF: first type id {}", btf.start_id());
    }
    if let Some(layout) = btf.layout() {
        let _ = writeln!(o, "layout section: {} kinds", layout.len());
    }
    let _ = writeln!(o, "parse: {:.3} ms", parse.as_secs_f64() * 1e3);
    let _ = writeln!(o, "types: {}", btf.types().len());
    for (&raw, n) in &per_kind {
        let name = match Kind::from_u32(raw) {
            Some(kind) => kind_str(kind).to_string(),
            None => format!("UNKNOWN_{raw}"),
        };
        let _ = writeln!(o, "  {name:<10} {n}");
    }
    o
}

/// Splits `struct foo` into (Some(Struct), "foo").
fn parse_type_name(name: &str) -> (Option<Kind>, &str) {
    let kinds = [
        ("struct ", Kind::Struct),
        ("union ", Kind::Union),
        ("enum ", Kind::Enum),
        ("typedef ", Kind::Typedef),
        ("func ", Kind::Func),
        ("var ", Kind::Var),
        ("datasec ", Kind::Datasec),
    ];
    for (prefix, k) in kinds {
        if let Some(rest) = name.strip_prefix(prefix) {
            return (Some(k), rest.trim());
        }
    }
    (None, name.trim())
}

fn show(a: ShowArgs) -> Result<Exit, Box<dyn Error>> {
    let btf = read_btf(&a.file)?;
    let (kind, name) = parse_type_name(&a.name);
    let matches: Vec<Type<'_>> = btf
        .types()
        .filter(|t| t.name() == name)
        .filter(|t| match kind {
            // `enum foo` also finds an ENUM64.
            Some(Kind::Enum) => t.is_any_enum(),
            Some(k) => t.kind() == k,
            None => true,
        })
        .collect();
    if matches.is_empty() {
        return Err(usage(format!(
            "no type named '{}' in {}",
            a.name,
            a.file.display()
        )));
    }
    let mut o = String::new();
    for t in matches {
        write_type(&mut o, t);
        o.push_str(&super::btf_c::c_view(t));
        o.push('\n');
    }
    emit(&o)?;
    Ok(Exit::Ok)
}
