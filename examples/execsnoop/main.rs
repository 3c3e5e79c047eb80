//! execsnoop: prints every exec() on the system, from a CO-RE tracepoint program that sends
//! events through a ring buffer. The modern counterpart of `hello`.
//!
//! ```text
//! sudo RUST_LOG=debug target/release/execsnoop --duration 5 --spawn 3
//! ```
//! With `RUST_LOG=debug` corebpf logs each CO-RE relocation in libbpf's format; the example
//! also prints them itself.

use std::time::{Duration, Instant};

use clap::Parser;
use corebpf::ringbuf::RingBuf;
use corebpf::ObjectBuilder;

/// Trace exec() calls.
#[derive(Parser)]
struct Args {
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<usize>,
    /// Only show children of this pid.
    #[arg(long, default_value_t = 0)]
    ppid: u32,
    /// Exec /bin/true this many times while tracing (to have something to see).
    #[arg(long, default_value_t = 0)]
    spawn: u32,
    /// Don't print the CO-RE relocation log.
    #[arg(long)]
    quiet: bool,
}

/// The object built from execsnoop.bpf.c (`cargo xtask build-bpf`).
const OBJECT: &[u8] = include_bytes!("out/clang19/execsnoop.bpf.o");

/// `struct event` of execsnoop.bpf.c.
struct Event {
    pid: u32,
    ppid: u32,
    uid: u32,
    comm: String,
    filename: String,
}

fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn parse(data: &[u8]) -> Option<Event> {
    let u32_at = |o: usize| Some(u32::from_ne_bytes(data.get(o..o + 4)?.try_into().ok()?));
    Some(Event {
        pid: u32_at(0)?,
        ppid: u32_at(4)?,
        uid: u32_at(8)?,
        comm: c_str(data.get(16..32)?),
        filename: c_str(data.get(32..160)?),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let mut open = ObjectBuilder::new().open_mem(OBJECT, "execsnoop")?;
    open.set_global("target_ppid", &args.ppid.to_ne_bytes())?;
    let obj = open.load()?;
    if !args.quiet {
        println!("CO-RE relocations ({}):", obj.core_relocations().len());
        for line in obj.core_log() {
            println!("  {line}");
        }
    }
    let prog = obj.program("handle_exec").ok_or("no program handle_exec")?;
    let _link = prog.attach_tracepoint("sched", "sched_process_exec")?;
    let events = obj.map("events").ok_or("no map events")?;
    let mut rb = RingBuf::new(events)?;
    println!(
        "{:<8} {:<8} {:<6} {:<16} FILENAME",
        "PID", "PPID", "UID", "COMM"
    );
    let start = Instant::now();
    let deadline = args.duration.map(|s| start + Duration::from_secs(s));
    let mut seen = 0usize;
    let mut spawned = 0;
    loop {
        if spawned < args.spawn
            && start.elapsed() > Duration::from_millis(200 * (spawned as u64 + 1))
        {
            std::process::Command::new("/bin/true").status()?;
            spawned += 1;
        }
        rb.poll(Duration::from_millis(50), |data: &[u8]| {
            if let Some(e) = parse(data) {
                println!(
                    "{:<8} {:<8} {:<6} {:<16} {}",
                    e.pid, e.ppid, e.uid, e.comm, e.filename
                );
                seen += 1;
            }
        })?;
        if args.count.is_some_and(|c| seen >= c) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    println!("{seen} exec events");
    Ok(())
}
