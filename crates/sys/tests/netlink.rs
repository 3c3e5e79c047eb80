//! Netlink XDP attach/replace/detach on the loopback device of a private network
//! namespace (the test thread unshares its netns, so the host is untouched).

mod common;

use std::os::fd::AsFd;

use corebpf_sys::consts::{XDP_FLAGS_REPLACE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST};
use corebpf_sys::netlink::{ifindex, xdp_attach, xdp_detach, xdp_query};
use corebpf_sys::*;

#[test]
fn xdp_attach_replace_detach_in_private_netns() {
    std::thread::spawn(|| {
        // SAFETY: unshare of the network namespace affects only this thread.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
        let lo = ifindex("lo").unwrap();
        let pass = common::load(ProgType::Xdp, &[BpfInsn::mov64_imm(0, 2), BpfInsn::exit()], "t_xdp_pass");
        let drop_ = common::load(ProgType::Xdp, &[BpfInsn::mov64_imm(0, 1), BpfInsn::exit()], "t_xdp_drop");
        let pass_id = prog_info(pass.as_fd()).unwrap().id;
        let drop_id = prog_info(drop_.as_fd()).unwrap().id;

        assert_eq!(xdp_query(lo).unwrap().prog_id, 0);
        xdp_attach(lo, Some(pass.as_fd()), XDP_FLAGS_SKB_MODE, None).unwrap();
        let q = xdp_query(lo).unwrap();
        assert_eq!(q.prog_id, pass_id);
        assert_eq!(q.attached, 2, "generic (skb) mode");

        let e = xdp_attach(lo, Some(drop_.as_fd()), XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, None).unwrap_err();
        assert_eq!(e.raw_errno(), Some(libc::EBUSY), "{e}");
        assert!(e.to_string().contains("RTM_SETLINK"), "{e}");

        // Replace with the wrong expected program fails, with the right one succeeds.
        let e = xdp_attach(lo, Some(drop_.as_fd()), XDP_FLAGS_SKB_MODE | XDP_FLAGS_REPLACE, Some(drop_.as_fd())).unwrap_err();
        assert_eq!(e.raw_errno(), Some(libc::EEXIST), "{e}");
        assert!(e.log().is_some(), "kernel extack message expected in {e}");
        xdp_attach(lo, Some(drop_.as_fd()), XDP_FLAGS_SKB_MODE | XDP_FLAGS_REPLACE, Some(pass.as_fd())).unwrap();
        assert_eq!(xdp_query(lo).unwrap().prog_id, drop_id);

        xdp_detach(lo, XDP_FLAGS_SKB_MODE).unwrap();
        assert_eq!(xdp_query(lo).unwrap(), Default::default());
    })
    .join()
    .expect("netlink test thread");
}
