//! Shared by the BTF targets: touch every accessor of every type, the way a consumer
//! (CO-RE, the C dump, `corebpf btf dump`) would, so that any panic on a malformed blob
//! that parsed shows up.

use std::hint::black_box;

use corebpf_btf::{Btf, Kind};

/// Walks every type of `btf`: its fields, members, enumerators, parameters, variables,
/// sizes, alignments and modifier chains, and looks each name up in the indexes.
pub fn walk(btf: &Btf) {
    black_box(btf.pointer_size());
    black_box(btf.index().len());
    black_box((btf.layout(), btf.unknown_kinds()));
    let count = btf.type_count();
    for t in btf.types() {
        black_box((
            t.id(),
            t.kind(),
            t.name(),
            t.name_bytes(),
            t.vlen(),
            t.kflag(),
        ));
        black_box((
            t.size(),
            t.type_id(),
            t.int_encoding(),
            t.int_bits(),
            t.int_offset(),
        ));
        black_box((
            t.array(),
            t.linkage(),
            t.decl_tag_component(),
            t.fwd_is_union(),
        ));
        black_box((
            t.enum_signed(),
            t.is_composite(),
            t.is_any_enum(),
            t.raw().len(),
        ));
        black_box((t.raw_kind(), t.is_unknown_kind()));
        black_box(t.to_string());
        black_box(t.with_id().to_string());
        for m in t.members() {
            black_box((m.index, m.name(), m.name_bytes(), m.type_id, m.bit_offset));
            black_box(m.bitfield_size);
        }
        black_box(t.member(t.vlen().saturating_sub(1)));
        for e in t.enumerators() {
            black_box((e.name(), e.name_bytes(), e.value, e.signed));
        }
        for p in t.params() {
            black_box((p.name(), p.type_id));
        }
        for v in t.datasec_vars() {
            black_box(v);
        }
    }
    for id in 0..=count {
        // `count` itself is out of range and must be an error, not a panic.
        black_box(btf.type_by_id(id).map(|t| t.kind()).ok());
        black_box(btf.size_of(id).ok());
        black_box(btf.align_of(id).ok());
        black_box(btf.skip_mods(id).map(|t| t.id()).ok());
        black_box(btf.skip_mods_and_typedefs(id).map(|t| t.id()).ok());
    }
    for t in btf.types() {
        let name = t.name();
        if name.is_empty() {
            continue;
        }
        black_box(btf.find_by_name(name).count());
        black_box(btf.find_by_name_kind(name, t.kind()));
        black_box(btf.find_by_name_kind(name, Kind::Struct));
        let bytes = t.name_bytes();
        let essential = &bytes[..corebpf_btf::essential_len(bytes).min(bytes.len())];
        black_box(btf.find_by_essential_name(essential).count());
    }
    black_box(btf.validate().is_ok());
    black_box(btf.str_at(u32::MAX).ok());
    black_box(btf.str_at(btf.str_len()).ok());
}
