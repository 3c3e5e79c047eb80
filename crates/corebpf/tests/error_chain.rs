//! Error reporters (anyhow's `{:#}`, eyre) print an error and then each `source()`: no
//! message of corebpf's may contain its source's message too, or users read it twice.
//! Each error here comes from a real failure.

use std::path::PathBuf;

use corebpf::map::Map;
use corebpf::sys::{MapCreateAttr, MapType};
use corebpf::ObjectBuilder;

fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

/// Walks the chain, failing where a message repeats its source's.
fn assert_said_once(e: &(dyn std::error::Error + 'static)) {
    let mut cur = e;
    while let Some(src) = cur.source() {
        let (outer, inner) = (cur.to_string(), src.to_string());
        assert!(
            !outer.contains(&inner),
            "'{outer}' repeats its source '{inner}'"
        );
        cur = src;
    }
}

#[test]
fn no_message_repeats_its_source() {
    // A map the kernel refuses (MapError::Sys).
    let e = Map::create(&MapCreateAttr {
        map_type: MapType::Hash,
        key_size: 0,
        value_size: 8,
        max_entries: 1,
        name: "bad",
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("EINVAL"), "{e}");
    assert_said_once(&e);
    // An object that is no ELF file (ObjError inside corebpf::Error).
    let e = ObjectBuilder::new()
        .open_mem(b"not an elf", "x")
        .unwrap_err();
    assert_said_once(&e);
    // A target BTF that is no BTF (BtfError).
    let bad = std::env::temp_dir().join(format!("corebpf-bad-btf-{}", std::process::id()));
    std::fs::write(&bad, b"\x9f\xeb\x01\x00garbage").unwrap();
    let e = ObjectBuilder::new()
        .btf_file(&bad)
        .open_file(testdata().join("bpf/out/clang19/core_tracing.bpf.o"))
        .unwrap()
        .load()
        .unwrap_err();
    let _ = std::fs::remove_file(&bad);
    assert!(e.to_string().starts_with("BTF: "), "{e}");
    assert_said_once(&e);
    // A missing object file (an I/O error).
    let e = ObjectBuilder::new()
        .open_file("/nonexistent/x.bpf.o")
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.bpf.o"), "{e}");
    assert_said_once(&e);
}

/// `is_permission` / `is_unsupported` / `is_not_found` say what happened, per case.
#[test]
fn error_classification_per_case() {
    // A tracepoint that does not exist: not found, not "unsupported".
    let obj = ObjectBuilder::new()
        .open_file(testdata().join("bpf/out/clang19/attach_trace.bpf.o"))
        .unwrap();
    let mut obj = obj;
    obj.load_only(&["tp_getpid"]).unwrap();
    let obj = obj.load().unwrap();
    let prog = obj.program("tp_getpid").unwrap();
    let e = prog
        .attach_tracepoint("syscalls", "sys_enter_no_such_call")
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert!(!e.is_unsupported(), "{e:?}");
    assert!(!e.is_permission(), "{e:?}");
    // A pin path where this process may not write (EACCES as an unprivileged user is the
    // classic case; as root, a read-only bind mount gives EROFS, so use the errno directly).
    let pin = corebpf::pin::PinError::Io {
        path: "/sys/fs/bpf/x".into(),
        error: std::io::Error::from_raw_os_error(libc::EACCES),
    };
    let e = corebpf::Error::Pin {
        what: "pinning map 'm' at /sys/fs/bpf/x".into(),
        error: pin,
    };
    assert!(
        e.is_permission(),
        "EACCES on a pin path is a permission error"
    );
}

/// A malformed object file's error names the file; lookups by name have `?` forms.
#[test]
fn errors_name_the_file_and_the_missing_name() {
    let bad = testdata().join("bpf/out/malformed/truncated_section.bpf.o");
    let e = ObjectBuilder::new().open_file(&bad).unwrap_err();
    assert!(matches!(e, corebpf::Error::ObjectFile { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!("{}: ", bad.display())),
        "{e}"
    );
    let obj = ObjectBuilder::new()
        .open_file(testdata().join("bpf/out/clang19/tp_ctx_too_big.bpf.o"))
        .unwrap()
        .load()
        .unwrap();
    assert!(obj.try_program("read_too_far").is_ok());
    let e = obj.try_program("nope").unwrap_err().to_string();
    assert_eq!(e, "no program named 'nope' in object 'tp_ctx_too_big'");
    let e = obj.try_map("nope").unwrap_err().to_string();
    assert_eq!(e, "no map named 'nope' in object 'tp_ctx_too_big'");
}

/// A tracepoint program reading past its tracepoint's record: the kernel's EACCES is
/// explained, not left to read as a privilege problem.
#[test]
fn tracepoint_context_too_big_is_explained() {
    let obj = ObjectBuilder::new()
        .open_file(testdata().join("bpf/out/clang19/tp_ctx_too_big.bpf.o"))
        .unwrap()
        .load()
        .unwrap();
    let e = obj
        .try_program("read_too_far")
        .unwrap()
        .attach()
        .unwrap_err();
    let text = e.to_string();
    assert_eq!(e.raw_errno(), Some(libc::EACCES), "{text}");
    assert!(
        text.contains("reads its context past the end of this tracepoint's record"),
        "{text}"
    );
}
