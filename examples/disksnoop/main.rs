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
use corebpf::ObjectBuilder;

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

const OBJECT: &[u8] = include_bytes!("out/clang19/disksnoop.bpf.o");

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
    let obj = ObjectBuilder::new().open_mem(OBJECT, "disksnoop")?.load()?;
    let issue = obj
        .program("block_rq_issue")
        .ok_or("no program block_rq_issue")?;
    let complete = obj
        .program("block_rq_complete")
        .ok_or("no program block_rq_complete")?;
    let _l1 = issue.attach_tracepoint("block", "block_rq_issue")?;
    let _l2 = complete.attach_tracepoint("block", "block_rq_complete")?;
    let mut rb = RingBuf::new(obj.map("events").ok_or("no map events")?)?;
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
            // struct event { u64 lat_ns; u64 sector; u32 dev; u32 bytes; char rwbs[8]; }
            if d.len() < 32 {
                return;
            }
            let u64_at = |o: usize| u64::from_ne_bytes(d[o..o + 8].try_into().unwrap_or_default());
            let u32_at = |o: usize| u32::from_ne_bytes(d[o..o + 4].try_into().unwrap_or_default());
            let dev = u32_at(16);
            let rwbs_end = d[24..32].iter().position(|&c| c == 0).unwrap_or(8);
            println!(
                "{:<10.3} {:<6} {:>14} {:<5} {:>8} {:>10.1}",
                start.elapsed().as_secs_f64(),
                format!("{}:{}", dev >> 20, dev & 0xfffff),
                u64_at(8),
                String::from_utf8_lossy(&d[24..24 + rwbs_end]),
                u32_at(20),
                u64_at(0) as f64 / 1000.0
            );
            seen += 1;
        })?;
    }
    println!("{seen} requests");
    Ok(())
}
