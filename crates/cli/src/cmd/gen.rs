//! `corebpf gen skeleton OBJ [--name NAME] [--type T]... [--embed PATH] [-o FILE]`: a typed
//! Rust skeleton of a BPF object (see `corebpf-gen`).

use std::error::Error;
use std::path::PathBuf;

use super::Exit;

/// `corebpf gen` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate a typed Rust skeleton of a BPF object.
    #[command(
        long_about = "Generate a typed Rust skeleton of a BPF object from its BTF: #[repr(C)] \
            types for map keys and values, global variables and the types named with --type \
            (checked at compile time against the BTF's sizes and offsets), the object embedded \
            with include_bytes!, and Open<Name>Skel/<Name>Skel with typed global setters and \
            readers, maps and programs by name, and attach_all. The output is one `pub mod \
            <name>` to include!, already formatted and deterministic; it needs only the \
            corebpf crate and no unsafe.",
        after_help = "Examples:\n  \
            corebpf gen skeleton execsnoop.bpf.o -o src/execsnoop.skel.rs\n  \
            corebpf gen skeleton tool.bpf.o --type event --embed ../bpf/tool.bpf.o"
    )]
    Skeleton(SkeletonArgs),
}

/// Arguments of `corebpf gen skeleton`.
#[derive(Debug, clap::Args)]
pub struct SkeletonArgs {
    /// The BPF object (with BTF: clang -g).
    pub object: PathBuf,
    /// The skeleton's name (module `<name>`, types `<Name>Skel`); the object's name by
    /// default.
    #[arg(long)]
    pub name: Option<String>,
    /// A type to generate besides those maps and globals reach (a ring buffer event
    /// struct), by C name; repeatable.
    #[arg(long = "type", value_name = "T")]
    pub types: Vec<String>,
    /// The path `include_bytes!` embeds; the object's absolute path by default (a relative
    /// path is relative to the generated file).
    #[arg(long, value_name = "PATH")]
    pub embed: Option<String>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs a `gen` subcommand.
pub fn run(cmd: Command) -> Result<Exit, Box<dyn Error>> {
    match cmd {
        Command::Skeleton(a) => skeleton(a),
    }
}

fn skeleton(a: SkeletonArgs) -> Result<Exit, Box<dyn Error>> {
    let path = &a.object;
    let spec =
        corebpf_obj::Object::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let embed = match a.embed {
        Some(p) => p,
        None => std::fs::canonicalize(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .to_string_lossy()
            .into_owned(),
    };
    let opts = corebpf_gen::Options {
        name: a.name,
        object_path: embed,
        types: a.types,
    };
    let text =
        corebpf_gen::generate(&spec, &opts).map_err(|e| format!("{}: {e}", path.display()))?;
    match &a.output {
        Some(out) => std::fs::write(out, text).map_err(|e| format!("{}: {e}", out.display()))?,
        None => print!("{text}"),
    }
    Ok(Exit::Ok)
}
