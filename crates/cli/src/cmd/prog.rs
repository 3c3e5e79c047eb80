//! `corebpf prog run OBJ PROG [--data-in FILE|HEX] [--ctx-in FILE|HEX] [--repeat N]`: loads
//! one program and runs it with `BPF_PROG_TEST_RUN`.

use std::error::Error;
use std::path::PathBuf;

use corebpf::{ObjectBuilder, TestRun};
use serde_json::json;

use super::{file_or_hex, hex, usage, Exit};

/// `corebpf prog` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load one program of an object and run it on given input (BPF_PROG_TEST_RUN).
    #[command(
        long_about = "Load one program of an object (only that one: the others' autoload is \
            off) and run it with BPF_PROG_TEST_RUN on the given packet data and/or context. \
            Prints the return value, the kernel's average duration per run, and the output \
            data and context as hex when the program changed them.\n\n\
            --data-in and --ctx-in take a file path or, when no such file exists, hex \
            (`0a0b0c`, spaces and colons allowed). XDP and TC programs take a frame in \
            --data-in; SEC(\"syscall\") programs take only --ctx-in.",
        after_help = "Examples:\n  \
            corebpf prog run xdp.bpf.o xdp_ethertype --data-in 000000000000000102030405080045...\n  \
            corebpf prog run xdp.bpf.o xdp_ethertype --data-in frame.bin --repeat 1000000\n  \
            corebpf prog run sys.bpf.o my_syscall --ctx-in ctx.bin --json"
    )]
    Run(RunArgs),
}

/// Arguments of `corebpf prog run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The BPF object file.
    pub object: PathBuf,
    /// The program's name (its C function name).
    pub prog: String,
    /// Input data: a file or hex.
    #[arg(long, value_name = "FILE|HEX")]
    pub data_in: Option<String>,
    /// Input context: a file or hex.
    #[arg(long, value_name = "FILE|HEX")]
    pub ctx_in: Option<String>,
    /// Number of runs (the duration is the kernel's average).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// CO-RE target BTF instead of the running kernel's.
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `prog` subcommand.
pub fn run(cmd: Command) -> Result<Exit, Box<dyn Error>> {
    match cmd {
        Command::Run(a) => run_prog(a),
    }
}

fn run_prog(a: RunArgs) -> Result<Exit, Box<dyn Error>> {
    let data = match &a.data_in {
        Some(s) => file_or_hex(s, "--data-in")?,
        None => Vec::new(),
    };
    let ctx = match &a.ctx_in {
        Some(s) => file_or_hex(s, "--ctx-in")?,
        None => Vec::new(),
    };
    let mut b = ObjectBuilder::new();
    if let Some(btf) = &a.btf {
        b = b.btf_file(btf);
    }
    let mut open = b.open_file(&a.object)?;
    if open.spec().program_index(&a.prog).is_none() {
        let known: Vec<&str> = open
            .spec()
            .programs
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        return Err(usage(format!(
            "no program named '{}' in {} (programs: {})",
            a.prog,
            a.object.display(),
            known.join(", ")
        )));
    }
    open.load_only(&[a.prog.as_str()])?;
    let obj = open.load()?;
    let prog = obj
        .program(&a.prog)
        .ok_or_else(|| format!("program '{}' did not load", a.prog))?;
    let out = prog.test_run(&TestRun {
        data: &data,
        ctx: &ctx,
        ctx_out_size: ctx.len(),
        // One run is asked as 0, which the kernel reads as once: program types that run
        // only once (SEC("syscall")) refuse any other repeat count.
        repeat: if a.repeat <= 1 { 0 } else { a.repeat },
        ..Default::default()
    })?;
    let data_changed = out.data != data;
    let ctx_changed = !ctx.is_empty() && out.ctx != ctx;
    if a.json {
        let v = json!({
            "program": a.prog,
            "retval": out.retval,
            "duration_ns": out.duration.as_nanos() as u64,
            "repeat": a.repeat,
            "data_out": hex(&out.data),
            "data_changed": data_changed,
            "ctx_out": hex(&out.ctx),
            "ctx_changed": ctx_changed,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("retval: {}", out.retval);
        println!("duration: {} ns", out.duration.as_nanos());
        if data_changed {
            println!("data out: {}", hex(&out.data));
        }
        if ctx_changed {
            println!("ctx out: {}", hex(&out.ctx));
        }
    }
    Ok(Exit::Ok)
}
