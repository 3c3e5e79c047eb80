//! Attaching network programs on the real kernel (attach_net.bpf.c): XDP and tcx on one end
//! of a veth pair between two network namespaces the test creates, with UDP packets sent
//! from the other end (counted, passed and dropped as the program decides); a socket
//! filter on a loopback UDP socket counting bytes per protocol; cgroup_skb programs on a
//! cgroup the test creates, counting the packets of a child process moved into it.

mod attach_util;

use std::io::Write;
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use attach_util::net::*;
use attach_util::*;
use corebpf::attach::tc::{TcDirection, TcOpts};
use corebpf::attach::xdp::{XdpMode, XdpOpts};
use corebpf::sys::{probe_feature, Feature, LinkType};
use corebpf::{Object, ObjectBuilder};

const N: usize = 20;

/// Counter slots of attach_net.bpf.c.
mod nslot {
    pub const PASS: u32 = 0;
    pub const DROP: u32 = 1;
    pub const CG_EGRESS: u32 = 2;
    pub const CG_INGRESS: u32 = 3;
    pub const SOCK: u32 = 4;
    pub const MSG: u32 = 5;
}

fn load_net(programs: &[&str], pass_port: u16, drop_port: u16) -> Object {
    let mut open = ObjectBuilder::new()
        .open_file(object_path("attach_net.bpf.o"))
        .unwrap();
    open.load_only(programs).unwrap();
    open.set_global("pass_port", &pass_port.to_ne_bytes())
        .unwrap();
    open.set_global("drop_port", &drop_port.to_ne_bytes())
        .unwrap();
    open.load().unwrap()
}

#[test]
fn xdp_on_a_veth_counts_passes_and_drops() {
    let pair = Pair::new();
    let (pass, dropp) = (7001, 7002);
    let obj = load_net(&["xdp_udp"], pass, dropp);
    let prog = obj.program("xdp_udp").unwrap();
    let ifindex = pair.b_ifindex();
    let link = pair
        .b
        .run(|| prog.attach_xdp(ifindex, &XdpOpts::default()))
        .unwrap();
    let info = link.info().unwrap();
    assert_eq!(info.link_type, Some(LinkType::Xdp));
    assert_eq!(
        info.details,
        corebpf::sys::info::LinkDetails::Xdp { ifindex }
    );
    let (got_pass, got_drop) = pair.send_and_receive(pass, dropp, N);
    assert_eq!((got_pass, got_drop), (N, 0), "received (pass, drop)");
    assert!(count(&obj, nslot::PASS) >= N as u64);
    assert!(count(&obj, nslot::DROP) >= N as u64);
    // A second XDP link on the same interface is refused with a hint.
    let e = pair
        .b
        .run(|| prog.attach_xdp(ifindex, &XdpOpts::default()))
        .unwrap_err();
    assert!(
        e.to_string().contains("another XDP program is attached"),
        "{e}"
    );
    drop(link);
    // Detached: everything passes, nothing is counted.
    let before = (count(&obj, nslot::PASS), count(&obj, nslot::DROP));
    assert_eq!(pair.send_and_receive(pass, dropp, N), (N, N));
    assert_eq!((count(&obj, nslot::PASS), count(&obj, nslot::DROP)), before);
}

#[test]
fn xdp_through_netlink_in_skb_mode_detaches_on_drop() {
    let pair = Pair::new();
    let (pass, dropp) = (7011, 7012);
    let obj = load_net(&["xdp_udp"], pass, dropp);
    let prog = obj.program("xdp_udp").unwrap();
    let ifindex = pair.b_ifindex();
    let opts = XdpOpts {
        mode: XdpMode::Skb,
        netlink: true,
        ..Default::default()
    };
    let link = pair.b.run(|| prog.attach_xdp(ifindex, &opts)).unwrap();
    assert!(!link.is_bpf_link());
    let e = link.pin("/sys/fs/bpf/corebpf_never").unwrap_err();
    assert!(e.to_string().contains("needs a bpf link"), "{e}");
    let q = pair
        .b
        .run(|| corebpf::sys::netlink::xdp_query(ifindex as i32))
        .unwrap();
    assert_eq!(q.prog_id, prog.id().unwrap());
    assert_eq!(pair.send_and_receive(pass, dropp, N), (N, 0));
    // Dropped here, on the main thread, outside the namespace: the link detaches in its
    // own namespace all the same.
    drop(link);
    let q = pair
        .b
        .run(|| corebpf::sys::netlink::xdp_query(ifindex as i32))
        .unwrap();
    assert_eq!(q.prog_id, 0, "still attached after drop");
    assert_eq!(pair.send_and_receive(pass, dropp, N), (N, N));
}

/// `Link::update_program` swaps the XDP program without detaching, through an XDP link
/// (`BPF_LINK_UPDATE`) or netlink (`XDP_FLAGS_REPLACE`, in the link's namespace even when
/// called from outside it); the netlink link then detaches the new program on drop.
#[test]
fn xdp_update_program_through_link_and_netlink() {
    let pair = Pair::new();
    let (pass, dropp) = (7013, 7014);
    let first = load_net(&["xdp_udp"], pass, dropp);
    let second = load_net(&["xdp_udp"], pass, dropp);
    let (old, new) = (
        first.program("xdp_udp").unwrap(),
        second.program("xdp_udp").unwrap(),
    );
    let ifindex = pair.b_ifindex();
    let attached = || {
        pair.b
            .run(|| corebpf::sys::netlink::xdp_query(ifindex as i32))
            .unwrap()
            .prog_id
    };
    for netlink in [false, true] {
        let opts = XdpOpts {
            mode: XdpMode::Skb,
            netlink,
            ..Default::default()
        };
        let mut link = pair.b.run(|| old.attach_xdp(ifindex, &opts)).unwrap();
        assert_eq!(link.is_bpf_link(), !netlink);
        assert_eq!(attached(), old.id().unwrap());
        link.update_program(new).unwrap();
        assert_eq!(attached(), new.id().unwrap(), "netlink: {netlink}");
        if !netlink {
            assert_eq!(link.info().unwrap().prog_id, new.id().unwrap());
        }
        assert_eq!(pair.send_and_receive(pass, dropp, N), (N, 0));
        drop(link);
        assert_eq!(
            attached(),
            0,
            "still attached after drop (netlink: {netlink})"
        );
    }
}

#[test]
fn tc_ingress_on_a_veth_with_tcx_or_netlink() {
    let pair = Pair::new();
    let (pass, dropp) = (7021, 7022);
    let obj = load_net(&["tc_udp"], pass, dropp);
    let prog = obj.program("tc_udp").unwrap();
    let ifindex = pair.b_ifindex();
    let link = pair
        .b
        .run(|| prog.attach_tc(ifindex, TcDirection::Ingress))
        .unwrap();
    if probe_feature(Feature::TcxLink) {
        assert_eq!(link.info().unwrap().link_type, Some(LinkType::Tcx));
    } else {
        // Before 6.6: a cls_bpf filter of handle 1, priority 1 under a clsact qdisc.
        assert!(!link.is_bpf_link());
        let id = pair
            .b
            .run(|| corebpf::sys::netlink::tc_filter_query(ifindex as i32, true, 1, 1))
            .unwrap();
        assert_eq!(id, Some(prog.id().unwrap()));
    }
    assert_eq!(pair.send_and_receive(pass, dropp, N), (N, 0));
    assert!(count(&obj, nslot::PASS) >= N as u64);
    assert!(count(&obj, nslot::DROP) >= N as u64);
    drop(link);
    assert_eq!(pair.send_and_receive(pass, dropp, N), (N, N));
}

/// `tc filter show dev <ifname> <dir>` in namespace `ns`, if iproute2's `tc` is there.
fn tc_filter_show(ns: &str, ifname: &str, dir: &str) -> Option<String> {
    let tc = ["/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let out = Command::new(tc)
        .args(["-n", ns, "filter", "show", "dev", ifname, dir])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "tc filter show: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn tc_through_netlink_when_asked_removes_its_filter_on_drop() {
    let pair = Pair::new();
    let (pass, dropp) = (7031, 7032);
    let obj = load_net(&["tc_udp"], pass, dropp);
    let prog = obj.program("tc_udp").unwrap();
    let ifindex = pair.b_ifindex();
    let opts = TcOpts {
        netlink: true,
        handle: 7,
        priority: 3,
    };
    let link = pair
        .b
        .run(|| prog.attach_tc_with(ifindex, TcDirection::Ingress, &opts))
        .unwrap();
    assert!(!link.is_bpf_link());
    assert!(link.target().contains("netlink"), "{}", link.target());
    let e = link.pin("/sys/fs/bpf/corebpf_never").unwrap_err();
    assert!(
        e.to_string().contains("needs a bpf link") && e.to_string().contains("TC filter"),
        "{e}"
    );
    let query = |dir_ingress: bool| {
        pair.b
            .run(move || corebpf::sys::netlink::tc_filter_query(ifindex as i32, dir_ingress, 7, 3))
            .unwrap()
    };
    assert_eq!(query(true), Some(prog.id().unwrap()));
    assert_eq!(query(false), None);
    if let Some(shown) = tc_filter_show(&pair.b.name, &pair.b_if, "ingress") {
        assert!(
            shown.contains("tc_udp") && shown.contains("direct-action"),
            "{shown}"
        );
    }
    // The same handle and priority again: refused, with a hint.
    let e = pair
        .b
        .run(|| prog.attach_tc_with(ifindex, TcDirection::Ingress, &opts))
        .unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    // Another priority on egress coexists (the clsact qdisc is there already).
    let egress = pair
        .b
        .run(|| {
            prog.attach_tc_with(
                ifindex,
                TcDirection::Egress,
                &TcOpts {
                    netlink: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    drop(egress);
    assert_eq!(pair.send_and_receive(pass, dropp, N), (N, 0));
    assert!(count(&obj, nslot::PASS) >= N as u64);
    assert!(count(&obj, nslot::DROP) >= N as u64);
    // Dropped on the main thread, outside the namespace: removed in its own all the same.
    drop(link);
    assert_eq!(query(true), None, "filter still there after drop");
    if let Some(shown) = tc_filter_show(&pair.b.name, &pair.b_if, "ingress") {
        assert!(shown.trim().is_empty(), "{shown}");
    }
    let before = (count(&obj, nslot::PASS), count(&obj, nslot::DROP));
    assert_eq!(pair.send_and_receive(pass, dropp, N), (N, N));
    assert_eq!((count(&obj, nslot::PASS), count(&obj, nslot::DROP)), before);
}

#[test]
fn socket_filter_counts_bytes_per_protocol() {
    let obj = load_net(&["sock_bytes"], 0, 0);
    let prog = obj.program("sock_bytes").unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let link = prog.attach_socket(&rx).unwrap();
    let payload = [7u8; 100];
    for _ in 0..N {
        tx.send_to(&payload, rx.local_addr().unwrap()).unwrap();
    }
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 256];
    for _ in 0..N {
        assert_eq!(rx.recv(&mut buf).unwrap(), 100);
    }
    let bytes = obj.map("proto_bytes").unwrap().as_array::<u64>().unwrap();
    let udp = bytes.get(libc::IPPROTO_UDP as u32, 0).unwrap();
    assert!(udp >= (N * 100) as u64, "{udp} UDP bytes");
    assert_eq!(bytes.get(libc::IPPROTO_TCP as u32, 0).unwrap(), 0);
    assert_eq!(count(&obj, nslot::SOCK), N as u64);
    // Socket filters are not bpf links.
    let e = link.pin("/sys/fs/bpf/corebpf_never").unwrap_err();
    assert!(
        e.to_string().contains("needs a bpf link") && e.to_string().contains("socket filter"),
        "{e}"
    );
    assert!(link.info().is_err());
    drop(link);
    tx.send_to(&payload, rx.local_addr().unwrap()).unwrap();
    assert_eq!(rx.recv(&mut buf).unwrap(), 100);
    assert_eq!(count(&obj, nslot::SOCK), N as u64, "counted after detach");
}

/// Child side of the cgroup test: waits for the go line (sent once it is in the cgroup),
/// then sends `N` datagrams to itself over loopback.
#[test]
fn child_helper_udp() {
    if std::env::var(CHILD_ENV).as_deref() != Ok("udp") {
        return;
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..N {
        tx.send_to(b"cgroup", rx.local_addr().unwrap()).unwrap();
        rx.recv(&mut buf).unwrap();
    }
}

#[test]
fn cgroup_skb_counts_the_packets_of_its_cgroup() {
    let cg = cgroup2_root().join(format!("corebpf_attach_{}", std::process::id()));
    let _ = std::fs::remove_dir(&cg);
    std::fs::create_dir(&cg).unwrap();
    let obj = load_net(&["cg_egress", "cg_ingress"], 0, 0);
    let egress = obj
        .program("cg_egress")
        .unwrap()
        .attach_cgroup_path(&cg)
        .unwrap();
    let ingress = obj
        .program("cg_ingress")
        .unwrap()
        .attach_cgroup_path(&cg)
        .unwrap();
    if egress.is_bpf_link() {
        assert_eq!(egress.info().unwrap().link_type, Some(LinkType::Cgroup));
    }
    // Traffic of this process (outside the cgroup) is not counted.
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"outside", rx.local_addr().unwrap())
        .unwrap();
    assert_eq!(count(&obj, nslot::CG_EGRESS), 0);
    let mut child = spawn_child("child_helper_udp", "udp", &[]);
    std::fs::write(cg.join("cgroup.procs"), child.id().to_string()).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    let (e, i) = (
        count(&obj, nslot::CG_EGRESS),
        count(&obj, nslot::CG_INGRESS),
    );
    assert!(e >= N as u64 && i >= N as u64, "egress {e}, ingress {i}");
    drop(egress);
    drop(ingress);
    std::fs::remove_dir(&cg).unwrap();
}

#[test]
fn sk_msg_on_a_sockmap_counts_messages() {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    let obj = load_net(&["msg_count"], 0, 0);
    let socks = obj.map("socks").unwrap();
    let link = obj
        .program("msg_count")
        .unwrap()
        .attach_sockmap(socks)
        .unwrap();
    assert!(!link.is_bpf_link());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    // A socket joins the map with the programs attached to the map at that moment.
    socks
        .update(
            &0u32.to_ne_bytes(),
            &(client.as_raw_fd() as u32).to_ne_bytes(),
            0,
        )
        .unwrap();
    for _ in 0..N {
        client.write_all(b"msg").unwrap();
    }
    let mut buf = vec![0u8; 3 * N];
    server.read_exact(&mut buf).unwrap();
    assert!(
        count(&obj, nslot::MSG) >= N as u64,
        "{}",
        count(&obj, nslot::MSG)
    );
    drop(link);
    // Detached from the map: a program query finds nothing there any more.
    let q = corebpf::sys::prog_query(
        corebpf::sys::AttachTarget::Fd(std::os::fd::AsFd::as_fd(socks)),
        corebpf::sys::AttachType::SkMsgVerdict,
        0,
    );
    if let Ok(q) = q {
        assert!(q.prog_ids.is_empty(), "{q:?}");
    }
}

#[test]
fn socket_filter_on_a_raw_packet_socket() {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
    // As samples/bpf sockex1: an AF_PACKET socket sees the frames of every interface;
    // the filter reads the IP protocol relative to the network header, so the Ethernet
    // header in front does not matter.
    let obj = load_net(&["sock_bytes"], 0, 0);
    let raw = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )
    .unwrap();
    let link = obj
        .program("sock_bytes")
        .unwrap()
        .attach_socket(&raw)
        .unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..N {
        tx.send_to(&[1u8; 50], rx.local_addr().unwrap()).unwrap();
    }
    let bytes = obj.map("proto_bytes").unwrap().as_array::<u64>().unwrap();
    let udp = bytes.get(libc::IPPROTO_UDP as u32, 0).unwrap();
    assert!(udp >= (N * 50) as u64, "{udp} UDP bytes");
    drop(link);
}
