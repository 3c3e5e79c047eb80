//! struct_ops for real: a TCP congestion control written in BPF (testdata
//! `struct_ops_cc*.bpf.c`) is registered, chosen by a socket with
//! `setsockopt(TCP_CONGESTION)`, moves data over loopback in a fresh network namespace,
//! and its callbacks are counted; it is unregistered when its link drops, replaced through
//! a `.struct_ops.link` link, and the libbpf rules on which programs load are checked.
//!
//! Kernels: `.struct_ops` TCP congestion control with the Reno kfuncs needs Linux 5.13
//! (kfunc calls from struct_ops programs); `.struct_ops.link` maps need 6.4. Older kernels
//! must give corebpf's clear error instead (the 5.10 and 6.1 guests check that).

mod attach_util;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;

use attach_util::object_path;
use corebpf::{Object, ObjectBuilder};

/// `calls[]` slots (struct_ops_cc.h).
const INIT: usize = 0;
const CONG_AVOID: usize = 2;
const CONG_AVOID_TWO: usize = 3;

/// The tests register congestion controls by name, system-wide: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let r = nix::sys::utsname::uname().unwrap();
    let rel = r.release().to_string_lossy().into_owned();
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let maj: u32 = it.next().unwrap().parse().unwrap();
    let min: u32 = it.next().unwrap().parse().unwrap();
    (maj, min) >= (major, minor)
}

fn calls(obj: &Object) -> Vec<u64> {
    obj.read_global("calls")
        .unwrap()
        .chunks(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

fn available() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control").unwrap()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Sends `bytes` over loopback from a socket using congestion control `cc`, in a new
/// network namespace (a thread of its own, which unshares it); returns what the kernel
/// reports as the socket's congestion control, or the setsockopt error.
fn transfer(cc: &str, bytes: usize) -> Result<String, nix::Error> {
    let cc = cc.to_string();
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        // Children inherit this thread's namespace: bring its loopback up.
        let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("no ip(8)");
        let st = std::process::Command::new(ip)
            .args(["link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(st.success(), "ip link set lo up");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0;
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n;
            }
            total
        });
        let mut client = TcpStream::connect(addr).unwrap();
        use nix::sys::socket::{getsockopt, setsockopt, sockopt::TcpCongestion};
        if let Err(e) = setsockopt(&client.as_fd(), TcpCongestion, &cc.clone().into()) {
            drop(client);
            server.join().unwrap();
            return Err(e);
        }
        let chunk = vec![7u8; 1 << 16];
        let mut sent = 0;
        while sent < bytes {
            client.write_all(&chunk).unwrap();
            sent += chunk.len();
        }
        let got = getsockopt(&client.as_fd(), TcpCongestion).unwrap();
        drop(client);
        assert_eq!(server.join().unwrap(), sent, "every byte arrived");
        Ok(got.to_string_lossy().trim_end_matches('\0').to_string())
    })
    .join()
    .unwrap()
}

/// Loads `name`, or asserts corebpf's clear error where the kernel is too old
/// (`None` then).
fn load_cc(name: &str) -> Option<Object> {
    let r = Object::load_file(object_path(&format!("{name}.bpf.o")));
    if !kernel_at_least(5, 13) {
        let e = r.expect_err("struct_ops programs calling kfuncs need Linux 5.13");
        let text = e.to_string();
        assert!(text.contains("tcp_reno"), "{text}");
        return None;
    }
    Some(r.unwrap_or_else(|e| panic!("{name}: {e}")))
}

#[test]
fn struct_ops_tcp_congestion_control_registers_runs_and_unregisters() {
    let _serial = serial();
    let Some(obj) = load_cc("struct_ops_cc") else {
        return;
    };
    let map = obj.map("corebpf_cc").unwrap();
    let (ty, members) = map.struct_ops_members().unwrap();
    assert_eq!(ty, "tcp_congestion_ops");
    assert!(
        members.contains(&("cong_avoid", "cc_cong_avoid")),
        "{members:?}"
    );
    let link = map.attach_struct_ops().unwrap();
    assert!(
        !link.is_bpf_link(),
        ".struct_ops: registered by writing the value"
    );
    assert!(available().contains("corebpf_cc"), "{}", available());
    let before = calls(&obj);
    assert_eq!(transfer("corebpf_cc", 8 << 20).unwrap(), "corebpf_cc");
    let after = calls(&obj);
    assert!(after[INIT] > before[INIT], "init ran: {after:?}");
    assert!(
        after[CONG_AVOID] > before[CONG_AVOID],
        "cong_avoid ran: {after:?}"
    );
    drop(link);
    assert!(!available().contains("corebpf_cc"), "{}", available());
    let e = transfer("corebpf_cc", 1).unwrap_err();
    assert_eq!(e, nix::Error::ENOENT, "no such congestion control any more");
}

#[test]
fn struct_ops_link_registers_and_is_replaced_through_the_link() {
    let _serial = serial();
    let r = Object::load_file(object_path("struct_ops_cc_link.bpf.o"));
    if !kernel_at_least(6, 4) {
        let text = r.expect_err(".struct_ops.link needs 6.4").to_string();
        assert!(
            text.contains("ccl_one") || text.contains("tcp_reno"),
            "{text}"
        );
        return;
    }
    let obj = r.unwrap();
    let mut link = obj.attach_struct_ops("ccl_one").unwrap();
    assert!(link.is_bpf_link());
    assert!(available().contains("corebpf_ccl"));
    transfer("corebpf_ccl", 4 << 20).unwrap();
    let one = calls(&obj);
    assert!(one[CONG_AVOID] > 0 && one[CONG_AVOID_TWO] == 0, "{one:?}");
    link.update_map(obj.map("ccl_two").unwrap()).unwrap();
    assert!(
        available().contains("corebpf_ccl"),
        "still registered after the swap"
    );
    transfer("corebpf_ccl", 4 << 20).unwrap();
    let two = calls(&obj);
    assert!(two[CONG_AVOID_TWO] > 0, "ccl_two's cong_avoid ran: {two:?}");
    assert_eq!(
        two[CONG_AVOID], one[CONG_AVOID],
        "ccl_one's no longer: {two:?}"
    );
    // A legacy .struct_ops map has no link to update.
    drop(link);
    assert!(!available().contains("corebpf_ccl"), "{}", available());
}

#[test]
fn attach_all_registers_struct_ops_maps() {
    let _serial = serial();
    let Some(obj) = load_cc("struct_ops_cc") else {
        return;
    };
    let links = obj.attach_all().unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(available().contains("corebpf_cc"));
    drop(links);
    assert!(!available().contains("corebpf_cc"));
}

#[test]
fn struct_ops_which_programs_load() {
    let _serial = serial();
    if !kernel_at_least(5, 13) {
        return; // load_cc's error check covers old kernels.
    }
    let path = object_path("struct_ops_unused.bpf.o");
    // A struct_ops program no map uses: libbpf's error, naming it.
    let e = Object::load_file(&path).unwrap_err().to_string();
    assert!(
        e.contains("cc_stray") && e.contains("isn't referenced by any struct_ops map"),
        "{e}"
    );
    let mut open = ObjectBuilder::new().open_file(&path).unwrap();
    open.set_autoload("cc_stray", false).unwrap();
    let obj = open.load().unwrap();
    assert!(obj.program("cc_init").is_some());
    assert!(obj.program("cc_stray").is_none());
    // ?.struct_ops: not created, so its own program is not loaded either.
    assert!(obj.map("cc_optional").is_none());
    assert!(obj.program("cc_optional_init").is_none());
    drop(obj);
    let mut open = ObjectBuilder::new().open_file(&path).unwrap();
    open.set_autoload("cc_stray", false).unwrap();
    open.set_autocreate("cc_optional", true).unwrap();
    let obj = open.load().unwrap();
    assert!(obj.map("cc_optional").is_some());
    assert!(obj.program("cc_optional_init").is_some());
}

#[test]
fn struct_ops_user_space_changes_and_missing_members() {
    let _serial = serial();
    if !kernel_at_least(5, 13) {
        return;
    }
    let path = object_path("struct_ops_cc.bpf.o");
    // A member no kernel has, set: the error names the map, the member and the kernel.
    let mut open = ObjectBuilder::new().open_file(&path).unwrap();
    open.set_struct_ops_program("corebpf_cc", "corebpf_future_op", Some("cc_init"))
        .unwrap();
    let e = open.load().unwrap_err().to_string();
    assert!(
        e.contains("map 'corebpf_cc'")
            && e.contains("member 'corebpf_future_op'")
            && e.contains("has no such member"),
        "{e}"
    );
    // A new name set before load is what registers.
    let mut open = ObjectBuilder::new().open_file(&path).unwrap();
    let name = open.struct_ops_data_mut("corebpf_cc", "name").unwrap();
    name.fill(0);
    name[..10].copy_from_slice(b"corebpf_c2");
    let obj = open.load().unwrap();
    let link = obj.attach_struct_ops("corebpf_cc").unwrap();
    assert!(available().contains("corebpf_c2"), "{}", available());
    assert_eq!(transfer("corebpf_c2", 1 << 20).unwrap(), "corebpf_c2");
    drop(link);
}

#[test]
fn struct_ops_register_cycles_leak_no_fds() {
    let _serial = serial();
    let Some(obj) = load_cc("struct_ops_cc") else {
        return;
    };
    // A .struct_ops map registers once: the kernel refuses to reuse it, and corebpf says so.
    drop(obj.attach_struct_ops("corebpf_cc").unwrap());
    let e = obj.attach_struct_ops("corebpf_cc").unwrap_err().to_string();
    assert!(e.contains("registers only once"), "{e}");
    drop(obj);
    let cycle = || {
        let obj = Object::load_file(object_path("struct_ops_cc.bpf.o")).unwrap();
        drop(obj.attach_struct_ops("corebpf_cc").unwrap());
    };
    cycle();
    let before = open_fds();
    for _ in 0..5 {
        cycle();
    }
    assert_eq!(open_fds(), before);
    // A .struct_ops.link map registers again and again through new links.
    if kernel_at_least(6, 4) {
        let obj = Object::load_file(object_path("struct_ops_cc_link.bpf.o")).unwrap();
        drop(obj.attach_struct_ops("ccl_one").unwrap());
        let before = open_fds();
        for _ in 0..20 {
            let link = obj.attach_struct_ops("ccl_one").unwrap();
            assert!(available().contains("corebpf_ccl"));
            drop(link);
        }
        assert_eq!(open_fds(), before);
        assert!(!available().contains("corebpf_ccl"));
    }
}

/// Polls `path` until it reads `want` (trimmed), for up to 10 s; what it last read.
fn wait_for(path: &str, want: &str) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        last = std::fs::read_to_string(path).unwrap_or_default();
        if last.trim() == want {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    last.trim().to_string()
}

fn global_u64(obj: &Object, name: &str) -> u64 {
    u64::from_ne_bytes(obj.read_global(name).unwrap()[..8].try_into().unwrap())
}

/// A sched_ext scheduler (testdata `sched_ext_minimal.bpf.c`) where the kernel has
/// sched_ext (Debian's 7.2 guest: `cargo xtask vm-test --kernel 7.2`): registered through
/// its link, tasks run on it, and it is gone when the link drops. Elsewhere (built without
/// `CONFIG_SCHED_CLASS_EXT`, as this host and the 5.10 to 6.12 guests) the load fails
/// naming the missing ops type.
#[test]
fn struct_ops_sched_ext_scheduler_runs_tasks_until_its_link_drops() {
    let _serial = serial();
    let path = object_path("sched_ext_minimal.bpf.o");
    let has_scx = std::path::Path::new("/sys/kernel/sched_ext/state").exists();
    let r = Object::load_file(&path);
    if !has_scx {
        let e = r.expect_err("no sched_ext in this kernel").to_string();
        assert!(
            e.contains("minimal_ops") && e.contains("has no struct_ops type 'sched_ext_ops'"),
            "{e}"
        );
        return;
    }
    let obj = r.unwrap();
    assert_eq!(
        wait_for("/sys/kernel/sched_ext/state", "disabled"),
        "disabled"
    );
    let link = obj.attach_struct_ops("minimal_ops").unwrap();
    assert!(link.is_bpf_link(), "sched_ext registers through a link");
    assert_eq!(
        wait_for("/sys/kernel/sched_ext/state", "enabled"),
        "enabled"
    );
    let ops = std::fs::read_to_string("/sys/kernel/sched_ext/root/ops").unwrap_or_default();
    assert_eq!(ops.trim(), "corebpf_minimal");
    // Give the scheduler work: threads that sleep and wake.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..20 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let (enqueued, ran) = (global_u64(&obj, "enqueued"), global_u64(&obj, "ran"));
    assert!(enqueued > 0 && ran > 0, "enqueued {enqueued}, ran {ran}");
    drop(link);
    assert_eq!(
        wait_for("/sys/kernel/sched_ext/state", "disabled"),
        "disabled"
    );
    let kind = i32::from_ne_bytes(
        obj.read_global("exit_kind").unwrap()[..4]
            .try_into()
            .unwrap(),
    );
    assert_eq!(
        kind, 64,
        "exit kind SCX_EXIT_UNREG (unregistered from user space)"
    );
}
