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
use execsnoop::{event, Bytes, OpenExecsnoopSkel};

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

// The skeleton build.rs generates from execsnoop.bpf.c: module `execsnoop` with
// `struct event` as `execsnoop::event`, the object embedded, typed maps, programs and globals.
include!(concat!(env!("OUT_DIR"), "/execsnoop.skel.rs"));

/// A NUL-terminated C string of a fixed-size array.
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let mut open = OpenExecsnoopSkel::open()?;
    open.globals().set_target_ppid(args.ppid)?; // .rodata: the verifier sees it
    let skel = open.load()?;
    if !args.quiet {
        let obj = skel.object();
        println!("CO-RE relocations ({}):", obj.core_relocations().len());
        for line in obj.core_log() {
            println!("  {line}");
        }
    }
    // SEC("tp/sched/sched_process_exec") says where it attaches.
    let _link = skel.progs().handle_exec().attach()?;
    let mut rb = RingBuf::new(skel.maps().events())?;
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
            if let Some(e) = event::from_bytes(data) {
                println!(
                    "{:<8} {:<8} {:<6} {:<16} {}",
                    e.pid,
                    e.ppid,
                    e.uid,
                    c_str(&e.comm),
                    c_str(&e.filename)
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
