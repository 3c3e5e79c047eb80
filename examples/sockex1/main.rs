//! sockex1: the kernel's classic socket filter example. A `SEC("socket")` program attached to
//! a raw packet socket bound to loopback adds each outgoing packet's length to an array
//! indexed by IP protocol; every second this prints the TCP, UDP and ICMP byte counts while
//! it pings loopback (and sends a little TCP and UDP) itself.
//!
//! ```text
//! sudo target/release/sockex1 --count 5
//! ```

use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use clap::Parser;
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockProtocol, SockType};
use sockex1::OpenSockex1Skel;

/// Count loopback bytes per IP protocol with a socket filter.
#[derive(Parser)]
struct Args {
    /// Seconds to run (one line per second).
    #[arg(long, default_value_t = 5)]
    count: u32,
    /// Interface to watch.
    #[arg(long, default_value = "lo")]
    iface: String,
}

// The skeleton build.rs generates from sockex1.bpf.c: typed maps and programs.
include!(concat!(env!("OUT_DIR"), "/sockex1.skel.rs"));

const IPPROTO_ICMP: u32 = 1;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;

/// Some traffic of each protocol on loopback: a ping, a UDP datagram, a TCP exchange.
fn make_traffic() {
    let _ = std::process::Command::new("ping")
        .args(["-c", "1", "-W", "1", "127.0.0.1"])
        .stdout(std::process::Stdio::null())
        .status();
    if let Ok(s) = UdpSocket::bind("127.0.0.1:0") {
        let _ = s.send_to(b"corebpf sockex1", "127.0.0.1:9");
    }
    if let Ok(l) = TcpListener::bind("127.0.0.1:0") {
        if let Ok(addr) = l.local_addr() {
            if let Ok(mut c) = TcpStream::connect(addr) {
                let _ = c.write_all(b"corebpf sockex1");
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let skel = OpenSockex1Skel::open()?.load()?;
    // A raw socket that sees every packet of the interface, like the original sample's
    // open_raw_sock("lo").
    let sock = socket::socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )?;
    socket::setsockopt(
        &sock,
        sockopt::BindToDevice,
        &std::ffi::OsString::from(&args.iface),
    )?;
    let _link = skel.progs().bpf_prog1().attach_socket(&sock)?;
    // my_map's values are C `long`s.
    let counts = skel.maps().my_map().as_array::<i64>()?;
    for _ in 0..args.count {
        make_traffic();
        std::thread::sleep(Duration::from_secs(1));
        println!(
            "TCP {} UDP {} ICMP {} bytes",
            counts.get(IPPROTO_TCP, 0)?,
            counts.get(IPPROTO_UDP, 0)?,
            counts.get(IPPROTO_ICMP, 0)?
        );
    }
    Ok(())
}
