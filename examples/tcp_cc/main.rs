//! tcp_cc: a TCP congestion control written in BPF (a Reno built on the kernel's Reno
//! kfuncs, SEC `.struct_ops`). It registers the controller as `bpf_reno`, moves data over
//! loopback in a fresh network namespace with a socket that selects it through
//! `setsockopt(TCP_CONGESTION)`, prints how often each callback ran, and unregisters it on
//! exit (when its link drops).
//!
//! ```text
//! sudo target/release/tcp_cc --megabytes 16
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::Command;

use clap::Parser;
use nix::sys::socket::{getsockopt, setsockopt, sockopt::TcpCongestion};
use tcp_cc::OpenTcpCcSkel;

/// Register a BPF TCP congestion control and use it.
#[derive(Parser)]
struct Args {
    /// Megabytes to send over loopback through the controller.
    #[arg(long, default_value_t = 8)]
    megabytes: usize,
}

// The skeleton build.rs generates from tcp_cc.bpf.c: the struct_ops map `bpf_reno` and the
// `calls` counters (.bss) typed.
include!(concat!(env!("OUT_DIR"), "/tcp_cc.skel.rs"));

/// The callbacks `calls[i]` counts, in struct_ops_cc.h's order.
const CALLBACKS: [&str; 5] = [
    "init",
    "ssthresh",
    "cong_avoid",
    "cong_avoid_two",
    "undo_cwnd",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let skel = OpenTcpCcSkel::open()?.load()?;
    let link = skel.maps().bpf_reno().attach_struct_ops()?;
    println!("registered congestion control bpf_reno ({})", link.target());
    let used = std::thread::spawn(move || send_over_loopback(args.megabytes << 20))
        .join()
        .map_err(|_| "the sending thread panicked")?
        .map_err(|e| e.to_string())?;
    println!("sent {} MB with congestion control {used}", args.megabytes);
    let calls = skel.globals().calls()?;
    for (name, n) in CALLBACKS.iter().zip(calls) {
        if n > 0 {
            println!("{name:>12}: {n} calls");
        }
    }
    drop(link);
    println!("unregistered bpf_reno");
    Ok(())
}

/// In a new network namespace (this thread's own), sends `bytes` over loopback from a
/// socket using `bpf_reno`; returns the congestion control the socket reported.
fn send_over_loopback(bytes: usize) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
    // Children inherit this thread's namespace: bring its loopback up.
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()?;
    if !up.success() {
        return Err("ip link set lo up failed".into());
    }
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<usize> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    });
    let mut client = TcpStream::connect(addr)?;
    setsockopt(&client.as_fd(), TcpCongestion, &"bpf_reno".into())?;
    let chunk = vec![0x5au8; 1 << 16];
    for _ in 0..bytes.div_ceil(chunk.len()) {
        client.write_all(&chunk)?;
    }
    let used = getsockopt(&client.as_fd(), TcpCongestion)?;
    drop(client);
    server
        .join()
        .map_err(|_| "the receiving thread panicked")??;
    Ok(used.to_string_lossy().trim_end_matches('\0').to_string())
}
