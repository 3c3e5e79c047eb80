//! BPF tokens (Linux 6.9): an object loads and runs in a user namespace, without CAP_BPF in
//! the initial one, with a token from a bpffs whose delegation the privileged parent set up;
//! a map or program type the bpffs does not delegate is refused with an error naming the
//! missing delegation. On kernels before 6.9 (the 5.10/6.1/6.12 guests), asking for a token
//! fails saying that tokens need 6.9.
//!
//! The setup is the kernel selftests' (`prog_tests/token.c`): the test re-runs its own binary
//! as a child (`CHILD_ENV` set) that enters a new user and mount namespace before `exec`
//! (mapping its root to ours, which gives it capabilities in its namespace only) and creates
//! a bpffs context (`fsopen("bpf")`, so the bpffs belongs to its user namespace). It passes
//! the context to the parent over a unix socket; the parent, privileged in the initial
//! namespace, sets `delegate_cmds`/`delegate_maps`/`delegate_progs`/`delegate_attachs`
//! (which only it may), creates the file system and sends back a detached mount, which the
//! child mounts at `/sys/fs/bpf` in its own mount namespace.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use corebpf::sys::SysError;
use corebpf::{Error, ObjectBuilder, TestRun, TOKEN_PATH_ENV};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

const CHILD_ENV: &str = "COREBPF_TOKEN_CHILD";
/// The fd number of the child's end of the socket.
const CHILD_SOCK_FD: RawFd = 3;
/// Printed by a child whose checks all passed (so a filtered-out child cannot pass).
const MARKER: &str = "TOKEN-CHECKS-PASSED";
/// Where the child mounts the delegated bpffs, in its own mount namespace.
const BPFFS: &str = "/sys/fs/bpf";

/// What the parent delegates: the commands an object load needs, array and sockmap maps,
/// XDP programs, any attach type.
const DELEGATION: [(&str, &str); 4] = [
    ("delegate_cmds", "map_create:prog_load:btf_load"),
    ("delegate_maps", "array:sockmap"),
    ("delegate_progs", "xdp"),
    ("delegate_attachs", "any"),
];

fn object(name: &str) -> PathBuf {
    corebpf_testutil::testdata()
        .join("bpf/out/clang19")
        .join(name)
}

fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string()
}

fn kernel_has_tokens() -> bool {
    let version = corebpf::obj::running_kernel_version().expect("kernel version");
    version >= corebpf::obj::kernel_version(6, 9, 0)
}

fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// A kernel before 6.9 has no `BPF_TOKEN_CREATE`: asking for a token says so, naming the
/// version, whatever the path.
#[test]
fn old_kernels_say_tokens_need_6_9() {
    // A temporary directory: no bpffs root, so no kernel makes a token from it.
    let err = ObjectBuilder::new()
        .token(std::env::temp_dir())
        .open_file(object("run_xdp_ethertype.bpf.o"))
        .unwrap()
        .load()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            Error::Token {
                error: SysError::Unsupported { .. },
                ..
            }
        ),
        "{err:?}"
    );
    if kernel_has_tokens() {
        // The same request on this kernel: the directory that is no bpffs root is named.
        assert!(
            text.contains("is not the root of a BPF file system (bpffs) mount"),
            "{text}"
        );
        return;
    }
    assert!(
        text.contains("BPF tokens need Linux 6.9 (BPF_TOKEN_CREATE); this kernel is")
            && text.contains(&release()),
        "{text}"
    );
    // Without a token asked for, the default /sys/fs/bpf is only tried: loads go on.
    ObjectBuilder::new()
        .open_file(object("run_xdp_ethertype.bpf.o"))
        .unwrap()
        .load()
        .unwrap();
}

/// In the initial user namespace the kernel creates no token, even from a bpffs that
/// delegates: asked for, that is the error; not asked for, loading goes on without one.
#[test]
fn initial_namespace_gets_no_token() {
    if !kernel_has_tokens() {
        return; // old_kernels_say_tokens_need_6_9 checks these kernels.
    }
    let parent = std::env::temp_dir().join(format!("corebpf_token_{}", std::process::id()));
    std::fs::create_dir_all(&parent).unwrap();
    let data = DELEGATION
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    nix::mount::mount(
        Some("bpf"),
        &parent,
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        Some(data.as_str()),
    )
    .expect("mount a delegating bpffs");
    let err = ObjectBuilder::new()
        .token(&parent)
        .open_file(object("run_xdp_ethertype.bpf.o"))
        .unwrap()
        .load()
        .unwrap_err();
    let _ = nix::mount::umount2(&parent, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir(&parent);
    let text = err.to_string();
    assert!(
        text.contains(
            "this process is in the initial user namespace, where the kernel creates no BPF tokens"
        ),
        "{text}"
    );
}

/// An object loads and runs in a user namespace with a token, and only with one; an
/// undelegated map type and program type are refused naming the delegation missing.
#[test]
fn token_loads_and_runs_in_a_user_namespace() {
    if !kernel_has_tokens() {
        return; // old_kernels_say_tokens_need_6_9 checks these kernels.
    }
    let (parent_sock, child_sock) = UnixStream::pair().unwrap();
    parent_sock
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let child_raw = child_sock.as_raw_fd();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_token", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env_remove(TOKEN_PATH_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and makes only raw
    // system calls (unshare, open/write/close of static paths, dup2) on data it owns.
    unsafe {
        cmd.pre_exec(move || enter_user_namespace(child_raw));
    }
    let child = cmd.spawn().expect("spawn the child");
    drop(child_sock);
    let served = serve_bpffs(parent_sock.as_fd());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Err(e) = served {
        panic!("setting up the child's bpffs: {e}\n{stdout}\n{stderr}");
    }
    assert!(
        out.status.success() && stdout.contains(MARKER),
        "child_token failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    println!("{stdout}{stderr}");
}

/// In the forked child before exec: a new user and mount namespace with our root mapped to
/// its root, and the socket at fd [`CHILD_SOCK_FD`] (without close-on-exec).
fn enter_user_namespace(sock: RawFd) -> std::io::Result<()> {
    fn check(r: libc::c_int) -> std::io::Result<()> {
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
    fn write_file(path: &std::ffi::CStr, text: &[u8]) -> std::io::Result<()> {
        // SAFETY: open of a NUL-terminated path; the fd is closed below.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        check(fd)?;
        // SAFETY: write of `text`, a live slice, to the fd just opened.
        let n = unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
        // SAFETY: closes the fd opened above.
        unsafe { libc::close(fd) };
        if n != text.len() as isize {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    // SAFETY: unshare takes flags only.
    check(unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) })?;
    write_file(c"/proc/self/setgroups", b"deny")?;
    write_file(c"/proc/self/uid_map", b"0 0 1")?;
    write_file(c"/proc/self/gid_map", b"0 0 1")?;
    // SAFETY: dup2 of a socket fd this process holds onto a fixed number.
    check(unsafe { libc::dup2(sock, CHILD_SOCK_FD) })
}

/// The parent's side: receives the child's bpffs context, sets the delegation, creates the
/// file system and sends back a detached mount of it.
fn serve_bpffs(sock: BorrowedFd<'_>) -> Result<(), String> {
    let fs = recv_fd(sock).map_err(|e| format!("receiving the bpffs context: {e}"))?;
    for (key, value) in DELEGATION {
        fsconfig_string(fs.as_fd(), key, value).map_err(|e| format!("{key}={value}: {e}"))?;
    }
    // SAFETY: fsconfig(FSCONFIG_CMD_CREATE) with no key or value.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if r < 0 {
        return Err(format!(
            "creating the bpffs: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: fsmount of the configured context; the result is a new fd owned here.
    let mnt = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    if mnt < 0 {
        return Err(format!("fsmount: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `mnt` is a new fd nothing else owns.
    let mnt = unsafe { OwnedFd::from_raw_fd(mnt as RawFd) };
    send_fd(sock, mnt.as_fd()).map_err(|e| format!("sending the mount: {e}"))
}

const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn fsconfig_string(fs: BorrowedFd<'_>, key: &str, value: &str) -> std::io::Result<()> {
    let key = std::ffi::CString::new(key).unwrap();
    let value = std::ffi::CString::new(value).unwrap();
    // SAFETY: fsconfig(FSCONFIG_SET_STRING) with two NUL-terminated strings alive here.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> nix::Result<()> {
    let fds = [fd.as_raw_fd()];
    let iov = [IoSlice::new(b"x")];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

fn recv_fd(sock: BorrowedFd<'_>) -> Result<OwnedFd, String> {
    let mut buf = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| e.to_string())?;
    for c in msg.cmsgs().map_err(|e| e.to_string())? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel installed this fd for us; nothing else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err("no fd in the message (the child exited?)".into())
}

/// The child: gets the delegated bpffs from the parent, mounts it at [`BPFFS`] in its own
/// mount namespace, and checks loading with and without a token.
#[test]
fn child_token() {
    if !is_child() {
        return;
    }
    let _ = env_logger::builder().is_test(true).try_init();
    // SAFETY: fd 3 is the socket the parent left for this process, owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(CHILD_SOCK_FD) };
    let none = None::<&str>;
    nix::mount::mount(
        none,
        "/",
        none,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        none,
    )
    .expect("make mounts private");
    // SAFETY: fsopen of a NUL-terminated name; the result is a new fd owned here.
    let fs = unsafe {
        libc::syscall(
            libc::SYS_fsopen,
            c"bpf".as_ptr(),
            1, /* FSOPEN_CLOEXEC */
        )
    };
    assert!(fs >= 0, "fsopen(bpf): {}", std::io::Error::last_os_error());
    // SAFETY: `fs` is a new fd nothing else owns.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as RawFd) };
    // Only the initial namespace may delegate.
    let e = fsconfig_string(fs.as_fd(), "delegate_cmds", "any").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
    send_fd(sock.as_fd(), fs.as_fd()).expect("send the bpffs context");
    drop(fs);
    let mnt = recv_fd(sock.as_fd()).expect("receive the delegated bpffs");
    // SAFETY: move_mount of the detached mount (by fd) onto a NUL-terminated path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c"/sys/fs/bpf".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    assert_eq!(r, 0, "move_mount: {}", std::io::Error::last_os_error());
    check_loads_with_token_only();
    println!("loaded and ran run_xdp_ethertype with the token, and not without");
    check_token_path_rules();
    println!("token path rules: builder, LIBBPF_BPF_TOKEN_PATH, default /sys/fs/bpf");
    check_undelegated_types_are_named();
    println!("undelegated map and program types named");
    println!("{MARKER}");
}

/// Loads `run_xdp_ethertype` with `builder`, runs it on an IPv4 frame and checks its verdict
/// (XDP_PASS) and counter.
fn load_and_run(builder: ObjectBuilder) -> Result<(), Error> {
    let obj = builder
        .open_file(object("run_xdp_ethertype.bpf.o"))?
        .load()?;
    let mut frame = [0u8; 64];
    frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let out = obj.try_program("xdp_ethertype")?.test_run(&TestRun {
        data: &frame,
        ..Default::default()
    })?;
    assert_eq!(out.retval, 2, "XDP_PASS for an IPv4 frame");
    let ipv4 = obj
        .try_map("counts")?
        .lookup(&0u32.to_ne_bytes(), 0)?
        .expect("counts[0]");
    assert_eq!(u64::from_ne_bytes(ipv4.try_into().unwrap()), 1);
    Ok(())
}

fn check_loads_with_token_only() {
    // No CAP_BPF in the initial namespace: without the token nothing loads.
    let err = load_and_run(ObjectBuilder::new().token("")).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, Error::Map { error, .. } if error.is_permission()),
        "without a token: {text}"
    );
    load_and_run(ObjectBuilder::new().token(BPFFS)).expect("with the token");
}

/// libbpf's rules: the builder's path, else `LIBBPF_BPF_TOKEN_PATH` (empty: none), else the
/// default `/sys/fs/bpf` if it delegates.
fn check_token_path_rules() {
    // The default path delegates here: a token without asking.
    load_and_run(ObjectBuilder::new()).expect("default /sys/fs/bpf token");
    std::env::set_var(TOKEN_PATH_ENV, "");
    let err = load_and_run(ObjectBuilder::new()).unwrap_err();
    assert!(err.to_string().contains("EPERM"), "{err}");
    std::env::set_var(TOKEN_PATH_ENV, BPFFS);
    load_and_run(ObjectBuilder::new()).expect("LIBBPF_BPF_TOKEN_PATH token");
    // The builder's path wins over the variable.
    let err = load_and_run(ObjectBuilder::new().token("")).unwrap_err();
    assert!(err.to_string().contains("EPERM"), "{err}");
    std::env::set_var(TOKEN_PATH_ENV, "/proc");
    let err = load_and_run(ObjectBuilder::new()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "BPF token from /proc: BPF token: /proc is not the root of a BPF file system (bpffs) mount"
        ),
        "{err}"
    );
    std::env::remove_var(TOKEN_PATH_ENV);
}

fn check_undelegated_types_are_named() {
    // run_tailcall's jmp_table is a prog array, which the token does not delegate.
    let err = ObjectBuilder::new()
        .token(BPFFS)
        .open_file(object("run_tailcall.bpf.o"))
        .unwrap()
        .load()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, Error::Map { map, error: SysError::TokenRefused { .. }, .. } if map == "jmp_table"),
        "{err:?}"
    );
    assert!(
        text.ends_with(
            "BPF_MAP_CREATE failed: EPERM (Operation not permitted) with a BPF token: the BPF \
             token does not delegate map type prog_array (delegate_maps=prog_array; the token \
             delegates array:sockmap)"
        ),
        "{text}"
    );
    // attach_net's maps are delegated, its tc program's type is not.
    let mut open = ObjectBuilder::new()
        .token(BPFFS)
        .open_file(object("attach_net.bpf.o"))
        .unwrap();
    open.load_only(&["tc_udp"]).unwrap();
    let err = open.load().unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, Error::Program { prog, error: SysError::TokenRefused { .. } } if prog == "tc_udp"),
        "{err:?}"
    );
    assert_eq!(
        text,
        "program 'tc_udp': BPF_PROG_LOAD failed: EPERM (Operation not permitted) with a BPF \
         token: the BPF token does not delegate program type sched_cls \
         (delegate_progs=sched_cls; the token delegates xdp)"
    );
    // Its XDP program is delegated.
    let mut open = ObjectBuilder::new()
        .token(BPFFS)
        .open_file(object("attach_net.bpf.o"))
        .unwrap();
    open.load_only(&["xdp_udp"]).unwrap();
    open.load()
        .expect("attach_net's XDP program with the token");
}
