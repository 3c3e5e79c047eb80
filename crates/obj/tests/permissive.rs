//! Objects libbpf refuses or mistreats and corebpf accepts (issue 13, items 3 and 8), from
//! `testdata/bpf/perm/`: hidden global functions and variables made static in the BTF, static
//! entry programs, iproute2's `struct bpf_elf_map`, and symbols nothing defines.

mod common;

use common::{parse, path, CLANGS};
use corebpf_abi::consts::BPF_F_MMAPABLE;
use corebpf_abi::MapType;
use corebpf_btf::{Kind, Linkage};
use corebpf_obj::{ObjError, Object, ObjectSpec, Pinning, SlotTarget};

/// The linkage of the BTF FUNC or VAR named `name` in the object's (fixed-up) BTF.
fn linkage(spec: &ObjectSpec, kind: Kind, name: &str) -> Option<Linkage> {
    let btf = spec.btf.as_ref().unwrap();
    let id = btf.find_by_name_kind(name, kind).unwrap();
    btf.type_by_id(id).unwrap().linkage()
}

#[test]
fn hidden_globals_are_static_in_btf() {
    for clang in CLANGS {
        let spec = parse(clang, "perm_hidden_func");
        for (f, hidden) in [
            ("hidden_store", true),
            ("weak_hidden_store", true),
            ("global_store", false),
        ] {
            let func = spec.function(f).unwrap();
            assert!(func.global && func.program.is_none(), "{clang}: {f}");
            assert_eq!(func.hidden, hidden, "{clang}: {f}");
            let want = if hidden {
                Linkage::Static
            } else {
                Linkage::Global
            };
            assert_eq!(linkage(&spec, Kind::Func, f), Some(want), "{clang}: {f}");
        }
        // Programs keep their linkage (libbpf marks subprograms only).
        assert_eq!(
            linkage(&spec, Kind::Func, "hidden_call"),
            Some(Linkage::Global)
        );
        assert_eq!(
            linkage(&spec, Kind::Var, "hidden_total"),
            Some(Linkage::Static)
        );
        assert_eq!(
            linkage(&spec, Kind::Var, "shown_total"),
            Some(Linkage::Global)
        );
        // A section holding only static variables is not mmapable (libbpf's rule).
        let hid = spec.maps.iter().find(|m| m.section == ".data.hid").unwrap();
        assert_eq!(hid.map_flags & BPF_F_MMAPABLE, 0, "{clang}");
        let shown = spec
            .maps
            .iter()
            .find(|m| m.section == ".data.shown")
            .unwrap();
        assert_ne!(shown.map_flags & BPF_F_MMAPABLE, 0, "{clang}");
        // Both programs link: the hidden helpers are appended as usual.
        let l = spec.link_program_by_name("hidden_call").unwrap();
        assert_eq!(l.layout.len(), 3, "{clang}");
        assert_eq!(l.func_info.len(), 3, "{clang}");
    }
}

#[test]
fn static_entry_programs() {
    for clang in CLANGS {
        let spec = parse(clang, "perm_static_prog");
        let names: Vec<_> = spec.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "static_seven",
                "static_twice",
                "static_calls_static",
                "global_three"
            ],
            "{clang}"
        );
        for p in &spec.programs {
            assert!(p.error.is_none(), "{clang}: {}: {:?}", p.name, p.error);
            let global = spec.functions[p.function].global;
            assert_eq!(global, p.name == "global_three", "{clang}: {}", p.name);
        }
        // A static program called by another is appended to it like any subprogram.
        let l = spec.link_program_by_name("static_calls_static").unwrap();
        let appended: Vec<_> = l
            .layout
            .iter()
            .map(|pl| spec.functions[pl.function].name.as_str())
            .collect();
        assert_eq!(appended, ["static_calls_static", "static_twice"], "{clang}");
    }
}

#[test]
fn iproute2_elf_maps() {
    for clang in CLANGS {
        let spec = parse(clang, "perm_iproute2_maps");
        let counts = spec.map("pinned_counts").unwrap();
        assert_eq!(
            (counts.map_type, counts.key_size, counts.value_size),
            (MapType::Array, 4, 8)
        );
        assert_eq!(counts.pinning, Pinning::ByName, "{clang}");
        let inner = spec.map("inner_vals").unwrap();
        assert_eq!(inner.pinning, Pinning::None);
        assert!(inner.inner.is_none() && inner.init_slots.is_empty());
        let outer = spec.map("outer").unwrap();
        assert_eq!(outer.map_type, MapType::ArrayOfMaps);
        let template = outer.inner.as_ref().expect("inner template");
        assert_eq!(
            (
                template.map_type,
                template.key_size,
                template.value_size,
                template.max_entries
            ),
            (MapType::Array, 4, 4, 1)
        );
        assert_eq!(outer.init_slots.len(), 1, "{clang}");
        assert_eq!(outer.init_slots[0].index, 0);
        assert_eq!(
            outer.init_slots[0].target,
            SlotTarget::Map(spec.map_index("inner_vals").unwrap())
        );
        spec.link_program_by_name("elf_maps_count").unwrap();
    }
}

/// The clang 19 object with the 36 bytes of map `name`'s definition changed by `patch`.
fn patched_elf_maps(record: &[u32; 9], patch: impl Fn(&mut [u32; 9])) -> Vec<u8> {
    let mut bytes = std::fs::read(path("clang19", "perm_iproute2_maps.bpf.o")).unwrap();
    let find: Vec<u8> = record.iter().flat_map(|w| w.to_le_bytes()).collect();
    let at = bytes
        .windows(find.len())
        .position(|w| w == find.as_slice())
        .unwrap();
    let mut new = *record;
    patch(&mut new);
    let new: Vec<u8> = new.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes[at..at + new.len()].copy_from_slice(&new);
    bytes
}

#[test]
fn iproute2_elf_map_errors_name_the_map() {
    let counts = [2, 4, 8, 4, 0, 0, 2, 0, 0];
    let bytes = patched_elf_maps(&counts, |r| r[6] = 3);
    match Object::parse(&bytes) {
        Err(ObjError::Map {
            map,
            section,
            reason,
        }) => {
            assert_eq!((map.as_str(), section.as_str()), ("pinned_counts", "maps"));
            assert!(reason.contains("pinning 3"), "{reason}");
        }
        r => panic!("{r:?}"),
    }
    let outer = [12, 4, 4, 1, 0, 0, 0, 42, 0];
    let bytes = patched_elf_maps(&outer, |r| r[7] = 43);
    match Object::parse(&bytes) {
        Err(ObjError::Map { map, reason, .. }) => {
            assert_eq!(map, "outer");
            assert!(reason.contains("inner_id 43 names no map"), "{reason}");
        }
        r => panic!("{r:?}"),
    }
    // inner_idx -1 puts the inner map in no slot; it is still the template.
    let inner = [2, 4, 4, 1, 0, 42, 0, 0, 0];
    let spec = Object::parse(&patched_elf_maps(&inner, |r| r[8] = u32::MAX)).unwrap();
    let outer = spec.map("outer").unwrap();
    assert!(outer.inner.is_some() && outer.init_slots.is_empty());
}

#[test]
fn undefined_symbols_fail_only_their_programs() {
    for clang in CLANGS {
        let mut spec = parse(clang, "perm_undefined");
        assert!(spec.programs.iter().all(|p| p.error.is_none()));
        let undefined = |spec: &ObjectSpec, p: &str| -> Vec<(String, bool)> {
            let i = spec.program_index(p).unwrap();
            let u = spec.undefined_symbols(i).unwrap();
            u.into_iter().map(|u| (u.symbol, u.call)).collect()
        };
        assert_eq!(
            undefined(&spec, "asm_const"),
            [("PERM_CONST".to_string(), false)]
        );
        assert_eq!(
            undefined(&spec, "calls_fwd"),
            [("perm_fwd".to_string(), true)]
        );
        assert!(undefined(&spec, "plain").is_empty());
        // The kernel takes no extern linkage nor unnamed params: the declared-only function
        // goes global with named params in the BTF that is loaded.
        assert_eq!(
            linkage(&spec, Kind::Func, "perm_fwd"),
            Some(Linkage::Global)
        );
        let btf = spec.btf.as_ref().unwrap();
        let fwd = btf.find_by_name_kind("perm_fwd", Kind::Func).unwrap();
        let proto = btf.type_by_id(btf.type_by_id(fwd).unwrap().type_id().unwrap());
        assert!(proto.unwrap().params().all(|p| p.name_off != 0));
        spec.link_program_by_name("plain").unwrap();
        match spec.link_program_by_name("calls_fwd") {
            Err(e @ ObjError::Undefined { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("prog 'calls_fwd'")
                        && text.contains("calls undefined function 'perm_fwd'"),
                    "{text}"
                );
            }
            r => panic!("{clang}: {r:?}"),
        }
        let e = spec.link_program_by_name("asm_const").unwrap_err();
        assert!(
            e.to_string()
                .contains("loads undefined symbol 'PERM_CONST'"),
            "{e}"
        );

        // Only an LD_IMM64 takes a value; an unknown name is an error too.
        assert!(matches!(
            spec.set_symbol_value("perm_fwd", 1),
            Err(ObjError::Symbol { symbol, .. }) if symbol == "perm_fwd"
        ));
        assert!(matches!(
            spec.set_symbol_value("nope", 1),
            Err(ObjError::NoSuchSymbol(s)) if s == "nope"
        ));
        assert_eq!(
            spec.set_symbol_value("PERM_CONST", 0x1_0000_002a).unwrap(),
            1
        );
        let l = spec.link_program_by_name("asm_const").unwrap();
        assert!(l.insns[0].is_ldimm64() && l.insns[0].src == 0);
        assert_eq!((l.insns[0].imm, l.insns[1].imm), (42, 1), "{clang}");
        assert!(undefined(&spec, "asm_const").is_empty());
    }
}
