//! `corebpf usdt list BINARY [--json]`: the USDT probes of an executable or shared library
//! (`.note.stapsdt`), each call site with its file offset (where a uprobe goes), semaphore
//! file offset and decoded x86-64 arguments, as `corebpf::Program::attach_usdt` would use
//! them.

use std::error::Error;
use std::path::PathBuf;

use corebpf::attach::uprobe::find_binary;
use corebpf_obj::usdt::{UsdtArg, UsdtError, UsdtFile, UsdtNote};
use serde_json::json;

use super::{usage, Exit};

/// `corebpf usdt` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the USDT probes of a binary: provider:name, file offset, semaphore, arguments.
    #[command(
        long_about = "List the USDT probes (<sys/sdt.h> STAP_PROBE, DTrace-style static \
            probes) of an executable or shared library, read from its .note.stapsdt notes: one \
            line per call site with provider:name, the file offset a uprobe attaches to (after \
            the .stapsdt.base prelink adjustment), the semaphore's file offset (the uprobe's \
            ref_ctr_offset; - for none) and the arguments decoded as bpf_usdt_arg() reads them: \
            signedness and size, then $CONST, %REG, [%REG+OFF] or [%BASE+%INDEX*SCALE+OFF]. A \
            call site that cannot be decoded shows its error instead.",
        after_help = "Examples:\n  \
            corebpf usdt list /usr/bin/python3\n  \
            corebpf usdt list libc.so.6 --json"
    )]
    List(ListArgs),
}

/// Arguments of `corebpf usdt list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The binary: a path, or a name looked up as uprobes do (libraries in the library
    /// directories, executables in PATH).
    pub binary: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `usdt` subcommand.
pub fn run(cmd: Command) -> Result<Exit, Box<dyn Error>> {
    match cmd {
        Command::List(a) => list(a),
    }
}

fn list(a: ListArgs) -> Result<Exit, Box<dyn Error>> {
    let path = find_binary(&a.binary.to_string_lossy())
        .filter(|p| p.exists())
        .ok_or_else(|| usage(format!("binary not found: {}", a.binary.display())))?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = match UsdtFile::parse(&bytes) {
        Err(UsdtError::NoNotes) => {
            if a.json {
                println!("[]");
            } else {
                println!(
                    "{}: no USDT probes (no .note.stapsdt section)",
                    path.display()
                );
            }
            return Ok(Exit::Ok);
        }
        other => other.map_err(|e| format!("{}: {e}", path.display()))?,
    };
    if a.json {
        let probes: Vec<_> = file.notes().iter().map(|n| probe_json(&file, n)).collect();
        println!("{}", serde_json::to_string_pretty(&probes)?);
    } else {
        print_table(&file);
    }
    Ok(Exit::Ok)
}

/// One line per call site, columns aligned.
fn print_table(file: &UsdtFile) {
    let rows: Vec<[String; 4]> = file
        .notes()
        .iter()
        .map(|n| match file.resolve(n) {
            Ok(t) => [
                n.probe(),
                format!("{:#x}", t.file_offset),
                match t.sema_offset {
                    0 => "-".to_string(),
                    o => format!("{o:#x}"),
                },
                t.args
                    .iter()
                    .map(UsdtArg::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ],
            Err(e) => [n.probe(), "?".into(), "?".into(), format!("error: {e}")],
        })
        .collect();
    let head = ["PROBE", "OFFSET", "SEMAPHORE", "ARGUMENTS"].map(String::from);
    let w = |i: usize| {
        rows.iter()
            .chain([&head])
            .map(|r| r[i].len())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (w(0), w(1), w(2));
    for r in [&head].into_iter().chain(&rows) {
        println!("{:w0$}  {:w1$}  {:w2$}  {}", r[0], r[1], r[2], r[3]);
    }
}

fn probe_json(file: &UsdtFile, n: &UsdtNote) -> serde_json::Value {
    let mut v = json!({
        "provider": n.provider,
        "name": n.name,
        "note": n.index,
        "address": n.loc_addr,
        "semaphore_address": n.sema_addr,
        "args_spec": n.args,
    });
    match file.resolve(n) {
        Ok(t) => {
            v["file_offset"] = json!(t.file_offset);
            v["semaphore_offset"] = json!(t.sema_offset);
            v["args"] = t
                .args
                .iter()
                .map(|a| json!({"size": a.size, "signed": a.signed, "location": a.to_string()}))
                .collect();
        }
        Err(e) => v["error"] = json!(e.to_string()),
    }
    v
}
