//! Program loading, test runs, verifier logs, pinning, raw tracepoints and BTF against
//! the real kernel.

mod common;

use std::os::fd::AsFd;

use corebpf_sys::insn::{class, jmp, size, src};
use corebpf_sys::*;

/// XDP: if the packet has 4 bytes, return `*(u32 *)data + 42` and set `data[0] = 0xab`;
/// otherwise `XDP_DROP`.
fn xdp_add42() -> Vec<Insn> {
    vec![
        Insn::ldx_mem(size::W, 2, 1, 0),
        Insn::ldx_mem(size::W, 3, 1, 4),
        Insn::mov64_reg(4, 2),
        Insn::add64_imm(4, 4),
        Insn::new(class::JMP | jmp::JGT | src::X, 4, 3, 4, 0), // if r4 > r3 goto +4
        Insn::ldx_mem(size::W, 0, 2, 0),
        Insn::add64_imm(0, 42),
        Insn::st_mem(size::B, 2, 0, 0xab),
        Insn::exit(),
        Insn::mov64_imm(0, 1),
        Insn::exit(),
    ]
}

#[test]
fn xdp_test_run_returns_value_and_data() {
    let prog = common::load(ProgType::Xdp, &xdp_add42(), "t_xdp_add42");
    let mut data = vec![0u8; 64];
    data[..4].copy_from_slice(&1000u32.to_ne_bytes());
    let mut out = vec![0u8; 128];
    let r = prog_test_run(
        prog.as_fd(),
        TestRunOpts {
            data_in: &data,
            data_out: Some(&mut out),
            repeat: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.retval, 1042);
    assert_eq!(r.data_size_out, 64);
    assert_eq!(out[0], 0xab);
    assert_eq!(&out[1..64], &data[1..64]);

    let info = prog_info(prog.as_fd()).unwrap();
    assert_eq!(info.name(), "t_xdp_add42");
    assert_eq!(info.prog_type(), Some(ProgType::Xdp));
    assert!(info.gpl_compatible());
    assert!(all_ids(ObjKind::Prog).unwrap().contains(&info.id));
}

#[test]
fn socket_filter_sees_skb_len() {
    // r0 = skb->len + 42
    let prog = common::load(
        ProgType::SocketFilter,
        &[
            Insn::ldx_mem(size::W, 0, 1, 0),
            Insn::add64_imm(0, 42),
            Insn::exit(),
        ],
        "t_sock_len",
    );
    let data = vec![0u8; 100];
    let r = prog_test_run(
        prog.as_fd(),
        TestRunOpts {
            data_in: &data,
            ..Default::default()
        },
    )
    .unwrap();
    // The Ethernet header is pulled before a socket filter runs.
    assert_eq!(r.retval, 100 - 14 + 42);
}

#[test]
fn verifier_rejection_carries_the_log() {
    // r0 = r2 (uninitialized); exit
    let insns = [Insn::mov64_reg(0, 2), Insn::exit()];
    let bytes = Insn::encode_all(&insns);
    let attr = ProgLoadAttr {
        prog_type: ProgType::SocketFilter,
        insns: &bytes,
        license: c"GPL",
        name: "t_bad",
        ..Default::default()
    };
    let e = prog_load(&attr, None).unwrap_err();
    assert_eq!(e.raw_errno(), Some(libc::EACCES), "{e}");
    let log = e.log().expect("verifier log in the error");
    assert!(log.contains("R2 !read_ok"), "log: {log}");
    let shown = e.to_string();
    assert!(
        shown.contains("BPF_PROG_LOAD") && shown.contains("R2 !read_ok"),
        "{shown}"
    );

    // With a caller buffer the log lands there too.
    let mut buf = vec![0u8; 4096];
    let e = prog_load(&attr, Some(&mut buf)).unwrap_err();
    assert!(e.log().unwrap().contains("R2 !read_ok"));
    assert!(String::from_utf8_lossy(&buf).contains("R2 !read_ok"));

    // Malformed input is refused before the kernel.
    let e = prog_load(
        &ProgLoadAttr {
            insns: &bytes[..5],
            ..attr
        },
        None,
    )
    .unwrap_err();
    assert!(matches!(e, SysError::InvalidInput { .. }), "{e}");
}

#[test]
fn successful_load_with_log_level_fills_buffer() {
    let bytes = Insn::encode_all(&common::ret0());
    let mut buf = vec![0u8; 64 * 1024];
    let fd = prog_load(
        &ProgLoadAttr {
            prog_type: ProgType::SocketFilter,
            insns: &bytes,
            license: c"MIT",
            log_level: consts::BPF_LOG_LEVEL2,
            ..Default::default()
        },
        Some(&mut buf),
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&buf).contains("processed 2 insns"));
    assert!(!prog_info(fd.as_fd()).unwrap().gpl_compatible());
}

#[test]
fn pin_and_reopen_map() {
    common::ensure_bpffs();
    let m = common::map(MapType::Hash, 4, 12, 7, "t_pinned");
    let path = std::path::PathBuf::from(format!(
        "/sys/fs/bpf/corebpf_sys_test_{}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    obj_pin(m.as_fd(), &path).unwrap();
    let e = obj_pin(m.as_fd(), &path).unwrap_err();
    assert_eq!(e.raw_errno(), Some(libc::EEXIST), "{e}");
    let fd = obj_get(&path, 0).unwrap();
    let info = map_info(fd.as_fd()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(info.name(), "t_pinned");
    assert_eq!(info.map_type(), Some(MapType::Hash));
    assert_eq!(
        (info.key_size, info.value_size, info.max_entries),
        (4, 12, 7)
    );
    assert_eq!(info.id, m.info().id);
    let e = obj_get(&path, 0).unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(e.to_string().contains("BPF_OBJ_GET"), "{e}");
}

#[test]
fn raw_tracepoint_link_runs_on_sys_enter() {
    let prog = common::load(ProgType::RawTracepoint, &common::ret0(), "t_rawtp");
    let _stats = enable_stats(StatsType::RunTime).unwrap();
    let link = raw_tracepoint_open(Some(c"sys_enter"), prog.as_fd(), 0).unwrap();
    let (info, details) = link_details(link.as_fd()).unwrap();
    assert_eq!(info.link_type(), Some(LinkType::RawTracepoint));
    assert_eq!(info.prog_id, prog_info(prog.as_fd()).unwrap().id);
    assert_eq!(
        details,
        info::LinkDetails::RawTracepoint {
            tp_name: "sys_enter".into(),
            cookie: 0
        }
    );
    for _ in 0..10 {
        let _ = std::fs::metadata("/");
    }
    let runs = prog_info(prog.as_fd()).unwrap().run_cnt;
    assert!(runs >= 10, "program ran {runs} times");
    // Raw tracepoint links cannot be detached explicitly (EOPNOTSUPP); closing detaches.
    let e = link_detach(link.as_fd()).unwrap_err();
    assert_eq!(e.raw_errno(), Some(libc::EOPNOTSUPP), "{e}");
    drop(link);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let before = prog_info(prog.as_fd()).unwrap().run_cnt;
    for _ in 0..10 {
        let _ = std::fs::metadata("/");
    }
    assert_eq!(
        prog_info(prog.as_fd()).unwrap().run_cnt,
        before,
        "program still runs after the link was closed"
    );
}

/// A raw BTF blob: header + types + strings (hand-encoded, little-endian host).
pub fn btf_blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
    out.push(1); // version
    out.push(0); // flags
    out.extend_from_slice(&24u32.to_ne_bytes()); // hdr_len
    out.extend_from_slice(&0u32.to_ne_bytes()); // type_off
    out.extend_from_slice(&((types.len() * 4) as u32).to_ne_bytes());
    out.extend_from_slice(&((types.len() * 4) as u32).to_ne_bytes()); // str_off
    out.extend_from_slice(&(strings.len() as u32).to_ne_bytes());
    for t in types {
        out.extend_from_slice(&t.to_ne_bytes());
    }
    out.extend_from_slice(strings);
    out
}

#[test]
fn btf_load_and_info() {
    // [1] int "int" size 4, signed 32 bits; [2] struct "pair" { int a; int b; } size 8
    let strings = b"\0int\0pair\0a\0b\0";
    let types = [
        1,
        1 << 24,
        4,
        (1 << 24) | 32, // INT
        5,
        (4 << 24) | 2,
        8, // STRUCT pair, vlen 2
        10,
        1,
        0, // member a: type 1, offset 0 bits
        12,
        1,
        32, // member b: type 1, offset 32 bits
    ];
    let blob = btf_blob(&types, strings);
    let fd = btf_load(&blob, None, 0).unwrap();
    let info = btf_info(fd.as_fd()).unwrap();
    assert_eq!(info.btf_size as usize, blob.len());
    assert_eq!(info.kernel_btf, 0);
    // On 5.10 the kernel's bpf_btf_info ends before `name`: btf_data must not pass a
    // name buffer there (E2BIG), and the name of user BTF is empty everywhere.
    let (name, data) = btf_data(fd.as_fd()).unwrap();
    assert_eq!(data, blob);
    assert_eq!(name, "");

    // A map typed by that BTF.
    let m = MapFd::create(&MapCreateAttr {
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        name: "t_btf_map",
        btf_fd: Some(fd.as_fd()),
        btf_key_type_id: 1,
        btf_value_type_id: 2,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(m.info().btf_id, info.id);
    assert_eq!(m.info().btf_value_type_id, 2);

    // Broken BTF: member refers to a missing type; the error has the kernel's log.
    let bad = btf_blob(&[5, (4 << 24) | 1, 4, 10, 7, 0], strings);
    let e = btf_load(&bad, None, 0).unwrap_err();
    assert_eq!(e.raw_errno(), Some(libc::EINVAL), "{e}");
    assert!(e.log().is_some(), "no BTF log in {e}");
    assert!(e.to_string().contains("BPF_BTF_LOAD"));
}

#[test]
fn vmlinux_btf_is_visible_by_id() {
    // Kernel BTF got an id (and bpf_btf_info its name and kernel_btf) in 5.11.
    let has_ids = common::kernel_at_least(5, 11);
    let file = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
    let mut found = false;
    let mut seen = 0;
    for id in all_ids(ObjKind::Btf).unwrap() {
        let Ok(fd) = btf_get_fd_by_id(id) else {
            continue;
        };
        seen += 1;
        let info = btf_info(fd.as_fd()).unwrap();
        assert_eq!(info.id, id);
        let (name, data) = btf_data(fd.as_fd()).unwrap();
        assert_eq!(data.len(), info.btf_size as usize);
        if info.kernel_btf != 0 {
            assert!(has_ids, "kernel BTF {id} ('{name}') reported before 5.11");
            if name == "vmlinux" {
                assert_eq!(data.len(), file.len());
                found = true;
            }
        } else if !has_ids {
            // Before 5.11 there are no names and no kernel BTF objects, only loaded ones,
            // none of which is vmlinux.
            assert_eq!(name, "");
            assert!(data != file, "BTF {id} is vmlinux BTF, before 5.11");
        }
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("BTF objects by id: {seen}, vmlinux among them: {found}\n").as_bytes(),
    );
    assert_eq!(
        found, has_ids,
        "vmlinux BTF visible by id: {found}, expected {has_ids} (ids since 5.11)"
    );
}

#[test]
fn socket_filter_attaches_to_a_socket_and_detaches() {
    let prog = common::load(ProgType::SocketFilter, &common::ret0(), "t_sock_att");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket::attach_bpf(sock.as_fd(), prog.as_fd()).unwrap();
    socket::detach_bpf(sock.as_fd()).unwrap();
    // Nothing left to detach.
    let e = socket::detach_bpf(sock.as_fd()).unwrap_err();
    assert_eq!(e.raw_errno(), Some(libc::ENOENT), "{e}");
    assert!(e.to_string().contains("setsockopt(SO_DETACH_BPF)"), "{e}");
    // A program fd that is no program is refused.
    let e = socket::attach_bpf(sock.as_fd(), sock.as_fd()).unwrap_err();
    assert!(e.to_string().contains("setsockopt(SO_ATTACH_BPF)"), "{e}");
}
