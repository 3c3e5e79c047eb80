//! `corebpf_obj::Object::parse` on arbitrary bytes (seeded with the test objects), then what
//! a loader does with a parsed object: link every program and disassemble it. Nothing may
//! panic, and allocations stay bounded by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = corebpf_obj::Object::parse(data) else {
        return;
    };
    for i in 0..spec.programs.len() {
        if let Ok(linked) = spec.link_program(i) {
            std::hint::black_box(corebpf_obj::disasm::disasm(&linked.insns));
        }
    }
    std::hint::black_box(spec.core_relo_counts());
});
