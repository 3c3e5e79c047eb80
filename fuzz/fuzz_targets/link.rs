//! The static linker on two mutated objects: `u16` LE length *n*, *n* bytes of the first
//! object, then the second (seeded with pairs of the `testdata/bpf/link/` objects,
//! `seeds/link/`). `corebpf_obj::linker::link` returns an object or a `LinkError`, never
//! panics; the linked object is parsed and its programs are linked as a loader would. Linking the second object with itself exercises
//! duplicate-definition and extern paths; the BTF of both goes through dedup.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let n = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (a, b) = rest.split_at(n);
    for inputs in [[("a", a), ("b", b)], [("b", b), ("b2", b)]] {
        let Ok(linked) = corebpf_obj::linker::link(&inputs) else {
            continue;
        };
        // Not asserted to parse: resolving an extern exposes the parser's checks of what
        // the inputs only referred to (a mutated call to a now-defined function), which
        // refuse the output rightly.
        let Ok(spec) = corebpf_obj::Object::parse(&linked) else {
            continue;
        };
        for i in 0..spec.programs.len() {
            let _ = std::hint::black_box(spec.link_program(i));
        }
    }
});
