//! Loading and dropping objects hundreds of times, successful loads and failing ones
//! (verifier rejection, a reachable poisoned CO-RE relocation, an incompatible pinned map,
//! a bad `--btf` file, a program type or map type the kernel lacks), leaves the number of
//! open fds where it started. A separate test binary: the fd count is process-wide.

use std::path::{Path, PathBuf};

use corebpf::map::Map;
use corebpf::sys::{MapCreateAttr, MapType, ProgType};
use corebpf::{Error, ObjectBuilder, OpenObject, TestRun};

const ROUNDS: usize = 200;

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

fn object(name: &str) -> PathBuf {
    testdata().join("bpf/out/clang19").join(name)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

fn open(name: &str) -> OpenObject {
    ObjectBuilder::new().open_file(object(name)).unwrap()
}

/// `prog` of `name` alone, as a socket filter where this kernel has no SEC("syscall").
fn open_only(name: &str, prog: &str) -> OpenObject {
    let mut o = open(name);
    o.load_only(&[prog]).unwrap();
    if !corebpf::sys::probe_prog_type(ProgType::Syscall) {
        o.set_program_type(prog, ProgType::SocketFilter).unwrap();
    }
    o
}

/// Rounds that create every map of `obj_maps.bpf.o`; the others leave out the sockmap and
/// the devmap, whose release waits for an RCU grace period (tens of ms each time).
const ALL_MAPS_EVERY: usize = 50;

/// `obj_maps.bpf.o` with `root` as pin root, without the bloom filter map where the
/// kernel has none (before 5.16), and without the slow-to-free maps unless `all`.
fn open_obj_maps(root: &Path, all: bool) -> OpenObject {
    let mut o = ObjectBuilder::new()
        .pin_root(root)
        .open_file(object("obj_maps.bpf.o"))
        .unwrap();
    if !all {
        o.set_autocreate("m_sockmap", false).unwrap();
        o.set_autocreate("m_devmap", false).unwrap();
    }
    if !corebpf::sys::probe_map_type(MapType::BloomFilter) {
        o.set_autocreate("m_bloom", false).unwrap();
        o.set_autoload("obj_maps_touch", false).unwrap();
    }
    o
}

/// One round: every load below, each object dropped at once.
fn round(i: usize, pins: &Path, bad_pins: &Path, bad_btf: &Path) {
    let all = i % ALL_MAPS_EVERY == 0;
    // Successful loads: prog array slots and .rodata (tail calls), maps of all kinds with a
    // pinned map reused after the first round, a ring buffer and CO-RE against this kernel.
    let obj = open("run_tailcall.bpf.o").load().unwrap();
    let frame = [0u8; 64];
    let out = obj.program("tail_entry").unwrap().test_run(&TestRun {
        data: &frame,
        ..Default::default()
    });
    assert_eq!(out.unwrap().retval, 42);
    drop(obj);
    drop(open_obj_maps(pins, all).load().unwrap());
    let mut tracing = open("core_tracing.bpf.o");
    tracing.load_only(&["trace_exec", "trace_socket"]).unwrap();
    drop(tracing.load().unwrap());

    // Failing loads.
    let e = open_only("bad_verifier.bpf.o", "bad_oob")
        .load()
        .unwrap_err();
    assert!(e.verifier().is_some(), "{e}");
    let e = open_only("bad_core_poison.bpf.o", "poisoned_reachable")
        .load()
        .unwrap_err();
    assert!(e.verifier().and_then(|v| v.core.as_ref()).is_some(), "{e}");
    let e = open_obj_maps(bad_pins, all).load().unwrap_err();
    assert!(matches!(e, Error::PinnedMapIncompatible { .. }), "{e}");
    let e = ObjectBuilder::new()
        .btf_file(bad_btf)
        .open_file(object("core_tracing.bpf.o"))
        .unwrap()
        .load()
        .unwrap_err();
    assert!(matches!(e, Error::Btf(_)), "{e}");
    // Where the kernel lacks SEC("syscall") (5.10), the prog type error path too; elsewhere
    // a load of the whole object succeeds.
    let r = open("run_map_in_map.bpf.o").load();
    assert_eq!(
        r.is_ok(),
        corebpf::sys::probe_prog_type(ProgType::Syscall),
        "{:?}",
        r.err()
    );
}

#[test]
fn loading_and_dropping_objects_leaks_no_fds() {
    let root = corebpf::pin::ensure_bpffs().expect("bpffs");
    let base = root.join(format!("corebpf_fd_leak_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (pins, bad_pins) = (base.join("good"), base.join("bad"));
    // An array where obj_maps wants a hash: every load through `bad_pins` is refused.
    let impostor = Map::create(&MapCreateAttr {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 4,
        max_entries: 8,
        name: "m_pinned",
        ..Default::default()
    })
    .unwrap();
    impostor.pin(bad_pins.join("m_pinned")).unwrap();
    let bad_btf = std::env::temp_dir().join(format!("corebpf_bad_{}.btf", std::process::id()));
    std::fs::write(&bad_btf, b"\x9f\xeb\x01\x00 not really BTF").unwrap();

    // The first round parses the kernel's BTF and runs the feature probes (kept for the
    // process, no fds held); the count starts after it.
    round(0, &pins, &bad_pins, &bad_btf);
    let before = open_fds();
    for i in 0..ROUNDS {
        round(i, &pins, &bad_pins, &bad_btf);
    }
    let after = open_fds();
    // The count does see a leak: an object forgotten keeps its map, program and BTF fds.
    std::mem::forget(open("run_tailcall.bpf.o").load().unwrap());
    let leaked = open_fds();
    let _ = std::fs::remove_file(&bad_btf);
    let _ = std::fs::remove_dir_all(&base);
    assert_eq!(after, before, "fds leaked over {ROUNDS} rounds");
    assert!(leaked > after, "a forgotten object shows in the count");
}
