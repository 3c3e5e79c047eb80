//! disksnoop: block I/O latency per request, from the `block_rq_issue` and
//! `block_rq_complete` tracepoints, printed as bcc's disksnoop does (size, flags, latency).
//!
//! ```text
//! sudo target/release/disksnoop --duration 5 --io
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Parser;
use corebpf::ringbuf::RingBuf;
use disksnoop::{event, Bytes, OpenDisksnoopSkel};

/// Trace block I/O latency.
#[derive(Parser)]
struct Args {
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Stop after this many requests.
    #[arg(long)]
    count: Option<usize>,
    /// Make some disk I/O while tracing (writes and fsyncs a file in this directory).
    #[arg(long)]
    io: bool,
    /// Directory for --io.
    #[arg(long, default_value = "/var/tmp")]
    dir: std::path::PathBuf,
}

// The skeleton build.rs generates from disksnoop.bpf.c: `struct event` (the ring buffer's
// records) as `disksnoop::event`, typed maps and programs.
include!(concat!(env!("OUT_DIR"), "/disksnoop.skel.rs"));

/// Writes and fsyncs 1 MiB, so the block layer sees at least one write request.
fn make_io(dir: &std::path::Path, round: u32) -> std::io::Result<()> {
    let path = dir.join(format!("corebpf-disksnoop-{}", std::process::id()));
    let mut f = std::fs::File::create(&path)?;
    let block = vec![round as u8; 1 << 20];
    f.write_all(&block)?;
    f.sync_all()?;
    drop(f);
    std::fs::remove_file(&path)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let skel = OpenDisksnoopSkel::open()?.load()?;
    // SEC("tp/block/block_rq_issue") and SEC("tp/block/block_rq_complete") say where.
    let _l1 = skel.progs().block_rq_issue().attach()?;
    let _l2 = skel.progs().block_rq_complete().attach()?;
    let mut rb = RingBuf::new(skel.maps().events())?;
    println!(
        "{:<10} {:<6} {:>14} {:<5} {:>8} {:>10}",
        "TIME(s)", "DEV", "SECTOR", "T", "BYTES", "LAT(us)"
    );
    let start = Instant::now();
    let mut seen = 0usize;
    let mut round = 0;
    while start.elapsed() < Duration::from_secs(args.duration)
        && args.count.is_none_or(|c| seen < c)
    {
        if args.io && start.elapsed() > Duration::from_millis(500 * round as u64) {
            make_io(&args.dir, round)?;
            round += 1;
        }
        rb.poll(Duration::from_millis(100), |d: &[u8]| {
            let Some(e) = event::from_bytes(d) else {
                return;
            };
            let rwbs_end = e.rwbs.iter().position(|&c| c == 0).unwrap_or(e.rwbs.len());
            println!(
                "{:<10.3} {:<6} {:>14} {:<5} {:>8} {:>10.1}",
                start.elapsed().as_secs_f64(),
                format!("{}:{}", e.dev >> 20, e.dev & 0xfffff),
                e.sector,
                String::from_utf8_lossy(&e.rwbs[..rwbs_end]),
                e.bytes,
                e.lat_ns as f64 / 1000.0
            );
            seen += 1;
        })?;
    }
    println!("{seen} requests");
    Ok(())
}
