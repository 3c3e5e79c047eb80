//! Deployment as in a container: no kernel config (`/boot` empty, `/proc/config.gz` hidden),
//! no tracefs or debugfs mounted, and a tmpfs where bpffs should be at `/sys/fs/bpf`.
//!
//! Each test re-runs its own binary in a child (`CHILD_ENV` set) whose test thread unshares
//! its mount namespace, makes every mount private and builds that container view; the host's
//! mounts are untouched. In it:
//! - `obj_externs_linux`'s LINUX_* externs resolve without the config, a weak CONFIG_* reads
//!   0, and a bpffs is mounted for its pinned map (root may mount);
//! - a strong CONFIG_* extern fails with [`ObjError::NoKernelConfig`] naming every path tried;
//! - a tracepoint attaches: corebpf mounts tracefs at `/sys/kernel/tracing`;
//! - without CAP_SYS_ADMIN (no mounting), pinning fails with [`PinError::BpffsMount`].

use std::fs::File;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use corebpf::obj::ObjError;
use corebpf::pin::{is_bpffs, PinError, DEFAULT_BPFFS};
use corebpf::{Object, ObjectBuilder, TestRun};
use nix::mount::{mount, umount2, MntFlags, MsFlags};

const CHILD_ENV: &str = "COREBPF_CONTAINER_CHILD";
/// Printed by a child whose checks all passed (so a filtered-out child cannot pass).
const MARKER: &str = "CONTAINER-CHECKS-PASSED";
/// Where tracefs is looked for (and mounted, the first).
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

fn object() -> PathBuf {
    testdata().join("bpf/out/clang19/obj_externs_linux.bpf.o")
}

fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string()
}

/// Runs child test `helper` of this binary in its own process and checks it passed.
fn run_in_container(helper: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", helper, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(MARKER),
        "{helper} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// This thread's mounts as (mount point, file system type), from `/proc/thread-self`
/// (`/proc/self` would show the main thread's namespace).
fn mounts() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
    text.lines()
        .filter_map(|l| {
            let point = l.split(' ').nth(4)?;
            let (_, after) = l.split_once(" - ")?;
            Some((point.to_string(), after.split(' ').next()?.to_string()))
        })
        .collect()
}

/// The container view, for this thread: private mounts, an empty `/boot`, an unopenable
/// `/proc/config.gz`, no tracefs or debugfs, and a tmpfs at `/sys/fs/bpf`.
fn enter_container() {
    // RUST_LOG=debug shows what corebpf looked for and mounted.
    let _ = env_logger::builder().is_test(true).try_init();
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
    let none = None::<&str>;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).expect("private /");
    if Path::new("/boot").is_dir() {
        mount(
            Some("tmpfs"),
            "/boot",
            Some("tmpfs"),
            MsFlags::empty(),
            none,
        )
        .expect("/boot");
    }
    hide_proc_config_gz();
    unmount_all(&["tracefs", "debugfs"]);
    mount(
        Some("tmpfs"),
        DEFAULT_BPFFS,
        Some("tmpfs"),
        MsFlags::empty(),
        none,
    )
    .expect("bpffs");

    assert!(!Path::new(&format!("/boot/config-{}", release())).exists());
    assert!(File::open("/proc/config.gz").is_err());
    for root in TRACEFS {
        assert!(
            !Path::new(root).join("events").exists(),
            "{root} still there"
        );
    }
    assert!(!is_bpffs(DEFAULT_BPFFS).unwrap());
}

/// Makes opening `/proc/config.gz` fail, as if it did not exist: a unix socket is bound
/// over it (opening a socket file gives ENXIO). procfs files cannot be removed, and an empty
/// file over it would be an (empty) config.
fn hide_proc_config_gz() {
    let gz = Path::new("/proc/config.gz");
    if !gz.exists() {
        println!("this kernel has no /proc/config.gz: nothing to hide");
        return;
    }
    let sock = std::env::temp_dir().join(format!("corebpf_container_{}", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).unwrap();
    let none = None::<&str>;
    mount(Some(&sock), gz, none, MsFlags::MS_BIND, none).expect("bind over /proc/config.gz");
    drop(listener);
    // The bind mount keeps the socket's inode: its name can go.
    std::fs::remove_file(&sock).unwrap();
}

/// Unmounts every mount of these file system types, innermost first.
fn unmount_all(fstypes: &[&str]) {
    let mut points: Vec<String> = mounts()
        .into_iter()
        .filter(|(_, t)| fstypes.contains(&t.as_str()))
        .map(|(p, _)| p)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        // An inner mount may have gone with its parent already.
        match umount2(p.as_str(), MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
            Err(e) => panic!("umount {p}: {e}"),
        }
    }
}

/// Drops CAP_SYS_ADMIN from this thread (effective and permitted), keeping CAP_BPF and
/// CAP_PERFMON: a container that may load BPF but not mount.
fn drop_cap_sys_admin() {
    const CAP_SYS_ADMIN: u32 = 21;
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with a version 3 header and the two data structs it fills.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    assert_eq!(r, 0, "capget: {}", std::io::Error::last_os_error());
    data[0].effective &= !(1 << CAP_SYS_ADMIN);
    data[0].permitted &= !(1 << CAP_SYS_ADMIN);
    // SAFETY: capset of this thread with the same header and the two data structs it reads.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    assert_eq!(r, 0, "capset: {}", std::io::Error::last_os_error());
}

/// Opens `obj_externs_linux` to load only `progs`.
fn open(builder: ObjectBuilder, progs: &[&str]) -> corebpf::OpenObject {
    let mut open = builder.open_file(object()).unwrap();
    open.load_only(progs).unwrap();
    open
}

/// Runs socket filter `prog` once; `out` as 8-byte words.
fn run_and_read_out(obj: &Object, prog: &str) -> Vec<u64> {
    let input = TestRun {
        data: &[0u8; 64],
        ..Default::default()
    };
    let r = obj.program(prog).unwrap().test_run(&input).unwrap();
    assert_eq!(r.retval, 0);
    read_out(obj)
}

fn read_out(obj: &Object) -> Vec<u64> {
    obj.read_global("out")
        .unwrap()
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Indexes of `struct linux_out`.
mod word {
    pub const VERSION: usize = 0;
    pub const HAS_BPF_COOKIE: usize = 1;
    pub const HAS_SYSCALL_WRAPPER: usize = 2;
    pub const HZ: usize = 3;
    pub const BPF_SYSCALL: usize = 4;
    pub const GETPID_CALLS: usize = 5;
}

#[test]
fn linux_externs_need_no_kernel_config() {
    run_in_container("child_linux_externs");
}

#[test]
fn child_linux_externs() {
    if !is_child() {
        return;
    }
    enter_container();
    // strong_read's strong CONFIG_BPF_SYSCALL is not loaded: it is treated as weak.
    let obj = open(ObjectBuilder::new(), &["linux_read"]).load().unwrap();
    let out = run_and_read_out(&obj, "linux_read");
    // libbpf's rule (Debian's `uname -v` version, else `uname -r`); `load.rs` checks the
    // rule itself against an independent reading.
    let version = corebpf::obj::running_kernel_version().unwrap();
    assert_eq!(
        out[word::VERSION],
        u64::from(version),
        "LINUX_KERNEL_VERSION"
    );
    // bpf_get_attach_cookie: 5.15; syscall wrappers (__x64_sys_*): 4.17.
    let cookie = version >= corebpf::obj::kernel_version(5, 15, 0);
    assert_eq!(
        out[word::HAS_BPF_COOKIE],
        u64::from(cookie),
        "LINUX_HAS_BPF_COOKIE"
    );
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            out[word::HAS_SYSCALL_WRAPPER],
            1,
            "LINUX_HAS_SYSCALL_WRAPPER"
        );
    }
    assert_eq!(out[word::HZ], 0, "weak CONFIG_HZ without a kernel config");
    // Root may mount: a bpffs went over the tmpfs for the pinned map.
    assert!(is_bpffs(DEFAULT_BPFFS).unwrap());
    assert!(Path::new(DEFAULT_BPFFS).join("linux_pinned").exists());
    println!("{MARKER}");
}

#[test]
fn strong_config_extern_names_the_paths_tried() {
    run_in_container("child_strong_config");
}

#[test]
fn child_strong_config() {
    if !is_child() {
        return;
    }
    enter_container();
    let err = open(ObjectBuilder::new(), &["strong_read"])
        .load()
        .unwrap_err();
    let tried = vec![
        format!("/boot/config-{}", release()),
        "/proc/config.gz".to_string(),
    ];
    match &err {
        corebpf::Error::Object(ObjError::NoKernelConfig { name, tried: t }) => {
            assert_eq!(name, "CONFIG_BPF_SYSCALL");
            assert_eq!(t, &tried);
        }
        other => panic!("not NoKernelConfig: {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "extern 'CONFIG_BPF_SYSCALL' (strong) needs the kernel config, and none was found \
             (tried {})",
            tried.join(", ")
        )
    );
    // Only the config was missing: given as text, the program loads and reads it.
    let builder = ObjectBuilder::new().kconfig("CONFIG_BPF_SYSCALL=y\n");
    let obj = open(builder, &["strong_read"]).load().unwrap();
    assert_eq!(run_and_read_out(&obj, "strong_read")[word::BPF_SYSCALL], 1);
    println!("{MARKER}");
}

#[test]
fn tracepoint_attaches_without_tracefs_mounted() {
    run_in_container("child_tracepoint");
}

#[test]
fn child_tracepoint() {
    if !is_child() {
        return;
    }
    enter_container();
    let mut open = open(ObjectBuilder::new(), &["tp_getpid"]);
    open.set_global("target_pid", &std::process::id().to_ne_bytes())
        .unwrap();
    let obj = open.load().unwrap();
    let _link = obj
        .program("tp_getpid")
        .unwrap()
        .attach_tracepoint("syscalls", "sys_enter_getpid")
        .unwrap();
    assert!(
        mounts()
            .iter()
            .any(|(p, t)| p == TRACEFS[0] && t == "tracefs"),
        "corebpf mounted no tracefs at {}",
        TRACEFS[0]
    );
    for _ in 0..10 {
        nix::unistd::getpid();
    }
    let calls = read_out(&obj)[word::GETPID_CALLS];
    assert!(calls >= 10, "{calls} getpid calls seen");
    println!("{MARKER}");
}

#[test]
fn pinning_without_bpffs_says_how_to_mount_one() {
    run_in_container("child_no_bpffs");
}

#[test]
fn child_no_bpffs() {
    if !is_child() {
        return;
    }
    enter_container();
    drop_cap_sys_admin();
    let err = open(ObjectBuilder::new(), &["linux_read"])
        .load()
        .unwrap_err();
    let text = err.to_string();
    match &err {
        corebpf::Error::Pin {
            what,
            error:
                PinError::BpffsMount {
                    path,
                    error: source,
                },
        } => {
            assert_eq!(what, "map 'linux_pinned': pinning");
            assert_eq!(path, DEFAULT_BPFFS);
            assert_eq!(source.raw_os_error(), Some(libc::EPERM), "{source}");
        }
        other => panic!("not a BpffsMount pin error: {other:?}"),
    }
    assert!(
        text.starts_with(
            "map 'linux_pinned': pinning: /sys/fs/bpf is not a BPF file system (bpffs), and \
             mounting one there failed"
        ) && text.contains("mount -t bpf bpf /sys/fs/bpf"),
        "{text}"
    );
    println!("{MARKER}");
}
