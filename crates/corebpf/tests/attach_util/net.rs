//! Network fixtures of the attach tests: named network namespaces, a veth pair between
//! two of them with UDP traffic, and the cgroup v2 mount.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub fn ip_cmd() -> &'static str {
    // In the VM guests busybox's `ip` may shadow iproute2's.
    if std::path::Path::new("/usr/sbin/ip").exists() {
        "/usr/sbin/ip"
    } else {
        "ip"
    }
}

pub fn ip(args: &[&str]) {
    let out = Command::new(ip_cmd()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A named network namespace (`ip netns add`), deleted on drop.
pub struct Netns {
    pub name: String,
    fd: OwnedFd,
}

impl Netns {
    pub fn new(name: String) -> Netns {
        // The guests' initramfs has no /run/netns yet; iproute2 uses /run/netns (or
        // /var/run/netns, the same place where /var/run links to /run).
        let _ = std::fs::create_dir_all("/run/netns");
        let _ = Command::new(ip_cmd())
            .args(["netns", "del", &name])
            .output();
        ip(&["netns", "add", &name]);
        let fd = ["/run/netns", "/var/run/netns"]
            .iter()
            .find_map(|d| std::fs::File::open(format!("{d}/{name}")).ok())
            .unwrap_or_else(|| panic!("ip netns add {name} made no /run/netns/{name}"))
            .into();
        Netns { name, fd }
    }

    /// Runs `f` on a thread inside the namespace (sockets and links made there stay in it).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(&self.fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                f()
            })
            .join()
            .unwrap()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(ip_cmd())
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Two namespaces joined by a veth pair: `a` (10.77.<n>.1, interface `cbA<n>`) sends,
/// `b` (10.77.<n>.2, interface `cbB<n>`) receives.
pub struct Pair {
    pub a: Netns,
    pub b: Netns,
    pub b_if: String,
    pub b_addr: Ipv4Addr,
}

static PAIRS: AtomicU32 = AtomicU32::new(0);

impl Pair {
    pub fn new() -> Pair {
        let n = PAIRS.fetch_add(1, Ordering::Relaxed) + 1;
        let pid = std::process::id();
        let a = Netns::new(format!("cbpf_{pid}_{n}a"));
        let b = Netns::new(format!("cbpf_{pid}_{n}b"));
        let (a_if, b_if) = (
            format!("cbA{}_{n}", pid % 10000),
            format!("cbB{}_{n}", pid % 10000),
        );
        let net = 10 + (pid % 200) as u8 + n as u8;
        let (a_addr, b_addr) = (format!("10.77.{net}.1/24"), format!("10.77.{net}.2/24"));
        ip(&[
            "-n", &a.name, "link", "add", &a_if, "type", "veth", "peer", "name", &b_if, "netns",
            &b.name,
        ]);
        for (ns, ifname, addr) in [(&a, &a_if, &a_addr), (&b, &b_if, &b_addr)] {
            ip(&["-n", &ns.name, "addr", "add", addr, "dev", ifname]);
            ip(&["-n", &ns.name, "link", "set", ifname, "up"]);
            ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        }
        Pair {
            a,
            b,
            b_if,
            b_addr: Ipv4Addr::new(10, 77, net, 2),
        }
    }

    /// The ifindex of `b`'s veth end, as seen in `b`.
    pub fn b_ifindex(&self) -> u32 {
        let name = self.b_if.clone();
        self.b
            .run(move || corebpf::sys::netlink::ifindex(&name).unwrap() as u32)
    }

    /// Sends `n` UDP datagrams from `a` to `b` on `pass` and on `drop`, and returns how many
    /// `b` received on each.
    pub fn send_and_receive(&self, pass: u16, drop: u16, n: usize) -> (usize, usize) {
        let addr = self.b_addr;
        let (rp, rd) = self.b.run(move || {
            let rp = UdpSocket::bind(SocketAddrV4::new(addr, pass)).unwrap();
            let rd = UdpSocket::bind(SocketAddrV4::new(addr, drop)).unwrap();
            (rp, rd)
        });
        self.a.run(move || {
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            // Resolve the neighbour first (a port nobody counts), so no datagram waits on ARP.
            s.send_to(b"warm-up", SocketAddrV4::new(addr, 9)).unwrap();
            std::thread::sleep(Duration::from_millis(200));
            for _ in 0..n {
                s.send_to(b"pass me", SocketAddrV4::new(addr, pass))
                    .unwrap();
                s.send_to(b"drop me", SocketAddrV4::new(addr, drop))
                    .unwrap();
            }
        });
        let drain = |s: &UdpSocket| {
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut buf = [0u8; 64];
            let mut got = 0;
            while s.recv(&mut buf).is_ok() {
                got += 1;
            }
            got
        };
        (drain(&rp), drain(&rd))
    }
}

/// The cgroup v2 mount point (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid
/// hosts).
pub fn cgroup2_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    mounts
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && f[2] == "cgroup2").then(|| PathBuf::from(f[1]))
        })
        .expect("no cgroup2 mount")
}
