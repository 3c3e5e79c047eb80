//! `corebpf link A.o B.o ... -o OUT.o`: statically links BPF objects into one (what
//! `bpftool gen object` does), with `corebpf_obj::linker`.

use std::error::Error;
use std::path::PathBuf;

/// The long help of `corebpf link`.
pub const LONG_ABOUT: &str = "Statically link BPF objects into one, as `bpftool gen object` \
    does: sections of the same name are appended, global symbols resolved (a strong \
    definition beats weak ones; extern functions, variables and maps resolve to the object \
    that defines them), BTF merged and deduplicated, and .BTF.ext line info and CO-RE \
    relocations rebased. Two strong definitions of a symbol, declarations whose types or \
    map definitions differ, and a strong extern no object defines are errors naming the \
    symbol and the objects. __kconfig and __ksym externs stay for the loader.";

/// Arguments of `corebpf link`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  corebpf link main.bpf.o lib.bpf.o -o app.bpf.o")]
pub struct Args {
    /// The objects to link, in order (the order decides which of two weak definitions wins).
    #[arg(required = true, value_name = "OBJ")]
    pub objects: Vec<PathBuf>,
    /// The linked object to write.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

/// Runs `corebpf link`.
pub fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let linked = corebpf_obj::linker::link_files(&args.objects)?;
    std::fs::write(&args.output, linked).map_err(|e| format!("{}: {e}", args.output.display()))?;
    Ok(())
}
