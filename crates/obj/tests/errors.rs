//! Subtly wrong and malformed objects give typed errors naming symbol and section; every
//! testdata object parses (or fails cleanly) and all its programs link.

mod common;

use common::{path, CLANGS};
use corebpf_obj::{ObjError, Object};

fn parse_err(dir: &str, file: &str) -> ObjError {
    let bytes = std::fs::read(path(dir, file)).unwrap();
    Object::parse(&bytes).expect_err(file)
}

#[test]
fn bad_fixtures() {
    for clang in CLANGS {
        match parse_err(clang, "bad_map_no_type.bpf.o") {
            ObjError::Map {
                map,
                section,
                reason,
            } => {
                assert_eq!((map.as_str(), section.as_str()), ("no_type", ".maps"));
                assert!(reason.contains("type"), "{reason}");
            }
            e => panic!("{clang}: {e:?}"),
        }
        // A plain `extern` is a symbol nothing defines: the object parses, the program
        // using it fails to link, naming program, symbol and instruction.
        let spec = Object::from_file(path(clang, "bad_extern_unknown.bpf.o")).unwrap();
        match spec.link_program_by_name("uses_undefined") {
            Err(ObjError::Undefined {
                program,
                symbol,
                section,
                insn,
                call,
                ..
            }) => {
                assert_eq!(
                    (program.as_str(), symbol.as_str(), section.as_str()),
                    ("uses_undefined", "corebpf_undefined_global", "syscall")
                );
                assert_eq!((insn, call), (0, false));
            }
            r => panic!("{clang}: {r:?}"),
        }
    }
}

#[test]
fn malformed() {
    match parse_err("malformed", "truncated_section.bpf.o") {
        ObjError::Section { section, .. } => assert_eq!(section, "syscall"),
        e => panic!("{e:?}"),
    }
    match parse_err("malformed", "reloc_missing_symbol.bpf.o") {
        ObjError::Reloc {
            section,
            insn,
            symbol,
            ..
        } => {
            assert_eq!(
                (section.as_str(), insn, symbol.as_str()),
                ("syscall", 0, "#15")
            )
        }
        e => panic!("{e:?}"),
    }
    assert!(matches!(
        parse_err("malformed", "btf_bad_magic.bpf.o"),
        ObjError::Btf {
            section: ".BTF",
            ..
        }
    ));
    assert!(matches!(
        parse_err("malformed", "btf_ext_truncated.bpf.o"),
        ObjError::Btf {
            section: ".BTF.ext",
            ..
        }
    ));
    // Calls are resolved at link time: the object parses, the program doesn't link.
    let spec = Object::from_file(path("malformed", "call_mid_function.bpf.o")).unwrap();
    match spec.link_program_by_name("subprog_chain") {
        Err(ObjError::Call {
            program,
            function,
            section,
            insn,
            reason,
        }) => {
            assert_eq!(
                (program.as_str(), function.as_str(), section.as_str(), insn),
                ("subprog_chain", "subprog_chain", "syscall", 1)
            );
            assert!(reason.contains("not the start of a function"), "{reason}");
        }
        r => panic!("{r:?}"),
    }
    spec.link_program_by_name("subprog_loop").unwrap();
}

#[test]
fn every_testdata_object_parses_and_links() {
    let mut n = 0;
    for dir in CLANGS {
        for entry in std::fs::read_dir(path(dir, "")).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap();
            let res = Object::parse_named(&bytes, "x");
            if name == "bad_map_no_type.bpf.o" || name.starts_with("bad_struct_ops_") {
                assert!(res.is_err());
                continue;
            }
            let spec = res.unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
            assert_eq!(spec.license, "GPL", "{name}");
            for i in 0..spec.programs.len() {
                let linked = spec.link_program(i);
                // These fixtures reach symbols nothing defines (tests/permissive.rs).
                if name == "bad_extern_unknown.bpf.o" || name == "perm_undefined.bpf.o" {
                    let undefined = spec.undefined_symbols(i).unwrap();
                    assert_eq!(linked.is_err(), !undefined.is_empty(), "{dir}/{name}");
                    continue;
                }
                linked.unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
            }
            n += 1;
        }
    }
    assert!(n > 80);
}

#[test]
fn unknown_section_is_a_program_error() {
    // Rename obj_multi_prog_sec's "xdp" section to "xdq" (same length): both XDP programs
    // get an UnknownSection error, the tracepoint programs are intact.
    let mut bytes = std::fs::read(path("clang19", "obj_multi_prog_sec.bpf.o")).unwrap();
    let pos = bytes.windows(4).position(|w| w == b"xdp\0").unwrap();
    bytes[pos + 2] = b'q';
    let spec = Object::parse(&bytes).unwrap();
    for p in &spec.programs {
        if p.section == "xdq" {
            assert!(
                matches!(&p.error, Some(ObjError::UnknownSection { program, section }) if *program == p.name && section == "xdq")
            );
        } else {
            assert!(p.error.is_none());
        }
    }
}

/// Every prefix and some byte flips of real objects: errors, never panics.
#[test]
fn truncations_and_flips_never_panic() {
    for file in [
        "obj_subprogs.bpf.o",
        "obj_maps.bpf.o",
        "obj_externs_ksyms.bpf.o",
        "run_map_in_map.bpf.o",
    ] {
        let bytes = std::fs::read(path("clang19", file)).unwrap();
        for len in (0..bytes.len()).step_by(7) {
            let _ = Object::parse(&bytes[..len]);
        }
        let mut x = 0x2545F491u32;
        for _ in 0..400 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut b = bytes.clone();
            let i = x as usize % b.len();
            b[i] ^= (x >> 24) as u8 | 1;
            if let Ok(spec) = Object::parse(&b) {
                for p in 0..spec.programs.len() {
                    let _ = spec.link_program(p);
                }
            }
        }
    }
}
