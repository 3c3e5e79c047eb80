//! Statically linked objects load and run: `ObjectBuilder::open_files` and `open_many` on
//! the `testdata/bpf/link/` project (clang 14 and 19, either input order). The programs are
//! SEC("syscall") and run with BPF_PROG_TEST_RUN; the expected values are worked out in
//! `testdata/bpf/link/link_main.bpf.c`: they need the extern functions, variable and map
//! resolved to link_lib's definitions, main's strong `weak_fn`/`weak_var` over lib's weak
//! ones, the first input's `both_weak` (weak in both), a `__hidden` extern function, each
//! file's own static `helper`, and CO-RE in both files.

use std::path::PathBuf;

use corebpf::sys::{probe_prog_type, ProgType};
use corebpf::{ObjectBuilder, OpenObject, TestRun};
use corebpf_testutil::testdata;

fn path(clang: &str, name: &str) -> PathBuf {
    testdata()
        .join("bpf/out/link")
        .join(clang)
        .join(format!("{name}.bpf.o"))
}

/// Loads the linked project and checks every program's result (`main_first`: link_main
/// was the first input, so its weak `both_weak` won).
fn load_and_run(open: OpenObject, what: &str, main_first: bool) {
    if !probe_prog_type(ProgType::Syscall) {
        // 5.10: SEC("syscall") arrived in 5.14; the load says so.
        let e = open.load().unwrap_err();
        assert!(
            e.is_unsupported() && e.to_string().contains("syscall"),
            "{what}: {e}"
        );
        return;
    }
    let obj = open.load().unwrap_or_else(|e| panic!("{what}: {e}"));
    let run = |name: &str| {
        let prog = obj
            .program(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"));
        prog.test_run(&TestRun::default()).unwrap().retval as i32
    };
    assert_eq!(run("main_prog"), 2_742_324, "{what}");
    // bump() counts in shared_map[1]: one map whatever file names it.
    assert_eq!(run("main_map"), 1, "{what}");
    assert_eq!(run("lib_prog"), 1000 + 4 + 2, "{what}");
    assert_eq!(run("main_map"), 3, "{what}");
    // The hidden lib_hidden(x) = 3x of the first input's both_weak(1).
    assert_eq!(run("main_weak"), if main_first { 63 } else { 33 }, "{what}");
    let map = obj.map("shared_map").unwrap();
    let v = map.lookup(&1u32.to_ne_bytes(), 0).unwrap().unwrap();
    assert_eq!(u64::from_ne_bytes(v[..8].try_into().unwrap()), 3, "{what}");
    assert_eq!(obj.read_global_as::<i32>("weak_var").unwrap(), 42, "{what}");
    assert_eq!(
        obj.read_global_as::<i32>("lib_counter").unwrap(),
        5,
        "{what}"
    );
}

#[test]
fn linked_files_load_and_run() {
    for clang in ["clang14", "clang19"] {
        for order in [["link_main", "link_lib"], ["link_lib", "link_main"]] {
            let paths: Vec<PathBuf> = order.iter().map(|n| path(clang, n)).collect();
            let open = ObjectBuilder::new().open_files(&paths).unwrap();
            load_and_run(open, &format!("{clang} {order:?}"), order[0] == "link_main");
        }
    }
}

#[test]
fn linked_in_memory_loads_and_runs() {
    let main = std::fs::read(path("clang19", "link_main")).unwrap();
    let lib = std::fs::read(path("clang19", "link_lib")).unwrap();
    let open = ObjectBuilder::new()
        .open_many(&[("main", &main[..]), ("lib", &lib[..])], "app")
        .unwrap();
    assert!(open.spec().maps.iter().any(|m| m.name == "app.data"));
    load_and_run(open, "open_many", true);
}

#[test]
fn link_errors_name_symbol_and_files() {
    let lib = path("clang19", "link_lib");
    let dup = path("clang19", "link_bad_dup");
    let e = ObjectBuilder::new().open_files(&[&lib, &dup]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("'lib_add'")
            && msg.contains(&lib.display().to_string())
            && msg.contains(&dup.display().to_string()),
        "{msg}"
    );
    let none: [PathBuf; 0] = [];
    let e = ObjectBuilder::new().open_files(&none).unwrap_err();
    assert!(e.to_string().contains("no input objects"), "{e}");
}
