//! usdt: traces a USDT probe (`<sys/sdt.h>` `STAP_PROBE`) of a real program and prints each
//! hit with its arguments, decoded as libbpf's `usdt.bpf.h` reads them. The default target is
//! corebpf's USDT test program (`testdata/usdt/out/usdt_prog`), which `--spawn N` starts and
//! makes fire its probes N times.
//!
//! ```text
//! sudo target/release/usdt --spawn 3                       # corebpf:regs of the test program
//! sudo target/release/usdt --binary /usr/bin/python3 --provider python --name function__entry
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use corebpf::attach::usdt::UsdtOpts;
use corebpf::obj::usdt::{UsdtArg, UsdtFile};
use corebpf::ringbuf::RingBuf;
use usdt::{event, Bytes, OpenUsdtSkel};

/// Trace a USDT probe.
#[derive(Parser)]
struct Args {
    /// The executable or shared library holding the probe.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/usdt/out/usdt_prog"))]
    binary: PathBuf,
    /// The probe's provider.
    #[arg(long, default_value = "corebpf")]
    provider: String,
    /// The probe's name.
    #[arg(long, default_value = "regs")]
    name: String,
    /// Trace this process only.
    #[arg(long)]
    pid: Option<i32>,
    /// Start the test program (the default binary) and make it fire its probes this many
    /// times, then stop.
    #[arg(long, default_value_t = 0)]
    spawn: u32,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
}

// The skeleton build.rs generates from usdt.bpf.c: `struct event` (one per hit) as
// `usdt::event`, typed maps and programs.
include!(concat!(env!("OUT_DIR"), "/usdt.skel.rs"));

/// The test program, told to fire its probes once per `fire` line.
fn spawn_test_program(binary: &PathBuf) -> std::io::Result<(Child, i32)> {
    let mut child = Command::new(binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().ok_or(std::io::ErrorKind::Other)?).read_line(&mut line)?;
    let pid = line
        .trim()
        .trim_start_matches("ready ")
        .parse()
        .unwrap_or(0);
    Ok((child, pid))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let mut args = Args::parse();
    let file = UsdtFile::parse(&std::fs::read(&args.binary)?)?;
    let targets = file.targets(&args.provider, &args.name)?;
    let probe = format!("{}:{}", args.provider, args.name);
    println!(
        "{probe} in {}: {} call site(s)",
        args.binary.display(),
        targets.len()
    );
    for t in &targets {
        let descr: Vec<String> = t.args.iter().map(UsdtArg::to_string).collect();
        println!("  file offset {:#x}: {}", t.file_offset, descr.join(", "));
    }
    let unsigned: Vec<bool> = targets
        .first()
        .map(|t| t.args.iter().map(|a| !a.signed).collect())
        .unwrap_or_default();
    let mut child = None;
    if args.spawn > 0 {
        let (c, pid) = spawn_test_program(&args.binary)?;
        args.pid = Some(pid);
        child = Some(c);
    }
    let skel = OpenUsdtSkel::open()?.load()?;
    let _link = skel.progs().on_probe().attach_usdt(
        &args.binary,
        args.pid,
        &args.provider,
        &args.name,
        &UsdtOpts::default(),
    )?;
    let mut rb = RingBuf::new(skel.maps().events())?;
    if let Some(c) = child.as_mut() {
        let stdin = c.stdin.as_mut().ok_or("no stdin")?;
        for i in 0..args.spawn {
            writeln!(stdin, "fire {i}")?;
        }
        stdin.flush()?;
    }
    let start = Instant::now();
    let deadline = args.duration.map(|s| start + Duration::from_secs(s));
    let mut seen = 0u32;
    loop {
        rb.poll(Duration::from_millis(50), |data: &[u8]| {
            let Some(e) = event::from_bytes(data) else {
                return;
            };
            let cnt = e.arg_cnt.clamp(0, e.args.len() as i32) as usize;
            let vals: Vec<String> = e.args[..cnt]
                .iter()
                .enumerate()
                // Unsigned arguments (as the first call site declares them) print unsigned.
                .map(|(k, &v)| match unsigned.get(k) {
                    Some(true) => (v as u64).to_string(),
                    _ => v.to_string(),
                })
                .collect();
            println!("pid {} {probe}({})", e.pid, vals.join(", "));
            seen += 1;
        })?;
        let done = args.spawn > 0 && seen >= args.spawn;
        if done || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    println!("{seen} hits");
    if let Some(mut c) = child {
        c.kill()?;
        c.wait()?;
    }
    Ok(())
}
