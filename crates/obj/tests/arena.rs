//! Arena maps in the object model: `map_extra` as ENUM64 (clang 19's `__ulong`), as a 32-bit
//! ENUM (clang 14) and as PTR (`__uint`); the `__arena` globals of `.addr_space.1` given to
//! the arena map and the programs' references to them; errors for a `map_extra` of a wrong
//! kind, a second arena, and `__arena` globals without an arena.

mod common;

use common::{parse, path};
use corebpf_abi::consts::BPF_F_MMAPABLE;
use corebpf_abi::MapType;
use corebpf_obj::{MapKind, MapRelocKind, ObjError, Object, RelocKind, ARENA_SEC};

/// The bytes of `testdata/bpf/out/<clang>/<name>.bpf.o`.
fn bytes(clang: &str, name: &str) -> Vec<u8> {
    std::fs::read(path(clang, &format!("{name}.bpf.o"))).unwrap()
}

/// `data` with the first occurrence of `from` replaced by `to` (same length).
fn patch(mut data: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = data
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern in the object");
    assert!(
        data[at + 1..].windows(from.len()).all(|w| w != from),
        "pattern is not unique"
    );
    data[at..at + to.len()].copy_from_slice(to);
    data
}

/// The BTF type header of `arena_list`'s `map_extra` enum in clang 19's object: no name,
/// ENUM64 (kind 19) with one value, 8 bytes.
fn enum64_header(kind: u32) -> Vec<u8> {
    [0u32, kind << 24 | 1, 8]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

#[test]
fn map_extra_enum64_and_arena_globals() {
    let spec = parse("clang19", "arena_list");
    let m = spec.map("arena").unwrap();
    assert_eq!(m.map_type, MapType::Arena);
    assert_eq!(m.kind, MapKind::Btf);
    assert!(m.is_arena());
    assert_eq!(
        m.map_extra,
        1 << 44,
        "__ulong(map_extra, 1ull << 44): ENUM64"
    );
    assert_eq!((m.key_size, m.value_size, m.max_entries), (0, 0, 16));
    assert_eq!(m.map_flags, BPF_F_MMAPABLE);
    // The arena holds .addr_space.1: magic (0xc0ffee), list_head, node_count.
    let data = m.data.as_ref().expect("__arena globals");
    assert_eq!(data.len(), 20);
    assert_eq!(m.value_ref_limit(), 20);
    let btf = spec.btf.as_ref().unwrap();
    let ds = btf
        .type_by_id(
            btf.find_by_name_kind(ARENA_SEC, corebpf_btf::Kind::Datasec)
                .unwrap(),
        )
        .unwrap();
    let vars: Vec<(String, u32, u32)> = ds
        .datasec_vars()
        .map(|v| {
            let name = btf.type_by_id(v.type_id).unwrap().name().to_string();
            (name, v.offset, v.size)
        })
        .collect();
    let magic = vars
        .iter()
        .find(|v| v.0 == "magic")
        .expect("magic in DATASEC");
    let at = magic.1 as usize;
    assert_eq!(
        u64::from_le_bytes(data[at..at + 8].try_into().unwrap()),
        0xc0ffee
    );
    assert_eq!(vars.len(), 3, "{vars:?}");
    // No internal data map for .addr_space.1: only the arena.
    assert_eq!(spec.maps.len(), 1);
}

#[test]
fn program_references_to_arena_globals() {
    let spec = parse("clang19", "arena_list");
    let arena = spec.map_index("arena").unwrap();
    let f = spec.function("arena_list_build").unwrap();
    let data_relocs: Vec<_> = f
        .relocs
        .iter()
        .filter_map(|r| match r.kind {
            RelocKind::Data { map, sym_off } => Some((r.symbol.clone(), map, sym_off)),
            _ => None,
        })
        .collect();
    assert!(!data_relocs.is_empty());
    for (sym, map, off) in &data_relocs {
        assert_eq!(*map, arena, "{sym}");
        assert!(*off < 20, "{sym} at {off}");
    }
    let linked = spec.link_program_by_name("arena_list_build").unwrap();
    // Every reference is to the arena: its fd (`&arena` for bpf_arena_alloc_pages) or an
    // offset into its globals (which the loader moves to where it puts them).
    let mut values = 0;
    for r in &linked.map_relocs {
        assert_eq!(r.map, arena);
        if let MapRelocKind::Value { offset } = r.kind {
            assert!(offset < 20);
            values += 1;
        }
    }
    assert_eq!(values, data_relocs.len());
}

#[test]
fn map_extra_enum_from_clang14_and_ptr() {
    // clang 14 has no ENUM64: its __ulong is a 32-bit ENUM (here holding 0).
    let spec = parse("clang14", "arena_list");
    let m = spec.map("arena").unwrap();
    assert_eq!((m.map_type, m.map_extra), (MapType::Arena, 0));
    assert_eq!(m.data, None, "clang 14 objects have no __arena globals");
    let btf = spec.btf.as_ref().unwrap();
    assert!(btf.types().any(|t| t.kind() == corebpf_btf::Kind::Enum));
    assert!(!btf.types().any(|t| t.kind() == corebpf_btf::Kind::Enum64));
    // __uint(map_extra, 3): a PTR to an array of 3.
    for clang in common::CLANGS {
        assert_eq!(
            parse(clang, "obj_maps").map("m_bloom").unwrap().map_extra,
            3
        );
    }
}

#[test]
fn map_extra_of_a_wrong_kind_names_the_map() {
    // The ENUM64 becomes a STRUCT (kind 4) of the same size: its enumerator reads as one
    // member of type void, so the BTF stays valid and only map_extra is wrong.
    let data = patch(
        bytes("clang19", "arena_list"),
        &enum64_header(19),
        &enum64_header(4),
    );
    let err = Object::parse_named(&data, "arena_list").unwrap_err();
    assert_eq!(
        err,
        ObjError::Map {
            map: "arena".into(),
            section: ".maps".into(),
            reason: "attr 'map_extra': expected PTR, ENUM or ENUM64, got struct".into(),
        },
        "{err}"
    );
}

#[test]
fn arena_globals_need_an_arena_map() {
    // The map type 33 (an ARRAY of 33 ints) becomes 2: an ARRAY map holding no globals.
    let nelems = |n: u32| -> Vec<u8> {
        [2u32, 4, n] // ARRAY: elem type [2] int, index type [4], nelems
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    };
    let data = patch(bytes("clang19", "arena_list"), &nelems(33), &nelems(2));
    let err = Object::parse_named(&data, "arena_list").unwrap_err();
    assert_eq!(
        err.to_string(),
        "section '.addr_space.1': to use global __arena variables the ARENA map must be declared in SEC(\".maps\")"
    );
}
