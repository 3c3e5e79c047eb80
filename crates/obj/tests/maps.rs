//! Map definitions of the testdata objects, field by field against the C sources, for both
//! compilers.

mod common;

use common::{parse, CLANGS};
use corebpf_abi::consts::{BPF_F_MMAPABLE, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_RDONLY_PROG};
use corebpf_abi::{MapType, ProgType};
use corebpf_obj::{DataKind, MapKind, MapRelocKind, Pinning, SlotTarget};

#[test]
fn obj_maps_btf_defined() {
    for clang in CLANGS {
        let spec = parse(clang, "obj_maps");
        assert_eq!(spec.license, "GPL");
        assert_eq!(spec.maps.len(), 15, "{clang}");
        // (name, type, key, value, max_entries, flags, pinning)
        let want: &[(&str, MapType, u32, u32, u32, u32, Pinning)] = &[
            ("m_array", MapType::Array, 4, 8, 4, 0, Pinning::None),
            (
                "m_hash_sized",
                MapType::Hash,
                8,
                16,
                128,
                BPF_F_NO_PREALLOC,
                Pinning::None,
            ),
            (
                "m_percpu_hash",
                MapType::PercpuHash,
                4,
                8,
                16,
                0,
                Pinning::None,
            ),
            (
                "m_percpu_array",
                MapType::PercpuArray,
                4,
                8,
                2,
                0,
                Pinning::None,
            ),
            (
                "m_lru_hash",
                MapType::LruHash,
                8,
                4,
                32,
                BPF_F_NUMA_NODE,
                Pinning::None,
            ),
            (
                "m_lpm",
                MapType::LpmTrie,
                8,
                4,
                64,
                BPF_F_NO_PREALLOC,
                Pinning::None,
            ),
            ("m_queue", MapType::Queue, 0, 4, 8, 0, Pinning::None),
            ("m_stack", MapType::Stack, 0, 8, 8, 0, Pinning::None),
            ("m_bloom", MapType::BloomFilter, 0, 8, 100, 0, Pinning::None),
            ("m_ringbuf", MapType::RingBuf, 0, 0, 16384, 0, Pinning::None),
            ("m_perf", MapType::PerfEventArray, 4, 4, 0, 0, Pinning::None),
            (
                "m_stack_trace",
                MapType::StackTrace,
                4,
                127 * 8,
                16,
                0,
                Pinning::None,
            ),
            ("m_sockmap", MapType::Sockmap, 4, 4, 4, 0, Pinning::None),
            ("m_devmap", MapType::Devmap, 4, 4, 4, 0, Pinning::None),
            ("m_pinned", MapType::Hash, 4, 4, 8, 0, Pinning::ByName),
        ];
        for &(name, ty, k, v, max, flags, pin) in want {
            let m = spec
                .map(name)
                .unwrap_or_else(|| panic!("{clang}: map {name}"));
            assert_eq!(
                (
                    m.map_type,
                    m.key_size,
                    m.value_size,
                    m.max_entries,
                    m.map_flags,
                    m.pinning
                ),
                (ty, k, v, max, flags, pin),
                "{clang}: {name}"
            );
            assert_eq!(m.kind, MapKind::Btf);
            assert_eq!(m.section, ".maps");
            assert!(m.init_slots.is_empty() && m.inner.is_none());
        }
        assert_eq!(spec.map("m_bloom").unwrap().map_extra, 3);
        assert_eq!(spec.map("m_lru_hash").unwrap().numa_node, 0);
        // key/value by __type carry BTF ids; by size only they don't.
        let btf = spec.btf.as_ref().unwrap();
        let pcpu = spec.map("m_percpu_hash").unwrap();
        let vt = btf.type_by_id(pcpu.btf_value_type_id.unwrap()).unwrap();
        assert_eq!(vt.to_string(), "struct pair");
        assert!(spec.map("m_hash_sized").unwrap().btf_key_type_id.is_none());
        assert!(spec.map("m_queue").unwrap().btf_key_type_id.is_none());

        let p = spec.program("obj_maps_touch").unwrap();
        assert_eq!(p.prog_type, ProgType::Xdp);
        let l = spec.link_program_by_name("obj_maps_touch").unwrap();
        let names: Vec<_> = l
            .map_relocs
            .iter()
            .map(|r| spec.maps[r.map].name.as_str())
            .collect();
        assert_eq!(names, ["m_array", "m_queue", "m_bloom"], "{clang}");
        for r in &l.map_relocs {
            assert_eq!(r.kind, MapRelocKind::Fd);
            assert!(l.insns[r.insn_idx].is_ldimm64());
            assert_eq!(l.insns[r.insn_idx].src, corebpf_obj::insn::pseudo::MAP_FD);
        }
    }
}

#[test]
fn obj_legacy_maps() {
    for clang in CLANGS {
        let spec = parse(clang, "obj_legacy_maps");
        assert_eq!(spec.kern_version, Some(0x060100));
        let a = spec.map("legacy_array").unwrap();
        assert_eq!(
            (
                a.kind,
                a.map_type,
                a.key_size,
                a.value_size,
                a.max_entries,
                a.map_flags
            ),
            (MapKind::Legacy, MapType::Array, 4, 8, 4, 0)
        );
        let h = spec.map("legacy_hash").unwrap();
        assert_eq!(
            (
                h.map_type,
                h.key_size,
                h.value_size,
                h.max_entries,
                h.map_flags
            ),
            (MapType::Hash, 4, 4, 16, BPF_F_NO_PREALLOC)
        );
        let p = spec.program("legacy_count").unwrap();
        assert_eq!(
            (p.section.as_str(), p.prog_type),
            ("socket", ProgType::SocketFilter)
        );
        let l = spec.link_program_by_name("legacy_count").unwrap();
        assert_eq!(l.map_relocs.len(), 1);
        assert_eq!(spec.maps[l.map_relocs[0].map].name, "legacy_array");
    }
}

/// (map name, section, kind, size, initial bytes)
type DataCase = (&'static str, &'static str, DataKind, u32, Option<Vec<u8>>);

#[test]
fn obj_globals_data_sections() {
    for clang in CLANGS {
        let spec = parse(clang, "obj_globals");
        // (map name, section, kind, size, initial bytes)
        let want: &[DataCase] = &[
            (
                "obj_glob.rodata",
                ".rodata",
                DataKind::Rodata,
                4,
                Some(3u32.to_le_bytes().to_vec()),
            ),
            (
                ".rodata.bar",
                ".rodata.bar",
                DataKind::Rodata,
                8,
                Some(100u64.to_le_bytes().to_vec()),
            ),
            (
                "obj_glob.data",
                ".data",
                DataKind::Data,
                8,
                Some(5u64.to_le_bytes().to_vec()),
            ),
            (
                ".data.foo",
                ".data.foo",
                DataKind::Data,
                4,
                Some(7u32.to_le_bytes().to_vec()),
            ),
            ("obj_glob.bss", ".bss", DataKind::Bss, 16, None),
        ];
        assert_eq!(spec.maps.len(), want.len(), "{clang}");
        for (name, sec, kind, size, data) in want {
            let m = spec.map(name).unwrap_or_else(|| panic!("{clang}: {name}"));
            assert_eq!(m.section, *sec);
            assert_eq!(m.kind, MapKind::Data(*kind));
            assert_eq!(
                (m.map_type, m.key_size, m.max_entries),
                (MapType::Array, 4, 1)
            );
            assert_eq!(m.value_size, *size, "{clang}: {name}");
            assert_eq!(&m.data, data, "{clang}: {name}");
            let ro = *kind == DataKind::Rodata;
            assert_eq!(m.freeze, ro);
            assert_eq!(m.map_flags & BPF_F_RDONLY_PROG != 0, ro);
            assert!(m.map_flags & BPF_F_MMAPABLE != 0);
            // The value type is the section's DATASEC, whose size is now the ELF size.
            let btf = spec.btf.as_ref().unwrap();
            let ds = btf.type_by_id(m.btf_value_type_id.unwrap()).unwrap();
            assert_eq!((ds.name(), ds.size()), (*sec, *size));
        }
        // .bss vars at their symbol offsets, sorted.
        let btf = spec.btf.as_ref().unwrap();
        let bss = btf
            .type_by_id(spec.map("obj_glob.bss").unwrap().btf_value_type_id.unwrap())
            .unwrap();
        let vars: Vec<_> = bss
            .datasec_vars()
            .map(|v| {
                (
                    btf.type_by_id(v.type_id).unwrap().name().to_string(),
                    v.offset,
                    v.size,
                )
            })
            .collect();
        let mut names: Vec<_> = vars.iter().map(|v| v.0.as_str()).collect();
        names.sort();
        assert_eq!(names, ["result", "runs"]);
        assert_eq!(vars.iter().map(|v| v.1).collect::<Vec<_>>(), [0, 8]);

        // Every global access is a map value reference at the variable's offset.
        let l = spec.link_program_by_name("globals_compute").unwrap();
        let mut refs: Vec<_> = l
            .map_relocs
            .iter()
            .map(|r| match r.kind {
                MapRelocKind::Value { offset } => (spec.maps[r.map].section.as_str(), offset),
                MapRelocKind::Fd => panic!("fd reloc for a global"),
            })
            .collect();
        refs.sort();
        refs.dedup();
        let mut want = vec![
            (".bss", 0),
            (".bss", 8),
            (".data", 0),
            (".data.foo", 0),
            (".rodata", 0),
            (".rodata.bar", 0),
        ];
        want.sort();
        assert_eq!(refs, want, "{clang}");
        for r in &l.map_relocs {
            let i = l.insns[r.insn_idx];
            assert_eq!(i.src, corebpf_obj::insn::pseudo::MAP_VALUE);
        }
    }
}

#[test]
fn map_in_map_initial_values() {
    for clang in CLANGS {
        let spec = parse(clang, "run_map_in_map");
        for (outer, ty, max, slot, inner) in [
            ("outer_arr", MapType::ArrayOfMaps, 2, 0, "inner_a"),
            ("outer_hash", MapType::HashOfMaps, 4, 5, "inner_b"),
        ] {
            let m = spec.map(outer).unwrap();
            assert_eq!(
                (m.map_type, m.key_size, m.value_size, m.max_entries),
                (ty, 4, 4, max)
            );
            let i = m.inner.as_ref().expect("inner template");
            assert_eq!(
                (i.map_type, i.key_size, i.value_size, i.max_entries),
                (MapType::Array, 4, 8, 1)
            );
            assert_eq!(m.init_slots.len(), 1, "{clang} {outer}");
            assert_eq!(m.init_slots[0].index, slot);
            assert_eq!(
                m.init_slots[0].target,
                SlotTarget::Map(spec.map_index(inner).unwrap())
            );
        }
    }
}

#[test]
fn prog_array_initial_values() {
    for clang in CLANGS {
        let spec = parse(clang, "run_tailcall");
        let m = spec.map("jmp_table").unwrap();
        assert_eq!(
            (m.map_type, m.key_size, m.value_size, m.max_entries),
            (MapType::ProgArray, 4, 4, 4)
        );
        let slots: Vec<_> = m
            .init_slots
            .iter()
            .map(|s| match s.target {
                SlotTarget::Program(p) => (s.index, spec.programs[p].name.as_str()),
                SlotTarget::Map(_) => panic!("map in prog array"),
            })
            .collect();
        assert_eq!(slots, [(0, "tail_a"), (2, "tail_b")], "{clang}");
        let ro = spec.map("run_tail.rodata").unwrap();
        assert_eq!(ro.data.as_deref(), Some(&[0u8; 4][..]));
    }
}

#[test]
fn struct_ops_map() {
    for clang in CLANGS {
        let spec = parse(clang, "obj_sec_names");
        let m = spec.map("corebpf_cc").unwrap();
        assert_eq!(
            (m.kind, m.map_type, m.max_entries),
            (MapKind::StructOps, MapType::StructOps, 1)
        );
        let btf = spec.btf.as_ref().unwrap();
        assert_eq!(
            btf.type_by_id(m.struct_ops_type_id.unwrap())
                .unwrap()
                .to_string(),
            "struct tcp_congestion_ops"
        );
        let mut slots: Vec<_> = m
            .struct_ops_slots
            .iter()
            .map(|s| (s.member.as_str(), spec.programs[s.program].name.as_str()))
            .collect();
        slots.sort();
        assert_eq!(
            slots,
            [
                ("cong_avoid", "p_cong_avoid"),
                ("ssthresh", "p_ssthresh"),
                ("undo_cwnd", "p_undo_cwnd")
            ]
        );
        assert!(m
            .data
            .as_ref()
            .unwrap()
            .windows(10)
            .any(|w| w == b"corebpf_cc"));
    }
}
