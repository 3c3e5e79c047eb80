//! The static linker on the `testdata/bpf/link/` project (link_main + link_lib, built by
//! clang 14 and 19): the linked object parses and every program links, in either input
//! order; externs resolve to definitions, strong beats weak, static functions of the same
//! name stay apart, BTF is deduplicated, `.BTF.ext` follows the code; conflicts are typed
//! errors naming the symbol and both inputs; malformed inputs never panic.
//! (`crates/cli/tests/link.rs` compares with `bpftool gen object`; `crates/corebpf/tests/
//! link.rs` loads and runs the result.)

use std::path::PathBuf;

use corebpf_obj::linker::{link, LinkError};
use corebpf_obj::{MapKind, Object, ObjectSpec};

const CLANGS: [&str; 2] = ["clang14", "clang19"];

fn path(clang: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/bpf/out/link")
        .join(clang)
        .join(format!("{name}.bpf.o"))
}

fn read(clang: &str, name: &str) -> Vec<u8> {
    std::fs::read(path(clang, name)).unwrap()
}

/// Links the named testdata objects, in this order.
fn link_named(clang: &str, names: &[&str]) -> Result<Vec<u8>, LinkError> {
    let bytes: Vec<Vec<u8>> = names.iter().map(|n| read(clang, n)).collect();
    let inputs: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&bytes)
        .map(|(n, b)| (*n, &b[..]))
        .collect();
    link(&inputs)
}

fn project(clang: &str, names: &[&str]) -> ObjectSpec {
    let linked = link_named(clang, names).unwrap_or_else(|e| panic!("{clang}: {e}"));
    Object::parse_named(&linked, "linked").unwrap_or_else(|e| panic!("{clang} {names:?}: {e}"))
}

#[test]
fn project_links_in_either_order() {
    for clang in CLANGS {
        for order in [["link_main", "link_lib"], ["link_lib", "link_main"]] {
            let spec = project(clang, &order);
            let mut progs: Vec<&str> = spec.programs.iter().map(|p| p.name.as_str()).collect();
            progs.sort();
            assert_eq!(
                progs,
                ["lib_prog", "main_map", "main_prog", "main_weak"],
                "{clang} {order:?}"
            );
            for p in &spec.programs {
                assert_eq!(p.section, "syscall");
                let linked = spec
                    .link_program_by_name(&p.name)
                    .unwrap_or_else(|e| panic!("{clang} {order:?} {}: {e}", p.name));
                assert!(!linked.func_info.is_empty() && !linked.line_info.is_empty());
            }
            // Two static `helper`s (one per file), one of each global subprogram.
            let helpers = spec.functions.iter().filter(|f| f.name == "helper").count();
            assert_eq!(helpers, 2, "{clang} {order:?}");
            for f in [
                "lib_add",
                "lib_core",
                "bump",
                "weak_fn",
                "both_weak",
                "lib_hidden",
            ] {
                assert_eq!(
                    spec.functions.iter().filter(|x| x.name == f).count(),
                    1,
                    "{f}"
                );
            }
            check_maps(&spec, clang);
            check_btf(&spec, clang);
        }
    }
}

fn check_maps(spec: &ObjectSpec, clang: &str) {
    let shared = spec.map("shared_map").expect("shared_map");
    assert_eq!(shared.kind, MapKind::Btf);
    assert_eq!(
        (shared.key_size, shared.value_size, shared.max_entries),
        (4, 16, 4)
    );
    let maps = spec.maps.iter().filter(|m| m.name == "shared_map").count();
    assert_eq!(
        maps, 1,
        "{clang}: the extern map resolved to the definition"
    );
    // .data holds main's strong weak_var (42) and lib's lib_counter (5) and weak weak_var.
    let data = spec
        .maps
        .iter()
        .find(|m| m.section == ".data")
        .expect(".data");
    let bytes = data.data.as_ref().expect(".data contents");
    assert_eq!(bytes.len(), 12, "{clang}");
    assert!(spec
        .externs
        .iter()
        .any(|e| e.name == "LINUX_KERNEL_VERSION"));
}

fn check_btf(spec: &ObjectSpec, clang: &str) {
    let btf = spec.btf.as_ref().expect("BTF");
    let count = |name: &str, kind| {
        btf.types()
            .filter(|t| t.kind() == kind && t.name() == name)
            .count()
    };
    use corebpf_btf::Kind;
    // Header types both files include: one copy each after dedup.
    assert_eq!(count("stats", Kind::Struct), 1, "{clang}");
    assert_eq!(count("bpf_map_type", Kind::Enum), 1, "{clang}");
    assert_eq!(count("int", Kind::Int), 1, "{clang}");
    // An extern and its definition: one FUNC, global, with named parameters.
    assert_eq!(count("lib_add", Kind::Func), 1, "{clang}");
    let lib_add = btf.types().find(|t| t.name() == "lib_add").unwrap();
    assert_eq!(lib_add.linkage(), Some(corebpf_btf::Linkage::Global));
    let proto = btf.type_by_id(lib_add.type_id().unwrap()).unwrap();
    let names: Vec<&str> = proto.params().map(|p| p.name()).collect();
    assert_eq!(names, ["a", "b"]);
    // The extern variable resolved: lib_counter is a global VAR in .data.
    let data = btf
        .types()
        .find(|t| t.kind() == Kind::Datasec && t.name() == ".data")
        .unwrap();
    let vars: Vec<String> = data
        .datasec_vars()
        .map(|v| btf.type_by_id(v.type_id).unwrap().name().to_string())
        .collect();
    assert!(vars.contains(&"lib_counter".to_string()), "{vars:?}");
    assert_eq!(
        vars.iter().filter(|v| *v == "weak_var").count(),
        1,
        "{vars:?}"
    );
    assert!(btf
        .types()
        .all(|t| t.kind() != Kind::Datasec || t.name() != ".extern"));
}

#[test]
fn strong_definition_wins_over_weak_in_either_order() {
    for clang in CLANGS {
        for order in [["link_main", "link_lib"], ["link_lib", "link_main"]] {
            let spec = project(clang, &order);
            // main's strong weak_fn returns x + 2: `r0 = r1; r0 += 2` (lib's weak one adds 1).
            let f = spec.function("weak_fn").unwrap();
            let imms: Vec<i32> = f.insns.iter().map(|i| i.imm).collect();
            assert!(
                imms.contains(&2) && !imms.contains(&1),
                "{clang} {order:?}: {imms:?}"
            );
            let data = spec.maps.iter().find(|m| m.section == ".data").unwrap();
            let bytes = data.data.as_ref().unwrap();
            let btf = spec.btf.as_ref().unwrap();
            let sec = btf
                .types()
                .find(|t| t.kind() == corebpf_btf::Kind::Datasec && t.name() == ".data")
                .unwrap();
            let weak_var = sec
                .datasec_vars()
                .find(|v| btf.type_by_id(v.type_id).unwrap().name() == "weak_var")
                .unwrap();
            let off = weak_var.offset as usize;
            let v = i32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
            assert_eq!(v, 42, "{clang} {order:?}: the strong weak_var");
        }
    }
}

#[test]
fn first_weak_definition_wins_and_hidden_stays_hidden() {
    for clang in CLANGS {
        for (order, add) in [
            (["link_main", "link_lib"], 20),
            (["link_lib", "link_main"], 10),
        ] {
            let spec = project(clang, &order);
            let f = spec.function("both_weak").unwrap();
            assert!(f.insns.iter().any(|i| i.imm == add), "{clang} {order:?}");
            // __hidden in the definition: the parser gives it a static BTF FUNC, as libbpf.
            let btf = spec.btf.as_ref().unwrap();
            let t = btf.types().find(|t| t.name() == "lib_hidden").unwrap();
            assert_eq!(
                t.linkage(),
                Some(corebpf_btf::Linkage::Static),
                "{clang} {order:?}"
            );
        }
    }
}

#[test]
fn duplicate_strong_definition_names_symbol_and_both_inputs() {
    for clang in CLANGS {
        let e = link_named(clang, &["link_lib", "link_bad_dup"]).unwrap_err();
        assert_eq!(
            e,
            LinkError::DuplicateDefinition {
                symbol: "lib_add".into(),
                first: "link_lib".into(),
                second: "link_bad_dup".into(),
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("'lib_add'")
                && msg.contains("'link_lib'")
                && msg.contains("'link_bad_dup'"),
            "{msg}"
        );
    }
}

#[test]
fn incompatible_map_definition_is_refused() {
    for clang in CLANGS {
        for order in [["link_lib", "link_bad_map"], ["link_bad_map", "link_lib"]] {
            let e = link_named(clang, &order).unwrap_err();
            let LinkError::Incompatible {
                symbol,
                first,
                second,
                reason,
            } = &e
            else {
                panic!("{clang}: {e:?}");
            };
            assert_eq!(symbol, "shared_map");
            assert_eq!((first.as_str(), second.as_str()), (order[0], order[1]));
            assert!(reason.contains("max_entries"), "{reason}");
        }
    }
}

#[test]
fn incompatible_variable_type_is_refused() {
    for clang in CLANGS {
        let e = link_named(clang, &["link_lib", "link_bad_var"]).unwrap_err();
        let LinkError::Incompatible {
            symbol,
            first,
            second,
            reason,
        } = &e
        else {
            panic!("{clang}: {e:?}");
        };
        assert_eq!(
            (symbol.as_str(), first.as_str(), second.as_str()),
            ("lib_counter", "link_lib", "link_bad_var")
        );
        assert!(
            reason.contains("int") && reason.contains("long"),
            "{reason}"
        );
    }
}

#[test]
fn unresolved_strong_extern_is_refused() {
    for clang in CLANGS {
        let e = link_named(clang, &["link_lib", "link_bad_unresolved"]).unwrap_err();
        assert_eq!(
            e,
            LinkError::Unresolved {
                symbol: "nowhere".into(),
                input: "link_bad_unresolved".into(),
            }
        );
        // The main half alone: its externs stay unresolved.
        let e = link_named(clang, &["link_main"]).unwrap_err();
        assert!(matches!(e, LinkError::Unresolved { .. }), "{e:?}");
        // An extern map (its .maps section has no data, only BTF) is not left for later.
        let e = link_named(clang, &["link_bad_map"]).unwrap_err();
        assert_eq!(
            e,
            LinkError::Unresolved {
                symbol: "shared_map".into(),
                input: "link_bad_map".into(),
            }
        );
    }
}

#[test]
fn one_object_links_to_an_equivalent_one() {
    for clang in CLANGS {
        let spec = project(clang, &["link_lib"]);
        let orig = Object::parse_named(&read(clang, "link_lib"), "linked").unwrap();
        assert_eq!(spec.programs.len(), orig.programs.len());
        for (a, b) in spec.functions.iter().zip(&orig.functions) {
            assert_eq!((a.name.as_str(), &a.insns), (b.name.as_str(), &b.insns));
        }
    }
}

#[test]
fn no_inputs_and_garbage_are_errors() {
    assert_eq!(link(&[]).unwrap_err(), LinkError::NoInputs);
    let e = link(&[("junk", b"not an elf")]).unwrap_err();
    assert!(
        matches!(&e, LinkError::Input { input, .. } if input == "junk"),
        "{e:?}"
    );
}

/// Every byte of both inputs, changed in turn to a few values: an error or an object,
/// never a panic (the `link` fuzz target does this at random).
#[test]
fn mutated_inputs_never_panic() {
    let main = read("clang19", "link_main");
    let lib = read("clang19", "link_lib");
    for (which, base) in [(0, &main), (1, &lib)] {
        for at in (0..base.len()).step_by(4) {
            for v in [0u8, 0xff, base[at].wrapping_add(1)] {
                let mut m = base.clone();
                m[at] = v;
                let (a, b) = if which == 0 { (&m, &lib) } else { (&main, &m) };
                if let Ok(out) = link(&[("a", a), ("b", b)]) {
                    let _ = Object::parse_named(&out, "x");
                }
            }
        }
    }
}

/// The `link` fuzz target's regression inputs (`fuzz/regressions/link/`).
fn link_regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/link")
}

/// A `link` fuzz input (`u16` LE length n, n bytes of the first object, then the second)
/// linked as the target does: the two, then the second with itself. Parses what links.
fn link_fuzz_input(data: &[u8]) -> Vec<Result<Vec<u8>, LinkError>> {
    let (len, rest) = data.split_first_chunk::<2>().expect("a length");
    let at = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (a, b) = rest.split_at(at);
    [[("a", a), ("b", b)], [("b", b), ("b2", b)]]
        .iter()
        .map(|inputs| {
            let out = link(inputs);
            if let Ok(out) = &out {
                let _ = Object::parse_named(out, "x");
            }
            out
        })
        .collect()
}

/// Every input the `link` fuzz target crashed on links or fails with a typed error.
#[test]
fn fuzz_regressions_link_or_fail_cleanly() {
    let mut n = 0;
    for entry in std::fs::read_dir(link_regressions()).unwrap() {
        link_fuzz_input(&std::fs::read(entry.unwrap().path()).unwrap());
        n += 1;
    }
    assert!(n > 0, "no inputs in {}", link_regressions().display());
}

/// The errors of linking regression input `name` as the `link` fuzz target does.
fn regression_errors(name: &str) -> Vec<String> {
    let data = std::fs::read(link_regressions().join(name)).unwrap();
    link_fuzz_input(&data)
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect()
}

/// An input whose symbol table is empty (not even the null symbol) is refused by name.
#[test]
fn empty_symbol_table_is_refused() {
    let errors = regression_errors("empty_symtab.bin");
    assert!(
        errors.iter().any(|e| e.contains("lacks the null symbol")),
        "{errors:?}"
    );
}

/// A NOBITS section whose stated size would take its output section past 4 GiB (an
/// addition that overflowed) is refused by name.
#[test]
fn oversized_nobits_section_is_refused() {
    let errors = regression_errors("nobits_size_overflows.bin");
    assert!(
        errors.iter().any(|e| e.contains("larger than 4 GiB")),
        "{errors:?}"
    );
}
