//! rtnetlink: XDP attach/detach/query with `RTM_SETLINK`/`RTM_GETLINK` and `IFLA_XDP`,
//! the fallback for kernels without XDP links (< 5.9); TC programs as a `clsact` qdisc
//! plus a `cls_bpf` filter (`RTM_NEWQDISC`, `RTM_NEWTFILTER`), the fallback for kernels
//! without tcx links (< 6.6). Kernel error messages (extended ACK) come back in the
//! error's log.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::consts::XDP_FLAGS_REPLACE;
use crate::error::SysError;

const NETLINK_ROUTE: i32 = 0;
const NETLINK_EXT_ACK: i32 = 11;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLA_F_NESTED: u16 = 0x8000;
const NLMSGERR_ATTR_MSG: u16 = 1;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_FLAGS: u16 = 3;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_EXPECTED_FD: u16 = 8;

const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_NEWTFILTER: u16 = 44;
const RTM_DELTFILTER: u16 = 45;
const RTM_GETTFILTER: u16 = 46;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_FD: u16 = 6;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_ID: u16 = 11;
const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;
const ETH_P_ALL: u16 = 3;
/// `TC_H_CLSACT`: the clsact qdisc's parent (same value as `TC_H_INGRESS`).
const TC_H_CLSACT: u32 = 0xFFFF_FFF1;
const TC_H_MAJ_MASK: u32 = 0xFFFF_0000;
const TC_H_MIN_INGRESS: u32 = 0xFFF2;
const TC_H_MIN_EGRESS: u32 = 0xFFF3;

const CMD_SET: &str = "RTM_SETLINK(IFLA_XDP)";
const CMD_GET: &str = "RTM_GETLINK(IFLA_XDP)";

/// A route netlink socket.
struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    fn open(cmd: &'static str) -> Result<Self, SysError> {
        if let Some(errno) = crate::fault::inject("socket(AF_NETLINK)") {
            return Err(SysError::from_errno(cmd, errno));
        }
        // SAFETY: plain socket(2) call; the result is checked and wrapped at once.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(SysError::last(cmd));
        }
        // SAFETY: `fd` is a new socket nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // SAFETY: `one` is a valid c_int for the option length given. Failure (old
        // kernels) only loses error strings, so it is ignored.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_NETLINK,
                NETLINK_EXT_ACK,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        Ok(Socket { fd, seq: 1 })
    }

    fn send(&mut self, cmd: &'static str, msg: &mut [u8]) -> Result<u32, SysError> {
        self.seq += 1;
        let len = msg.len() as u32;
        msg[0..4].copy_from_slice(&len.to_ne_bytes());
        msg[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        if let Some(errno) = crate::fault::inject("send(netlink)") {
            return Err(SysError::from_errno(cmd, errno));
        }
        // SAFETY: `msg` is a live buffer of `msg.len()` bytes; the kernel only reads it.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
                0,
            )
        };
        if n < 0 {
            return Err(SysError::last(cmd));
        }
        Ok(self.seq)
    }

    fn recv(&self, cmd: &'static str, buf: &mut [u8]) -> Result<usize, SysError> {
        loop {
            if let Some(errno) = crate::fault::inject("recv(netlink)") {
                if errno == libc::EINTR {
                    continue;
                }
                return Err(SysError::from_errno(cmd, errno));
            }
            // SAFETY: `buf` is an exclusively borrowed buffer of `buf.len()` bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = SysError::last(cmd);
                if e.raw_errno() == Some(libc::EINTR) {
                    continue;
                }
                return Err(e);
            }
            return Ok(n as usize);
        }
    }
}

fn push_u16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_ne_bytes());
}

fn push_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_ne_bytes());
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// nlmsghdr (length and seq filled by `send`), then the start that `struct ifinfomsg` and
/// `struct tcmsg` share: family (AF_UNSPEC), padding, and `ifindex`.
fn ifindex_msg(msg_type: u16, flags: u16, ifindex: i32, capacity: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(capacity);
    push_u32(&mut v, 0);
    push_u16(&mut v, msg_type);
    push_u16(&mut v, flags);
    push_u32(&mut v, 0);
    push_u32(&mut v, 0);
    v.push(libc::AF_UNSPEC as u8);
    v.push(0);
    push_u16(&mut v, 0);
    v.extend_from_slice(&ifindex.to_ne_bytes());
    v
}

/// nlmsghdr + ifinfomsg for `ifindex`.
fn link_msg(msg_type: u16, flags: u16, ifindex: i32) -> Vec<u8> {
    let mut v = ifindex_msg(msg_type, flags, ifindex, 64);
    push_u32(&mut v, 0); // ifi_flags
    push_u32(&mut v, 0); // ifi_change
    v
}

/// nlmsghdr + tcmsg for `ifindex`.
fn tc_msg(msg_type: u16, flags: u16, ifindex: i32, handle: u32, parent: u32, info: u32) -> Vec<u8> {
    let mut v = ifindex_msg(msg_type, flags, ifindex, 128);
    push_u32(&mut v, handle);
    push_u32(&mut v, parent);
    push_u32(&mut v, info);
    v
}

fn push_attr(v: &mut Vec<u8>, attr_type: u16, payload: &[u8]) {
    push_u16(v, (4 + payload.len()) as u16);
    push_u16(v, attr_type);
    v.extend_from_slice(payload);
    v.resize(align4(v.len()), 0);
}

/// Iterates `(type, payload)` netlink attributes in `data`.
fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let ty = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        if len < 4 || len > data.len() {
            return None;
        }
        let payload = &data[4..len];
        data = &data[align4(len).min(data.len())..];
        Some((ty, payload))
    })
}

/// Parses an `NLMSG_ERROR` message body: `Ok(())` for an ACK, the error otherwise.
fn parse_error(cmd: &'static str, flags: u16, body: &[u8]) -> Result<(), SysError> {
    if body.len() < 4 {
        return Err(SysError::invalid(cmd, "truncated netlink error"));
    }
    let errno = i32::from_ne_bytes([body[0], body[1], body[2], body[3]]);
    if errno == 0 {
        return Ok(());
    }
    let mut text = None;
    if flags & NLM_F_ACK_TLVS != 0 && body.len() >= 20 {
        // The echoed request: just its header when capped, else the whole message.
        let echoed = if flags & NLM_F_CAPPED != 0 {
            16
        } else {
            u32::from_ne_bytes([body[4], body[5], body[6], body[7]]) as usize
        };
        let start = align4(4 + echoed).min(body.len());
        for (ty, payload) in attrs(&body[start..]) {
            if ty == NLMSGERR_ATTR_MSG {
                let end = payload
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(payload.len());
                text = Some(String::from_utf8_lossy(&payload[..end]).into_owned());
            }
        }
    }
    Err(SysError::from_errno(cmd, -errno).with_log(text))
}

/// Reads replies to `seq` until an ACK/error, handing other messages to `on_msg`.
fn read_replies(
    sock: &Socket,
    cmd: &'static str,
    seq: u32,
    mut on_msg: impl FnMut(u16, &[u8]),
) -> Result<(), SysError> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = sock.recv(cmd, &mut buf)?;
        let mut data = &buf[..n];
        while data.len() >= 16 {
            let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
            let ty = u16::from_ne_bytes([data[4], data[5]]);
            let flags = u16::from_ne_bytes([data[6], data[7]]);
            let mseq = u32::from_ne_bytes([data[8], data[9], data[10], data[11]]);
            if len < 16 || len > data.len() {
                return Err(SysError::invalid(cmd, "malformed netlink reply"));
            }
            let body = &data[16..len];
            if mseq == seq {
                match ty {
                    NLMSG_ERROR => return parse_error(cmd, flags, body),
                    NLMSG_DONE => return Ok(()),
                    _ => on_msg(ty, body),
                }
            }
            data = &data[align4(len).min(data.len())..];
        }
    }
}

/// Attaches (`prog` = `Some`) or detaches (`None`) an XDP program on `ifindex` with
/// `XDP_FLAGS_*`; with `XDP_FLAGS_REPLACE`, only if `expected` is the attached program
/// (`None`: only if none is attached).
pub fn xdp_attach(
    ifindex: i32,
    prog: Option<BorrowedFd<'_>>,
    flags: u32,
    expected: Option<BorrowedFd<'_>>,
) -> Result<(), SysError> {
    let mut sock = Socket::open(CMD_SET)?;
    let mut msg = link_msg(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, ifindex);
    let mut nested = Vec::new();
    push_attr(
        &mut nested,
        IFLA_XDP_FD,
        &prog.map_or(-1, |p| p.as_raw_fd()).to_ne_bytes(),
    );
    if flags != 0 {
        push_attr(&mut nested, IFLA_XDP_FLAGS, &flags.to_ne_bytes());
    }
    if flags & XDP_FLAGS_REPLACE != 0 {
        push_attr(
            &mut nested,
            IFLA_XDP_EXPECTED_FD,
            &expected.map_or(-1, |p| p.as_raw_fd()).to_ne_bytes(),
        );
    }
    push_attr(&mut msg, IFLA_XDP | NLA_F_NESTED, &nested);
    let seq = sock.send(CMD_SET, &mut msg)?;
    read_replies(&sock, CMD_SET, seq, |_, _| {})
}

/// Detaches the XDP program of `ifindex` in the mode given by `flags`.
pub fn xdp_detach(ifindex: i32, flags: u32) -> Result<(), SysError> {
    xdp_attach(ifindex, None, flags, None)
}

/// What `RTM_GETLINK` says about XDP on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XdpInfo {
    /// `XDP_ATTACHED_*`: 0 none, 1 driver, 2 generic (skb), 3 hardware, 4 multi.
    pub attached: u8,
    /// Id of the attached program (0 if none).
    pub prog_id: u32,
}

/// Queries the XDP state of `ifindex`.
pub fn xdp_query(ifindex: i32) -> Result<XdpInfo, SysError> {
    let mut sock = Socket::open(CMD_GET)?;
    let mut msg = link_msg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, ifindex);
    let seq = sock.send(CMD_GET, &mut msg)?;
    let mut info = XdpInfo::default();
    read_replies(&sock, CMD_GET, seq, |ty, body| {
        if ty != RTM_NEWLINK || body.len() < 16 {
            return;
        }
        for (ty, payload) in attrs(&body[16..]) {
            if ty != IFLA_XDP {
                continue;
            }
            for (xty, xp) in attrs(payload) {
                match xty {
                    IFLA_XDP_ATTACHED if !xp.is_empty() => info.attached = xp[0],
                    IFLA_XDP_PROG_ID if xp.len() >= 4 => {
                        info.prog_id = u32::from_ne_bytes([xp[0], xp[1], xp[2], xp[3]])
                    }
                    _ => {}
                }
            }
        }
    })?;
    Ok(info)
}

const CMD_QDISC_ADD: &str = "RTM_NEWQDISC(clsact)";
const CMD_QDISC_DEL: &str = "RTM_DELQDISC(clsact)";
const CMD_FILTER_ADD: &str = "RTM_NEWTFILTER(bpf)";
const CMD_FILTER_DEL: &str = "RTM_DELTFILTER(bpf)";
const CMD_FILTER_GET: &str = "RTM_GETTFILTER(bpf)";

/// The clsact qdisc's handle, `TC_H_MAKE(TC_H_CLSACT, 0)`.
const CLSACT_HANDLE: u32 = TC_H_CLSACT & TC_H_MAJ_MASK;

/// The parent of a clsact filter: `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS/EGRESS)`.
fn clsact_parent(ingress: bool) -> u32 {
    CLSACT_HANDLE
        | if ingress {
            TC_H_MIN_INGRESS
        } else {
            TC_H_MIN_EGRESS
        }
}

/// `tcm_info` of a filter: `TC_H_MAKE(priority << 16, htons(ETH_P_ALL))`.
fn filter_info(priority: u16) -> u32 {
    ((priority as u32) << 16) | ETH_P_ALL.to_be() as u32
}

fn tc_request(cmd: &'static str, mut msg: Vec<u8>) -> Result<(), SysError> {
    let mut sock = Socket::open(cmd)?;
    let seq = sock.send(cmd, &mut msg)?;
    read_replies(&sock, cmd, seq, |_, _| {})
}

/// Creates the `clsact` qdisc on `ifindex`: `Ok(true)` if created, `Ok(false)` if the
/// interface has one already (or another qdisc at the ingress/clsact parent, in which
/// case the filter attach that follows is where it fails).
pub fn tc_clsact_create(ifindex: i32) -> Result<bool, SysError> {
    let mut msg = tc_msg(
        RTM_NEWQDISC,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ifindex,
        CLSACT_HANDLE,
        TC_H_CLSACT,
        0,
    );
    push_attr(&mut msg, TCA_KIND, b"clsact\0");
    match tc_request(CMD_QDISC_ADD, msg) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_errno() == Some(libc::EEXIST) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the `clsact` qdisc of `ifindex`, and with it every filter under it.
pub fn tc_clsact_destroy(ifindex: i32) -> Result<(), SysError> {
    let mut msg = tc_msg(
        RTM_DELQDISC,
        NLM_F_REQUEST | NLM_F_ACK,
        ifindex,
        CLSACT_HANDLE,
        TC_H_CLSACT,
        0,
    );
    push_attr(&mut msg, TCA_KIND, b"clsact\0");
    tc_request(CMD_QDISC_DEL, msg)
}

/// Which `cls_bpf` filter of a clsact qdisc a message is about.
#[derive(Clone, Copy)]
struct FilterId {
    ifindex: i32,
    ingress: bool,
    handle: u32,
    priority: u16,
}

/// nlmsghdr + tcmsg for `filter` (its clsact parent and priority) + `TCA_KIND "bpf"`: the
/// start of every filter add, delete and get.
fn bpf_filter_msg(msg_type: u16, flags: u16, filter: FilterId) -> Vec<u8> {
    let mut msg = tc_msg(
        msg_type,
        flags,
        filter.ifindex,
        filter.handle,
        clsact_parent(filter.ingress),
        filter_info(filter.priority),
    );
    push_attr(&mut msg, TCA_KIND, b"bpf\0");
    msg
}

/// Filter handle and priority 0 would let the kernel pick them (and delete would then match
/// any filter): attach and detach require explicit ones.
fn check_filter_id(cmd: &'static str, handle: u32, priority: u16) -> Result<(), SysError> {
    if handle == 0 || priority == 0 {
        return Err(SysError::invalid(
            cmd,
            "filter handle and priority must be nonzero",
        ));
    }
    Ok(())
}

/// Adds a direct-action `cls_bpf` filter running `prog` under the clsact qdisc of
/// `ifindex` (which must exist: [`tc_clsact_create`]), on ingress or egress, with filter
/// `handle` and `priority` (both nonzero). Fails with `EEXIST` if that handle and
/// priority are taken.
pub fn tc_filter_attach(
    ifindex: i32,
    ingress: bool,
    prog: BorrowedFd<'_>,
    name: &str,
    handle: u32,
    priority: u16,
) -> Result<(), SysError> {
    check_filter_id(CMD_FILTER_ADD, handle, priority)?;
    let filter = FilterId {
        ifindex,
        ingress,
        handle,
        priority,
    };
    let mut msg = bpf_filter_msg(
        RTM_NEWTFILTER,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        filter,
    );
    let mut opts = Vec::new();
    push_attr(&mut opts, TCA_BPF_FD, &prog.as_raw_fd().to_ne_bytes());
    let mut cname: Vec<u8> = name.bytes().filter(|&b| b != 0).take(255).collect();
    cname.push(0);
    push_attr(&mut opts, TCA_BPF_NAME, &cname);
    push_attr(
        &mut opts,
        TCA_BPF_FLAGS,
        &TCA_BPF_FLAG_ACT_DIRECT.to_ne_bytes(),
    );
    push_attr(&mut msg, TCA_OPTIONS | NLA_F_NESTED, &opts);
    tc_request(CMD_FILTER_ADD, msg)
}

/// Removes the `cls_bpf` filter `handle`/`priority` of the clsact qdisc of `ifindex`.
pub fn tc_filter_detach(
    ifindex: i32,
    ingress: bool,
    handle: u32,
    priority: u16,
) -> Result<(), SysError> {
    check_filter_id(CMD_FILTER_DEL, handle, priority)?;
    let filter = FilterId {
        ifindex,
        ingress,
        handle,
        priority,
    };
    let msg = bpf_filter_msg(RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK, filter);
    tc_request(CMD_FILTER_DEL, msg)
}

/// The id of the program run by the `cls_bpf` filter `handle`/`priority` of the clsact
/// qdisc of `ifindex`: `Ok(None)` if there is no such filter.
pub fn tc_filter_query(
    ifindex: i32,
    ingress: bool,
    handle: u32,
    priority: u16,
) -> Result<Option<u32>, SysError> {
    let mut sock = Socket::open(CMD_FILTER_GET)?;
    let filter = FilterId {
        ifindex,
        ingress,
        handle,
        priority,
    };
    let mut msg = bpf_filter_msg(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_ACK, filter);
    let seq = sock.send(CMD_FILTER_GET, &mut msg)?;
    let mut id = None;
    let r = read_replies(&sock, CMD_FILTER_GET, seq, |ty, body| {
        if ty != RTM_NEWTFILTER || body.len() < 20 {
            return;
        }
        for (ty, payload) in attrs(&body[20..]) {
            if ty != TCA_OPTIONS {
                continue;
            }
            for (bty, bp) in attrs(payload) {
                if bty == TCA_BPF_ID && bp.len() >= 4 {
                    id = Some(u32::from_ne_bytes([bp[0], bp[1], bp[2], bp[3]]));
                }
            }
        }
    });
    match r {
        Ok(()) => Ok(id),
        // No such filter, or no clsact qdisc at all.
        Err(e) if matches!(e.raw_errno(), Some(libc::ENOENT) | Some(libc::EINVAL)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The index of a network interface by name (`if_nametoindex`).
pub fn ifindex(name: &str) -> Result<i32, SysError> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| SysError::invalid("if_nametoindex", "NUL in name"))?;
    // SAFETY: `c` is a valid NUL-terminated string for the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(SysError::last("if_nametoindex"))
    } else {
        Ok(i as i32)
    }
}
