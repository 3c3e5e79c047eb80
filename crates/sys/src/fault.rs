//! Fault injection for tests (cargo feature `fault-injection`, off by default): every
//! system call this crate makes for a kernel object (`bpf(2)`, `perf_event_open` and the
//! perf ioctls, netlink sockets, `mmap`, `setsockopt` of socket filters) first asks
//! `inject`, which, while a test has armed it (`arm`, `arm_from`), counts the call and makes the Nth one
//! fail with the chosen errno without entering the kernel.
//!
//! While armed it also records the id of every program, map, BTF object and link a
//! `bpf(2)` command creates (`Injected::created`), so a test can tell its own kernel
//! objects from those of other processes when it checks that none is left behind.
//!
//! The state is process-global (atomics), so calls from every thread count; a test that
//! wants the same call to fail on every run keeps the operation on one thread. Without the
//! feature, `inject` and `created` are empty inline functions and none of this exists
//! (so these docs, built without it, name them without links).

#[cfg(feature = "fault-injection")]
pub use armed::{arm, arm_from, calls, disarm, Injected};

/// Whether the current call (`what`: the command or call name) should fail, and with which
/// errno. Always `None` without the `fault-injection` feature.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn inject(_what: &'static str) -> Option<i32> {
    None
}

/// Records the object `fd` that `cmd` just created. Nothing without the feature.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn created(_cmd: crate::consts::Cmd, _fd: std::os::fd::BorrowedFd<'_>) {}

#[cfg(feature = "fault-injection")]
pub(crate) use armed::{created, inject};

#[cfg(feature = "fault-injection")]
mod armed {
    use std::cell::Cell;
    use std::os::fd::BorrowedFd;
    use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::SeqCst};
    use std::sync::Mutex;

    use crate::consts::Cmd;
    use crate::obj::ObjKind;

    static ARMED: AtomicBool = AtomicBool::new(false);
    static FAIL_AT: AtomicU64 = AtomicU64::new(0);
    static ERRNO: AtomicI32 = AtomicI32::new(0);
    static STICKY: AtomicBool = AtomicBool::new(false);
    static COUNT: AtomicU64 = AtomicU64::new(0);
    static TRACE: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    static FIRED: Mutex<Option<&'static str>> = Mutex::new(None);
    static CREATED: Mutex<Vec<(ObjKind, u32)>> = Mutex::new(Vec::new());

    thread_local! {
        /// Set while [`created`] reads an object's id: those calls are not the operation's.
        static BYPASS: Cell<bool> = const { Cell::new(false) };
    }

    /// What happened while armed: the calls made, in order, and the one made to fail.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct Injected {
        /// Every call counted, by name (`BPF_MAP_CREATE`, `perf_event_open`, `mmap`, ...).
        pub calls: Vec<&'static str>,
        /// The call that was made to fail (the first, for [`arm_from`]), if the count
        /// reached it.
        pub failed: Option<&'static str>,
        /// The programs, maps, BTF objects and links created, by kind and id.
        pub created: Vec<(ObjKind, u32)>,
    }

    /// Starts counting calls; the `fail_at`th call from now (1-based) fails with `errno`.
    /// `fail_at == 0` only counts.
    pub fn arm(fail_at: u64, errno: i32) {
        arm_with(fail_at, errno, false);
    }

    /// Like [`arm`], but every call from the `fail_at`th on fails (a kernel that keeps
    /// refusing, e.g. out of memory): for operations whose calls run on several threads in
    /// an order that varies, where one failed call may be retried.
    pub fn arm_from(fail_at: u64, errno: i32) {
        arm_with(fail_at, errno, true);
    }

    fn arm_with(fail_at: u64, errno: i32, sticky: bool) {
        TRACE.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *FIRED.lock().unwrap_or_else(|e| e.into_inner()) = None;
        CREATED.lock().unwrap_or_else(|e| e.into_inner()).clear();
        COUNT.store(0, SeqCst);
        FAIL_AT.store(fail_at, SeqCst);
        ERRNO.store(errno, SeqCst);
        STICKY.store(sticky, SeqCst);
        ARMED.store(true, SeqCst);
    }

    /// Stops counting and returns what happened since [`arm`].
    pub fn disarm() -> Injected {
        ARMED.store(false, SeqCst);
        Injected {
            calls: std::mem::take(&mut *TRACE.lock().unwrap_or_else(|e| e.into_inner())),
            failed: FIRED.lock().unwrap_or_else(|e| e.into_inner()).take(),
            created: std::mem::take(&mut *CREATED.lock().unwrap_or_else(|e| e.into_inner())),
        }
    }

    /// The number of calls counted since [`arm`].
    pub fn calls() -> u64 {
        COUNT.load(SeqCst)
    }

    /// Counts a call; `Some(errno)` if it is the one to fail.
    pub(crate) fn inject(what: &'static str) -> Option<i32> {
        if !ARMED.load(SeqCst) || BYPASS.get() {
            return None;
        }
        let n = COUNT.fetch_add(1, SeqCst) + 1;
        TRACE.lock().unwrap_or_else(|e| e.into_inner()).push(what);
        let fail_at = FAIL_AT.load(SeqCst);
        let fails = fail_at != 0 && (n == fail_at || (STICKY.load(SeqCst) && n > fail_at));
        if !fails {
            return None;
        }
        FIRED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(what);
        Some(ERRNO.load(SeqCst))
    }

    /// Records the id of the object `cmd` created as `fd` (read with uncounted calls).
    pub(crate) fn created(cmd: Cmd, fd: BorrowedFd<'_>) {
        if !ARMED.load(SeqCst) || BYPASS.get() {
            return;
        }
        BYPASS.set(true);
        let id = match cmd {
            Cmd::MapCreate => crate::info::map_info(fd).map(|i| (ObjKind::Map, i.id)),
            Cmd::ProgLoad => crate::info::prog_info(fd).map(|i| (ObjKind::Prog, i.id)),
            Cmd::BtfLoad => crate::info::btf_info(fd).map(|i| (ObjKind::Btf, i.id)),
            Cmd::LinkCreate | Cmd::RawTracepointOpen => {
                crate::info::link_info(fd).map(|i| (ObjKind::Link, i.id))
            }
            _ => {
                BYPASS.set(false);
                return;
            }
        };
        BYPASS.set(false);
        if let Ok(id) = id {
            CREATED.lock().unwrap_or_else(|e| e.into_inner()).push(id);
        }
    }
}
