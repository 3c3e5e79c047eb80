//! Arenas (`BPF_MAP_TYPE_ARENA`, Linux 6.9) on the real kernel: a program builds a linked
//! list in an arena and user space walks it through the mapping; `__arena` globals copied in
//! at load and placed as libbpf places them; arenas at a `map_extra` address and where the
//! kernel chooses; bounds-checked access and clear errors.
//!
//! `arena_list` and `arena_globals` built by clang 19 use `__arena` pointers; clang 14 cannot
//! compile those, so its objects only allocate a page (see the sources).

mod maps_util;

use std::path::PathBuf;
use std::sync::Mutex;

use corebpf::map::{Arena, Map, MapError};
use corebpf::sys::consts::{BPF_F_MMAPABLE, BPF_F_SEGV_ON_FAULT};
use corebpf::sys::mmap::page_size;
use corebpf::sys::{MapCreateAttr, MapType};
use corebpf::{Error, Object, ObjectBuilder, TestRun};
use maps_util::kernel_at_least;

/// Objects whose arena has a fixed `map_extra` address load one at a time (two mappings
/// cannot share the address in one process).
static FIXED_ADDRESS: Mutex<()> = Mutex::new(());

/// The address `arena_list` (clang 19) declares with `__ulong(map_extra, 1ull << 44)`.
const LIST_ADDR: u64 = 1 << 44;

fn object(clang: &str, name: &str) -> PathBuf {
    corebpf_testutil::testdata()
        .join("bpf/out")
        .join(clang)
        .join(format!("{name}.bpf.o"))
}

/// Whether this kernel lets this process create an arena, asked with a bare
/// `BPF_MAP_CREATE`: before 6.9 it has none (`EINVAL`), and a hardened kernel may refuse
/// them (`EPERM`: this test host's 6.18 does, while it creates the other maps that need
/// CAP_BPF). The checks that need an arena run where one can be created (the 6.12 guest).
fn kernel_creates_arenas() -> bool {
    match corebpf::sys::map_create(&MapCreateAttr {
        map_type: MapType::Arena,
        max_entries: 1,
        map_flags: BPF_F_MMAPABLE,
        ..Default::default()
    }) {
        Ok(_) => true,
        Err(e) => {
            assert!(
                matches!(e.raw_errno(), Some(libc::EINVAL | libc::EPERM)),
                "{e}"
            );
            eprintln!("this kernel creates no arena: {e}");
            false
        }
    }
}

/// Loads `name` built by `clang`; where the kernel creates no arena, checks that the load
/// fails saying why (the map type is missing, or the kernel refuses arenas) and gives None.
fn load_or_clear_error(clang: &str, name: &str) -> Option<Object> {
    let res = load(clang, name);
    if kernel_creates_arenas() {
        return Some(res.unwrap());
    }
    let err = res.unwrap_err();
    let msg = err.to_string();
    if kernel_at_least(6, 9) {
        assert!(err.is_permission(), "{msg}");
        assert!(
            msg.starts_with("map 'arena': creating an arena, which this kernel refuses although this process creates other maps that need CAP_BPF")
                && msg.contains("EPERM"),
            "{msg}"
        );
    } else {
        // Before 6.9 the arena kfuncs are missing too, and externs resolve before maps
        // are created (libbpf's order): either is named.
        assert!(
            msg.contains("this kernel does not support map type arena (Linux 6.9)")
                || msg
                    .contains("extern 'bpf_arena_alloc_pages': not found in kernel or module BTFs"),
            "{msg}"
        );
    }
    None
}

fn load(clang: &str, name: &str) -> Result<Object, Error> {
    Object::load_file(object(clang, name))
}

/// Runs `prog` of `obj` once (no ctx) and returns its return value.
fn run(obj: &Object, prog: &str) -> u32 {
    obj.program(prog)
        .unwrap()
        .test_run(&TestRun::default())
        .unwrap()
        .retval
}

/// Checks that `size` bytes of `__arena` globals lie where libbpf 1.7 puts them in `arena`:
/// at the end, in whole pages, when the kernel takes full-range `LD_IMM64` offsets, else at
/// the start.
fn assert_globals_placed(arena: &Arena<&Map>, size: usize) {
    let page = page_size();
    let end = (arena.len() - size.div_ceil(page) * page) as u64;
    let off = arena.globals_address().unwrap() - arena.user_vm_start();
    assert!(off == end || off == 0, "globals at offset {off:#x}");
}

fn u64_at(arena: &Arena<&Map>, addr: u64) -> u64 {
    arena.read::<u64>(addr).unwrap()
}

/// One node of `arena_list` as the program lays it out.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct Node {
    next: u64,
    value: u64,
    index: u32,
    pad: u32,
    tag: [u64; 5],
}
// SAFETY: repr(C), integers only, the explicit `pad` leaves no implicit padding.
unsafe impl corebpf::map::Pod for Node {}

#[test]
fn list_built_by_a_program_is_walked_from_user_space() {
    let _fixed = FIXED_ADDRESS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(obj) = load_or_clear_error("clang19", "arena_list") else {
        return;
    };
    let arena = obj.map("arena").unwrap().as_arena().unwrap();
    assert_eq!(arena.user_vm_start(), LIST_ADDR, "mapped at map_extra");
    assert_eq!(arena.len(), 16 * page_size());
    assert_globals_placed(&arena, 20);
    let globals = arena.globals_address().unwrap();
    let magic = arena.global_address("magic").unwrap();
    let head = arena.global_address("list_head").unwrap();
    let count = arena.global_address("node_count").unwrap();
    assert_eq!(u64_at(&arena, magic), 0xc0ffee, "initial data copied in");
    assert_eq!(u64_at(&arena, head), 0, "empty list before the run");

    assert_eq!(run(&obj, "arena_list_build"), 0);
    assert_eq!(u64_at(&arena, magic), 0xdecaf);
    assert_eq!(arena.read::<u32>(count).unwrap(), 200);
    let mut seen = 0u32;
    let mut at = u64_at(&arena, head);
    while at != 0 {
        assert!(arena.contains(at, 64), "node at {at:#x} is in the arena");
        assert!(
            at + 64 <= globals || at >= globals + page_size() as u64,
            "node at {at:#x} overlaps the globals page"
        );
        let n: Node = arena.read(at).unwrap();
        let i = 199 - seen;
        assert_eq!(n.index, i, "the list runs from the last node pushed");
        assert_eq!(n.value, u64::from(i) * 3 + 1);
        let tags: Vec<u64> = (0..5).map(|j| u64::from(i) * 8 + j).collect();
        assert_eq!(n.tag.to_vec(), tags);
        seen += 1;
        assert!(seen <= 200, "the list loops");
        at = n.next;
    }
    assert_eq!(seen, 200);
}

#[test]
fn globals_of_an_arena_placed_by_the_kernel() {
    let Some(obj) = load_or_clear_error("clang19", "arena_globals") else {
        return;
    };
    let arena = obj.map("arena").unwrap().as_arena().unwrap();
    let start = arena.user_vm_start();
    assert!(start != 0 && start != LIST_ADDR);
    assert_eq!(start % page_size() as u64, 0);
    assert_eq!(
        start >> 32,
        (start + arena.len() as u64 - 1) >> 32,
        "the kernel keeps an arena within 4 GiB"
    );
    assert_globals_placed(&arena, 24);
    let runs = arena.global_address("runs").unwrap();
    let table = arena.global_address("table").unwrap();
    assert_eq!(u64_at(&arena, runs), 40, "initial data copied in");
    assert_eq!(u64_at(&arena, arena.global_address("seed").unwrap()), 5);

    for r in [41u64, 42] {
        assert_eq!(u64::from(run(&obj, "arena_globals_run")), r);
        assert_eq!(u64_at(&arena, runs), r);
        let t = u64_at(&arena, table);
        assert!(arena.contains(t, 2 * page_size()), "table at {t:#x}");
        assert_eq!(t % page_size() as u64, 0);
        for i in 0..16u64 {
            assert_eq!(u64_at(&arena, t + 8 * i), i * r + 5);
            assert_eq!(u64_at(&arena, t + page_size() as u64 + 8 * i), r - i);
        }
    }
}

#[test]
fn clang14_objects_allocate_arena_pages() {
    for name in ["arena_list", "arena_globals"] {
        let Some(obj) = load_or_clear_error("clang14", name) else {
            return;
        };
        let arena = obj.map("arena").unwrap().as_arena().unwrap();
        assert_eq!(
            arena.globals_address(),
            None,
            "clang 14: no __arena globals"
        );
        assert_eq!(arena.global_address("magic"), None);
        assert_eq!(
            arena.map().info().map_extra,
            0,
            "{name}: the kernel places it"
        );
        // 1: the program got a page, which it can only once the arena has its address.
        let prog = obj.programs()[0].name().to_string();
        assert_eq!(run(&obj, &prog), 1, "{name}");
    }
}

#[test]
fn arena_created_by_hand_is_mapped_on_first_use() {
    if !kernel_creates_arenas() {
        return;
    }
    let map = Map::create(&MapCreateAttr {
        map_type: MapType::Arena,
        max_entries: 2,
        map_flags: BPF_F_MMAPABLE,
        name: "t_arena",
        ..Default::default()
    })
    .unwrap();
    let arena = map.as_arena().unwrap();
    let start = arena.user_vm_start();
    assert_eq!(start % page_size() as u64, 0);
    assert_eq!(
        map.as_arena().unwrap().user_vm_start(),
        start,
        "one mapping"
    );
    assert_eq!(arena.globals_address(), None, "no object globals");
    arena.write(start + 100, &0x1234_5678u32).unwrap();
    assert_eq!(arena.read::<u32>(start + 100).unwrap(), 0x1234_5678);
    let mut buf = [0u8; 16];
    arena
        .read_bytes(start + page_size() as u64, &mut buf)
        .unwrap();
    assert_eq!(buf, [0; 16], "a fresh page reads as zeros");
    // Out of bounds, below and past the end, and an address that overflows.
    let end = start + arena.len() as u64;
    for (addr, len) in [(start - 1, 1), (end - 4, 8), (end, 1), (u64::MAX, 2)] {
        let err = arena.read_bytes(addr, &mut vec![0; len]).unwrap_err();
        assert!(
            matches!(&err, MapError::Invalid { name, reason } if name == "t_arena"
                && reason.contains("outside the arena")),
            "{err}"
        );
    }
    assert!(arena.write_bytes(end - 1, &[1, 2]).is_err());
    assert!(arena.contains(end - 1, 1) && !arena.contains(end - 1, 2));
    // The handle owns or borrows like the other typed handles.
    let owned: Arena = map.into_arena().unwrap();
    assert_eq!(owned.user_vm_start(), start);
    assert!(Map::create(&MapCreateAttr {
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        name: "t_not_arena",
        ..Default::default()
    })
    .unwrap()
    .as_arena()
    .is_err_and(|e| matches!(e, MapError::WrongType { .. })));
}

#[test]
fn unallocated_page_of_a_segv_on_fault_arena_is_an_error() {
    if !kernel_creates_arenas() {
        return;
    }
    let map = Map::create(&MapCreateAttr {
        map_type: MapType::Arena,
        max_entries: 1,
        map_flags: BPF_F_MMAPABLE | BPF_F_SEGV_ON_FAULT,
        name: "t_arena_segv",
        ..Default::default()
    })
    .unwrap();
    let arena = map.as_arena().unwrap();
    // User space may not fault pages into such an arena: a direct read would be SIGSEGV.
    let err = arena.read::<u64>(arena.user_vm_start()).unwrap_err();
    assert_eq!(err.raw_errno(), Some(libc::EFAULT), "{err}");
    let err = arena.write(arena.user_vm_start(), &1u64).unwrap_err();
    assert_eq!(err.raw_errno(), Some(libc::EFAULT), "{err}");
}

#[test]
fn arena_too_small_for_its_globals() {
    let mut open = ObjectBuilder::new()
        .open_file(object("clang19", "arena_list"))
        .unwrap();
    open.set_max_entries("arena", 0).unwrap();
    let err = open.load().unwrap_err().to_string();
    assert_eq!(
        err,
        "map 'arena': sec '.addr_space.1': declared ARENA map size (0) is too small to hold global __arena variables of size 20"
    );
}

#[test]
fn arena_the_kernel_refuses_gets_the_rule_it_breaks() {
    if !kernel_creates_arenas() {
        return;
    }
    let mut open = ObjectBuilder::new()
        .open_file(object("clang14", "arena_globals"))
        .unwrap();
    open.set_max_entries("arena", 0).unwrap();
    let err = open.load().unwrap_err().to_string();
    assert!(
        err.starts_with("map 'arena': creating: BPF_MAP_CREATE failed: EINVAL")
            && err.ends_with("max_entries (the number of pages) must not be 0"),
        "{err}"
    );
}
