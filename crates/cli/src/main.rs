//! The `corebpf` command line. Each subcommand lives in `cmd/<name>.rs` with an `Args`
//! struct (clap) and a `run(args) -> Result<(), Box<dyn Error>>`; add new ones to
//! [`Command`] and the match in `main`.

mod cmd;

use clap::{Parser, Subcommand};

/// corebpf: a pure-Rust BPF loader with CO-RE.
#[derive(Debug, Parser)]
#[command(name = "corebpf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a BPF object declares: programs, maps, data sections, externs, BTF.
    Inspect(cmd::inspect::Args),
}

fn main() {
    env_logger::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => cmd::inspect::run(args),
    };
    if let Err(e) = result {
        eprintln!("corebpf: {e}");
        std::process::exit(1);
    }
}
