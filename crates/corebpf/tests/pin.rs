//! Pinning under bpffs: pin/open/unpin of maps, programs and links, the bpffs checks,
//! the compatibility check for pinned maps, and a map pinned by this process and opened
//! by path in another (the `find-map` case).

mod maps_util;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use corebpf::map::{Map, MapError};
use corebpf::pin::{
    ensure_bpffs, is_bpffs, pin, pinned_map_compatible, unpin, ExpectedMap, PinError,
};
use corebpf::sys::{MapType, ProgType};
use maps_util::*;

#[test]
fn bpffs_is_mounted_and_detected() {
    let root = ensure_bpffs().unwrap();
    assert_eq!(root, Path::new("/sys/fs/bpf"));
    assert!(is_bpffs(&root).unwrap());
    assert!(!is_bpffs("/proc").unwrap());
}

#[test]
fn pin_open_and_unpin_a_map() {
    let dir = PinDir::new("map");
    let m = map(MapType::Hash, 4, 8, 16, "t_pinned");
    m.as_hash::<u32, u64>().unwrap().insert(&1, &11, 0).unwrap();
    // Parent directories are created on the way.
    let path = dir.0.join("nested/deeper/counts");
    m.pin(&path).unwrap();
    let again = Map::from_pinned(&path).unwrap();
    assert_eq!(again.id(), m.id());
    assert_eq!(again.name(), "t_pinned");
    assert_eq!(again.map_type(), Some(MapType::Hash));
    assert_eq!(
        (again.key_size(), again.value_size(), again.max_entries()),
        (4, 8, 16)
    );
    assert_eq!(
        again.as_hash::<u32, u64>().unwrap().get(&1, 0).unwrap(),
        Some(11)
    );
    let e = m.pin(&path).unwrap_err();
    assert_eq!(e.raw_errno(), Some(libc::EEXIST), "{e}");
    unpin(&path).unwrap();
    let e = Map::from_pinned(&path).unwrap_err();
    assert!(
        e.to_string().contains("counts"),
        "the error names the path: {e}"
    );
}

#[test]
fn pin_programs_and_links() {
    let dir = PinDir::new("prog");
    let prog = load(
        ProgType::RawTracepoint,
        &maps_util::prog_ret0(),
        "t_pinprog",
    );
    let ppath = dir.0.join("prog");
    pin(prog.as_fd(), &ppath).unwrap();
    let reopened = corebpf::sys::obj_get(&ppath, 0).unwrap();
    assert_eq!(
        corebpf::sys::prog_info(reopened.as_fd()).unwrap().id,
        corebpf::sys::prog_info(prog.as_fd()).unwrap().id
    );
    let link = corebpf::sys::raw_tracepoint_open(Some(c"sys_enter"), prog.as_fd(), 0)
        .expect("raw tracepoint link on sys_enter");
    let lpath = dir.0.join("link");
    pin(link.as_fd(), &lpath).unwrap();
    assert!(lpath.exists());
    unpin(&lpath).unwrap();
    unpin(&ppath).unwrap();
}

#[test]
fn pinning_outside_bpffs_is_refused() {
    let m = map(MapType::Array, 4, 4, 1, "t_nobpffs");
    let dir = std::env::temp_dir().join(format!("corebpf_nobpffs_{}", std::process::id()));
    let e = m.pin(dir.join("m")).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        matches!(e, MapError::Pin(PinError::NotBpffs { .. })),
        "{e:?}"
    );
    assert!(e.to_string().contains("not on a BPF file system"), "{e}");
}

#[test]
fn pinned_map_compatibility() {
    let m = map(MapType::Hash, 4, 8, 16, "t_compat");
    let mut want = ExpectedMap {
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        map_flags: 0,
        map_extra: 0,
    };
    pinned_map_compatible(&m, &want).unwrap();
    want.max_entries = 32;
    let e = pinned_map_compatible(&m, &want).unwrap_err();
    assert_eq!(
        (e.field, e.pinned.as_str(), e.expected.as_str()),
        ("max_entries", "16", "32")
    );
    want.map_type = MapType::Array;
    let e = pinned_map_compatible(&m, &want).unwrap_err();
    assert_eq!(
        (e.field, e.pinned.as_str(), e.expected.as_str()),
        ("type", "hash", "array")
    );
    assert!(e.to_string().contains("t_compat"), "{e}");
}

const CHILD_ENV: &str = "COREBPF_PIN_CHILD_MAP";

/// Child side of [`map_pinned_here_is_found_by_another_process`]: run only by the parent,
/// through `--ignored` (it fails when run without the parent's environment).
#[test]
#[ignore = "run by map_pinned_here_is_found_by_another_process in a child process"]
fn child_find_map() {
    let path = std::env::var(CHILD_ENV).expect("the parent passes the pinned map's path");
    let m = Map::from_pinned(&path).expect("open the map pinned by the parent");
    assert_eq!(m.name(), "t_findmap");
    let h = m.as_hash::<u32, u64>().unwrap();
    assert_eq!(
        h.get(&1, 0).unwrap(),
        Some(0xfeed),
        "value written by the parent"
    );
    h.insert(&2, &(m.id() as u64), 0).unwrap();
}

#[test]
fn map_pinned_here_is_found_by_another_process() {
    let dir = PinDir::new("find");
    let m = map(MapType::Hash, 4, 8, 8, "t_findmap");
    let h = m.as_hash::<u32, u64>().unwrap();
    h.insert(&1, &0xfeed, 0).unwrap();
    let path = dir.0.join("shared_map");
    m.pin(&path).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_find_map",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .output()
        .expect("spawn the test binary as a child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran its test: {stdout}"
    );
    assert_eq!(
        h.get(&2, 0).unwrap(),
        Some(m.id() as u64),
        "the child wrote back"
    );
}

fn obj_maps_path() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
        .join("bpf/out/clang19/obj_maps.bpf.o")
}

/// `obj_maps.bpf.o` opened with `root` as pin root, loadable on this kernel: where the
/// kernel has no bloom filter maps (before 5.16) the whole object must fail naming that
/// (checked when `check` is set: maps are created in the object's order, so a bad pin may be
/// met first), and it then loads without `m_bloom` and the program that uses it.
fn open_obj_maps(root: &Path, check: bool) -> corebpf::OpenObject {
    let open = || {
        corebpf::ObjectBuilder::new()
            .pin_root(root)
            .open_file(obj_maps_path())
            .unwrap()
    };
    let bloom = corebpf::sys::probe_map_type(MapType::BloomFilter);
    assert_eq!(
        bloom,
        kernel_at_least(5, 16),
        "bloom filter probe vs release"
    );
    if bloom {
        return open();
    }
    if !check {
        let mut o = open();
        o.set_autocreate("m_bloom", false).unwrap();
        o.set_autoload("obj_maps_touch", false).unwrap();
        return o;
    }
    let err = open().load().expect_err("bloom filter map before 5.16");
    let text = err.to_string();
    assert!(
        text.contains("map 'm_bloom'")
            && text.contains("this kernel does not support map type bloom_filter (Linux 5.16)"),
        "{text}"
    );
    let mut o = open();
    o.set_autocreate("m_bloom", false).unwrap();
    let err = o.load().expect_err("obj_maps_touch uses m_bloom");
    assert!(
        err.to_string()
            .contains("program 'obj_maps_touch': references map 'm_bloom', which was not created"),
        "{err}"
    );
    let mut o = open();
    o.set_autocreate("m_bloom", false).unwrap();
    o.set_autoload("obj_maps_touch", false).unwrap();
    o
}

/// Issue 7: a LIBBPF_PIN_BY_NAME map is pinned by the first load and reused by the next
/// ones: a value written through the first object is read through the second, and
/// outlives both.
#[test]
fn pinned_by_name_map_is_reused_across_loads() {
    let dir = PinDir::new("reuse");
    let path = dir.0.join("m_pinned");
    let first = open_obj_maps(&dir.0, true).load().unwrap();
    assert!(path.exists(), "m_pinned pinned at {}", path.display());
    let m1 = first.map("m_pinned").unwrap();
    m1.as_hash::<u32, u32>()
        .unwrap()
        .insert(&7, &77, 0)
        .unwrap();
    let second = open_obj_maps(&dir.0, true).load().unwrap();
    let m2 = second.map("m_pinned").unwrap();
    assert_eq!(m2.id(), m1.id(), "the same kernel map");
    assert_eq!(
        m2.as_hash::<u32, u32>().unwrap().get(&7, 0).unwrap(),
        Some(77)
    );
    // An unpinned map is created afresh each time.
    assert_ne!(
        second.map("m_array").unwrap().id(),
        first.map("m_array").unwrap().id()
    );
    m2.as_hash::<u32, u32>()
        .unwrap()
        .insert(&8, &88, 0)
        .unwrap();
    drop((first, second));
    let third = open_obj_maps(&dir.0, true).load().unwrap();
    let m3 = third
        .map("m_pinned")
        .unwrap()
        .as_hash::<u32, u32>()
        .unwrap();
    assert_eq!(
        (m3.get(&7, 0).unwrap(), m3.get(&8, 0).unwrap()),
        (Some(77), Some(88))
    );
}

/// A different map pinned at the path a LIBBPF_PIN_BY_NAME map wants is refused, naming
/// the map, the path and the differing property; the pin is left alone.
#[test]
fn incompatible_pinned_map_is_refused_clearly() {
    let dir = PinDir::new("incompat");
    let path = dir.0.join("m_pinned");
    let cases: [(MapType, u32, u32, u32, &str, &str, &str); 3] = [
        (MapType::Array, 4, 4, 8, "type", "array", "hash"),
        (MapType::Hash, 4, 8, 8, "value_size", "8", "4"),
        (MapType::Hash, 4, 4, 16, "max_entries", "16", "8"),
    ];
    for (t, k, v, n, field, pinned, wanted) in cases {
        let other = map(t, k, v, n, "m_pinned");
        other.pin(&path).unwrap();
        let err = open_obj_maps(&dir.0, false).load().unwrap_err();
        match &err {
            corebpf::Error::PinnedMapIncompatible {
                map,
                field: f,
                pinned: p,
                expected: e,
                ..
            } => assert_eq!(
                (map.as_str(), *f, p.as_str(), e.as_str()),
                ("m_pinned", field, pinned, wanted)
            ),
            other => panic!("not an incompatibility: {other}"),
        }
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "map 'm_pinned': pinned map at {} is incompatible: {field} is {pinned}, the object wants {wanted}",
                path.display()
            )),
            "{text}"
        );
        assert_eq!(
            Map::from_pinned(&path).unwrap().id(),
            other.id(),
            "pin untouched"
        );
        unpin(&path).unwrap();
    }
}
