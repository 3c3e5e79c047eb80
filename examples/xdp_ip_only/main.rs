//! xdp_ip_only: an XDP program that passes only IPv4/IPv6 frames and drops the rest (ARP
//! included), printing its pass/drop counters. By default it builds its own playground: a
//! veth pair from this namespace into a new network namespace, attaches to the near end, and
//! sends ARP and ICMP from the far end; `--iface` attaches to an existing interface instead.
//!
//! ```text
//! sudo target/release/xdp_ip_only --count 3
//! ```

use std::process::Command;
use std::time::Duration;

use clap::Parser;
use corebpf::attach::xdp::XdpOpts;

/// Pass only IP frames.
#[derive(Parser)]
struct Args {
    /// Attach to this interface instead of setting up a veth pair.
    #[arg(long)]
    iface: Option<String>,
    /// Seconds to run (one line per second).
    #[arg(long, default_value_t = 3)]
    count: u32,
}

// The skeleton build.rs generates from xdp_ip_only.bpf.c: typed maps and programs.
include!(concat!(env!("OUT_DIR"), "/xdp_ip_only.skel.rs"));

const NS: &str = "corebpf_xdp_demo";
const NEAR: &str = "cbxdp0";
const FAR: &str = "cbxdp1";

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The veth pair and namespace, removed on drop.
struct Playground;

impl Playground {
    fn new() -> Result<Playground, String> {
        let _ = ip(&["netns", "del", NS]);
        let _ = ip(&["link", "del", NEAR]);
        ip(&["netns", "add", NS])?;
        let pg = Playground;
        ip(&[
            "link", "add", NEAR, "type", "veth", "peer", "name", FAR, "netns", NS,
        ])?;
        ip(&["addr", "add", "10.201.0.1/24", "dev", NEAR])?;
        ip(&["link", "set", NEAR, "up"])?;
        ip(&["-n", NS, "addr", "add", "10.201.0.2/24", "dev", FAR])?;
        ip(&["-n", NS, "link", "set", FAR, "up"])?;
        ip(&["-n", NS, "link", "set", "lo", "up"])?;
        Ok(pg)
    }

    /// From the far end: an ARP request for an address nobody has (dropped), then pings to
    /// the near end over static neighbour entries, so no ARP is needed (passed).
    fn traffic(&self) {
        let run = |args: &[&str]| {
            let _ = Command::new("ip").args(args).output();
        };
        run(&[
            "netns",
            "exec",
            NS,
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "10.201.0.99",
        ]);
        run(&[
            "netns",
            "exec",
            NS,
            "ping",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "1",
            "10.201.0.1",
        ]);
    }

    fn static_neighbours(&self) -> Result<(), String> {
        let mac = |dev: &str, ns: Option<&str>| -> Result<String, String> {
            let mut cmd = Command::new("ip");
            if let Some(ns) = ns {
                cmd.args(["-n", ns]);
            }
            let out = cmd
                .args(["-o", "link", "show", dev])
                .output()
                .map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.split_whitespace()
                .skip_while(|w| *w != "link/ether")
                .nth(1)
                .map(str::to_string)
                .ok_or_else(|| format!("no MAC for {dev}"))
        };
        let near_mac = mac(NEAR, None)?;
        let far_mac = mac(FAR, Some(NS))?;
        ip(&[
            "-n",
            NS,
            "neigh",
            "replace",
            "10.201.0.1",
            "lladdr",
            &near_mac,
            "dev",
            FAR,
        ])?;
        ip(&[
            "neigh",
            "replace",
            "10.201.0.2",
            "lladdr",
            &far_mac,
            "dev",
            NEAR,
        ])
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", NEAR]);
        let _ = ip(&["netns", "del", NS]);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let skel = xdp_ip_only::OpenXdpIpOnlySkel::open()?.load()?;
    let playground = match &args.iface {
        Some(_) => None,
        None => Some(Playground::new()?),
    };
    let iface = args.iface.clone().unwrap_or_else(|| NEAR.to_string());
    if let Some(pg) = &playground {
        pg.static_neighbours()?;
    }
    let ifindex = corebpf::sys::netlink::ifindex(&iface)?;
    let _link = skel
        .progs()
        .xdp_ip_only()
        .attach_xdp(ifindex as u32, &XdpOpts::default())?;
    println!("attached to {iface} (ifindex {ifindex})");
    let counters = skel.maps().counters().as_percpu_array::<u64>()?;
    for _ in 0..args.count {
        if let Some(pg) = &playground {
            pg.traffic();
        }
        std::thread::sleep(Duration::from_secs(1));
        let passed: u64 = counters.get(0, 0)?.iter().sum();
        let dropped: u64 = counters.get(1, 0)?.iter().sum();
        println!("passed {passed} dropped {dropped}");
    }
    Ok(())
}
