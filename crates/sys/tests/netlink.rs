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
        assert_eq!(
            r,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        let lo = ifindex("lo").unwrap();
        let pass = common::load(
            ProgType::Xdp,
            &[Insn::mov64_imm(0, 2), Insn::exit()],
            "t_xdp_pass",
        );
        let drop_ = common::load(
            ProgType::Xdp,
            &[Insn::mov64_imm(0, 1), Insn::exit()],
            "t_xdp_drop",
        );
        let pass_id = prog_info(pass.as_fd()).unwrap().id;
        let drop_id = prog_info(drop_.as_fd()).unwrap().id;

        assert_eq!(xdp_query(lo).unwrap().prog_id, 0);
        xdp_attach(lo, Some(pass.as_fd()), XDP_FLAGS_SKB_MODE, None).unwrap();
        let q = xdp_query(lo).unwrap();
        assert_eq!(q.prog_id, pass_id);
        assert_eq!(q.attached, 2, "generic (skb) mode");

        let e = xdp_attach(
            lo,
            Some(drop_.as_fd()),
            XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
            None,
        )
        .unwrap_err();
        assert_eq!(e.raw_errno(), Some(libc::EBUSY), "{e}");
        assert!(e.to_string().contains("RTM_SETLINK"), "{e}");

        // Replace with the wrong expected program fails, with the right one succeeds.
        let e = xdp_attach(
            lo,
            Some(drop_.as_fd()),
            XDP_FLAGS_SKB_MODE | XDP_FLAGS_REPLACE,
            Some(drop_.as_fd()),
        )
        .unwrap_err();
        assert_eq!(e.raw_errno(), Some(libc::EEXIST), "{e}");
        assert!(e.log().is_some(), "kernel extack message expected in {e}");
        xdp_attach(
            lo,
            Some(drop_.as_fd()),
            XDP_FLAGS_SKB_MODE | XDP_FLAGS_REPLACE,
            Some(pass.as_fd()),
        )
        .unwrap();
        assert_eq!(xdp_query(lo).unwrap().prog_id, drop_id);

        xdp_detach(lo, XDP_FLAGS_SKB_MODE).unwrap();
        assert_eq!(xdp_query(lo).unwrap(), Default::default());
    })
    .join()
    .expect("netlink test thread");
}

#[test]
fn xdp_and_tcx_links_in_private_netns() {
    std::thread::spawn(|| {
        // SAFETY: unshare of the network namespace affects only this thread.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            r,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        let lo = ifindex("lo").unwrap();

        let xdp = common::load(
            ProgType::Xdp,
            &[Insn::mov64_imm(0, 2), Insn::exit()],
            "t_xdp_link",
        );
        let mut attr = LinkCreateAttr::new(
            xdp.as_fd(),
            AttachTarget::Ifindex(lo as u32),
            AttachType::Xdp,
        );
        attr.flags = XDP_FLAGS_SKB_MODE;
        let link = link_create(&attr).unwrap();
        let (info, details) = link_details(link.as_fd()).unwrap();
        assert_eq!(info.link_type(), Some(LinkType::Xdp));
        assert_eq!(details, info::LinkDetails::Xdp { ifindex: lo as u32 });
        assert_eq!(xdp_query(lo).unwrap().prog_id, info.prog_id);
        // A link-owned XDP program cannot be replaced through netlink.
        assert!(xdp_attach(lo, Some(xdp.as_fd()), XDP_FLAGS_SKB_MODE, None).is_err());
        // LINK_UPDATE swaps the program; LINK_DETACH leaves a defunct link.
        let xdp2 = common::load(
            ProgType::Xdp,
            &[Insn::mov64_imm(0, 2), Insn::exit()],
            "t_xdp_link2",
        );
        link_update(link.as_fd(), xdp2.as_fd(), Some(xdp.as_fd())).unwrap();
        assert_eq!(
            xdp_query(lo).unwrap().prog_id,
            prog_info(xdp2.as_fd()).unwrap().id
        );
        link_detach(link.as_fd()).unwrap();
        assert_eq!(xdp_query(lo).unwrap().prog_id, 0);

        // tcx: two programs, the second inserted before the first. tcx arrived in 6.6;
        // before, link_create must say so clearly (and nothing gets attached).
        let tc1 = common::load(ProgType::SchedCls, &common::ret0(), "t_tcx1");
        let tc2 = common::load(ProgType::SchedCls, &common::ret0(), "t_tcx2");
        let l1 = link_create(&LinkCreateAttr::new(
            tc1.as_fd(),
            AttachTarget::Ifindex(lo as u32),
            AttachType::TcxIngress,
        ));
        assert_eq!(
            probe_feature(Feature::TcxLink),
            common::kernel_at_least(6, 6)
        );
        if !common::kernel_at_least(6, 6) {
            let e = l1.unwrap_err();
            common::assert_link_unsupported(&e, "BPF tcx link support", "6.6");
            let e = prog_query(AttachTarget::Ifindex(lo as u32), AttachType::TcxIngress, 0)
                .unwrap_err();
            assert!(e.is_unsupported(), "{e}");
            return;
        }
        let l1 = l1.unwrap();
        let mut a2 = LinkCreateAttr::new(
            tc2.as_fd(),
            AttachTarget::Ifindex(lo as u32),
            AttachType::TcxIngress,
        );
        a2.flags = consts::BPF_F_BEFORE;
        a2.opts = LinkCreateOpts::Mprog {
            relative: Relative::Fd(tc1.as_fd()),
            expected_revision: 0,
        };
        let l2 = link_create(&a2).unwrap();
        let (_, d) = link_details(l1.as_fd()).unwrap();
        assert_eq!(
            d,
            info::LinkDetails::Tcx {
                ifindex: lo as u32,
                attach_type: AttachType::TcxIngress.as_u32()
            }
        );
        let q = prog_query(AttachTarget::Ifindex(lo as u32), AttachType::TcxIngress, 0).unwrap();
        let id1 = prog_info(tc1.as_fd()).unwrap().id;
        let id2 = prog_info(tc2.as_fd()).unwrap().id;
        assert_eq!(q.prog_ids, vec![id2, id1]);
        assert!(q.revision > 0);
        drop((l1, l2));
    })
    .join()
    .expect("link test thread");
}
