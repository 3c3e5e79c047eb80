//! Objects libbpf refuses or mistreats, loaded and run (issue 13, items 3 and 8), for clang 14
//! and clang 19 builds of `testdata/bpf/perm/`: hidden global helpers verified in their
//! caller's context, static entry programs, iproute2's `struct bpf_elf_map` (pinning and
//! map-in-map), and symbols nothing defines (only their programs fail; an `LD_IMM64` of one
//! takes a value). All socket filters, run with `BPF_PROG_TEST_RUN` on every kernel.

mod maps_util;

use std::os::fd::AsFd;
use std::path::PathBuf;

use corebpf::sys::consts::BPF_F_MMAPABLE;
use corebpf::{Error, Object, ObjectBuilder, OpenObject, TestRun};
use maps_util::{kernel_at_least, PinDir};

const CLANGS: [&str; 2] = ["clang14", "clang19"];

/// A 64-byte frame: `skb->len` is 50 once the Ethernet header is pulled.
const FRAME: [u8; 64] = [0; 64];

fn object(clang: &str, name: &str) -> PathBuf {
    corebpf_testutil::testdata()
        .join("bpf/out")
        .join(clang)
        .join(format!("{name}.bpf.o"))
}

fn open(clang: &str, name: &str) -> OpenObject {
    ObjectBuilder::new()
        .open_file(object(clang, name))
        .unwrap_or_else(|e| panic!("{clang}/{name}: {e}"))
}

/// Runs program `prog` of `obj` once on [`FRAME`]; its return value.
fn run(obj: &Object, prog: &str) -> u32 {
    let p = obj
        .program(prog)
        .unwrap_or_else(|| panic!("no program {prog}"));
    p.test_run(&TestRun {
        data: &FRAME,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{prog}: {e}"))
    .retval
}

fn u64_of(bytes: &[u8]) -> u64 {
    u64::from_ne_bytes(bytes.try_into().unwrap())
}

#[test]
fn hidden_helpers_are_verified_in_their_callers_context() {
    for clang in CLANGS {
        let mut open = open(clang, "perm_hidden_func");
        open.set_autoload("global_call", false).unwrap();
        let obj = open.load().unwrap_or_else(|e| panic!("{clang}: {e}"));
        // 21 * 2 + 1 from hidden_store, 2 + 5 + 2 - 2 from weak_hidden_store.
        assert_eq!(run(&obj, "hidden_call"), 50, "{clang}");
        assert_eq!(run(&obj, "hidden_call"), 50, "{clang}");
        assert_eq!(u64_of(&obj.read_global("hidden_total").unwrap()), 101);
        assert_eq!(u64_of(&obj.read_global("shown_total").unwrap()), 4);
        // Only the section with a non-static variable is mmapable, as with libbpf.
        assert_eq!(obj.map(".data.hid").unwrap().flags() & BPF_F_MMAPABLE, 0);
        assert_ne!(obj.map(".data.shown").unwrap().flags() & BPF_F_MMAPABLE, 0);

        // The same helper with default visibility stays global: the verifier checks it
        // alone, where `res` may be NULL, and rejects it (as it does under libbpf).
        let mut open = open_again(clang);
        open.load_only(&["global_call"]).unwrap();
        match open.load() {
            Err(Error::Verifier(v)) => {
                assert_eq!(v.prog, "global_call");
                // Pointer arguments of global functions: PTR_TO_MEM_OR_NULL since 5.12.
                if kernel_at_least(5, 12) {
                    assert!(v.message.contains("mem_or_null"), "{clang}: {}", v.message);
                }
            }
            r => panic!("{clang}: global_call should fail verification: {r:?}"),
        }
    }
}

fn open_again(clang: &str) -> OpenObject {
    open(clang, "perm_hidden_func")
}

#[test]
fn static_entry_programs_load_and_run() {
    for clang in CLANGS {
        let obj = open(clang, "perm_static_prog")
            .load()
            .unwrap_or_else(|e| panic!("{clang}: {e}"));
        assert_eq!(obj.programs().len(), 4);
        assert_eq!(run(&obj, "static_seven"), 7, "{clang}");
        assert_eq!(run(&obj, "static_twice"), 100, "{clang}");
        assert_eq!(run(&obj, "static_calls_static"), 101, "{clang}");
        assert_eq!(run(&obj, "global_three"), 3, "{clang}");
    }
}

#[test]
fn iproute2_maps_pin_and_nest() {
    for clang in CLANGS {
        let dir = PinDir::new(&format!("elf_maps_{clang}"));
        let obj = ObjectBuilder::new()
            .pin_root(&dir.0)
            .open_file(object(clang, "perm_iproute2_maps"))
            .unwrap()
            .load()
            .unwrap_or_else(|e| panic!("{clang}: {e}"));
        // The inner map is in slot 0 of `outer`: the program reaches it through there.
        assert_eq!(run(&obj, "elf_maps_count"), 5, "{clang}");
        assert_eq!(run(&obj, "elf_maps_count"), 10, "{clang}");
        let inner = obj.map("inner_vals").unwrap();
        let v = inner.lookup(&0u32.to_ne_bytes(), 0).unwrap().unwrap();
        assert_eq!(u32::from_ne_bytes(v.try_into().unwrap()), 10);
        // PIN_GLOBAL_NS: pinned by name under the pin root; the pin is the object's map.
        let pinned = corebpf::map::Map::from_pinned(dir.0.join("pinned_counts")).unwrap();
        assert_eq!(pinned.id(), obj.map("pinned_counts").unwrap().id());
        let c = pinned.lookup(&0u32.to_ne_bytes(), 0).unwrap().unwrap();
        assert_eq!(u64_of(&c), 2, "{clang}");
        assert!(!dir.0.join("inner_vals").exists());
        // A second load reuses the pinned map.
        drop(obj);
        let again = ObjectBuilder::new()
            .pin_root(&dir.0)
            .open_file(object(clang, "perm_iproute2_maps"))
            .unwrap()
            .load()
            .unwrap();
        assert_eq!(run(&again, "elf_maps_count"), 5, "{clang}: a new inner map");
        let c = again.map("pinned_counts").unwrap();
        let c = c.lookup(&0u32.to_ne_bytes(), 0).unwrap().unwrap();
        assert_eq!(u64_of(&c), 3, "{clang}: the pinned counter goes on");
    }
}

#[test]
fn undefined_symbols_fail_only_their_programs() {
    for clang in CLANGS {
        // Loading everything: the first program reaching an undefined symbol is named,
        // as that program's error.
        let e = open(clang, "perm_undefined").load().unwrap_err();
        assert!(matches!(&e, Error::ProgramSpec { prog, .. } if prog == "asm_const"));
        let text = e.to_string();
        assert!(
            text.contains("program 'asm_const': insn #0 of 'asm_const'")
                && text.contains("undefined symbol 'PERM_CONST'"),
            "{clang}: {text}"
        );

        let mut o = open(clang, "perm_undefined");
        assert!(matches!(
            o.set_symbol_value("NOPE", 1),
            Err(Error::NotFound {
                what: "undefined symbol",
                ..
            })
        ));
        o.set_symbol_value("PERM_CONST", 42).unwrap();
        let e = o.load().unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("program 'calls_fwd': insn #1 of 'calls_fwd'")
                && text.contains("calls undefined function 'perm_fwd'"),
            "{clang}: {text}"
        );

        let mut o = open(clang, "perm_undefined");
        o.set_symbol_value("PERM_CONST", 42).unwrap();
        o.set_autoload("calls_fwd", false).unwrap();
        let obj = o.load().unwrap_or_else(|e| panic!("{clang}: {e}"));
        assert_eq!(run(&obj, "asm_const"), 42, "{clang}");
        assert_eq!(run(&obj, "plain"), 9, "{clang}");
        assert!(obj.program("calls_fwd").is_none());
        // The object's BTF loaded (its extern FUNC perm_fwd made acceptable to the kernel):
        // the programs carry func and line info.
        let info = corebpf::sys::prog_info(obj.program("plain").unwrap().as_fd()).unwrap();
        assert_ne!(info.btf_id, 0, "{clang}");

        // Without the value, the other programs still load.
        let mut o = open(clang, "perm_undefined");
        o.load_only(&["plain"]).unwrap();
        assert_eq!(run(&o.load().unwrap(), "plain"), 9);
    }
}
