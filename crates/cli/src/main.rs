//! The `corebpf` command line. Each subcommand lives in `cmd/<name>.rs` with an `Args`
//! struct (clap) and a `run`; add new ones to [`Command`] and the match in `main`.

#![forbid(unsafe_code)]

mod cmd;

use std::io::Write as _;

use clap::{Parser, Subcommand};
use cmd::{Exit, UsageError};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  failure: a program did not load, a CO-RE relocation failed, a file or syscall failed
  2  usage error: bad arguments, an unknown program name, malformed hex

Logging: RUST_LOG=debug (or -v) shows each loader step, CO-RE relocations in libbpf's
log format; RUST_LOG=trace adds per-instruction detail.";

/// corebpf: a pure-Rust BPF loader with CO-RE.
#[derive(Debug, Parser)]
#[command(
    name = "corebpf",
    version,
    about,
    long_about = "corebpf: a pure-Rust, libbpf-style BPF loader with CO-RE.\n\n\
        Inspect and dry-run-relocate BPF objects without a kernel, load and run them on this \
        one, and look at BTF and maps.",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Log at debug level (CO-RE log lines, loader steps); RUST_LOG overrides.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a BPF object declares: programs, maps, data sections, externs, BTF.
    Inspect(cmd::inspect::Args),
    /// Dry-run CO-RE relocation against kernel BTF (no kernel needed).
    #[command(long_about = cmd::relocate::LONG_ABOUT)]
    Relocate(cmd::relocate::Args),
    /// Will these objects load on these kernels? Needs checked against kernel BTF.
    #[command(long_about = cmd::compat::LONG_ABOUT)]
    Compat(cmd::compat::Args),
    /// Statically link BPF objects into one (as `bpftool gen object`).
    #[command(long_about = cmd::link::LONG_ABOUT)]
    Link(cmd::link::Args),
    /// Load an object into the kernel and report programs' and maps' ids.
    #[command(long_about = cmd::load::LONG_ABOUT)]
    Load(cmd::load::Args),
    /// Dump or query BTF.
    #[command(subcommand)]
    Btf(cmd::btf::Command),
    /// Run programs with BPF_PROG_TEST_RUN.
    #[command(subcommand)]
    Prog(cmd::prog::Command),
    /// Show, dump and pin kernel maps.
    #[command(subcommand)]
    Map(cmd::map::Command),
    /// List the USDT probes of a binary.
    #[command(subcommand)]
    Usdt(cmd::usdt::Command),
    /// Generate code: a typed Rust skeleton of an object.
    #[command(subcommand)]
    Gen(cmd::gen::Command),
}

fn init_logging(verbose: bool) {
    let default = if verbose { "debug" } else { "warn" };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        .format(|f, r| writeln!(f, "{}: {}", r.level().as_str().to_lowercase(), r.args()))
        .init();
}

/// `corebpf btf dump ... | head` closes stdout early, which makes `println!` panic: stop
/// quietly instead, with the status a shell gives a process SIGPIPE ended (128 + 13), as
/// Unix tools do.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Inspect(args) => cmd::inspect::run(args).map(|()| Exit::Ok),
        Command::Relocate(args) => cmd::relocate::run(args),
        Command::Compat(args) => cmd::compat::run(args),
        Command::Link(args) => cmd::link::run(args).map(|()| Exit::Ok),
        Command::Load(args) => cmd::load::run(args),
        Command::Btf(c) => cmd::btf::run(c),
        Command::Prog(c) => cmd::prog::run(c),
        Command::Map(c) => cmd::map::run(c),
        Command::Usdt(c) => cmd::usdt::run(c),
        Command::Gen(c) => cmd::gen::run(c),
    };
    let code = match result {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("corebpf: {e}");
            if e.is::<UsageError>() {
                Exit::Usage
            } else {
                Exit::Failed
            }
        }
    };
    std::process::exit(code as i32);
}
