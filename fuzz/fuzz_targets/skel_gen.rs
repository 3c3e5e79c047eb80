//! Skeleton generation (`corebpf_gen::generate`) on arbitrary objects (seeded with the test
//! objects, `seeds/obj/`): whatever the object's BTF says about its maps, globals and
//! programs (hostile member offsets, bitfields past their struct, cyclic or absurdly deep
//! types, names that are not identifiers), generation returns Rust source or a
//! `GenError`, never panics, hangs or allocates without bound. Also with one extra type
//! requested by a name taken from the object, as `--type` does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = corebpf_obj::Object::parse(data) else {
        return;
    };
    let mut opts = corebpf_gen::Options {
        object_path: "fuzz.bpf.o".to_string(),
        ..Default::default()
    };
    let _ = std::hint::black_box(corebpf_gen::generate(&spec, &opts).map(|s| s.len()));
    // A type by name: the first named struct of the object's BTF, if any.
    let named = spec.btf.as_deref().and_then(|btf| {
        (1..btf.type_count()).find_map(|id| {
            let ty = btf.type_by_id(id).ok()?;
            let name = ty.name();
            (ty.kind() == corebpf_btf::Kind::Struct && !name.is_empty()).then(|| name.to_string())
        })
    });
    if let Some(name) = named {
        opts.types = vec![name];
        let _ = std::hint::black_box(corebpf_gen::generate(&spec, &opts).map(|s| s.len()));
    }
});
