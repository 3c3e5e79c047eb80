//! `corebpf_obj::usdt` on arbitrary bytes (seeded with testdata/usdt's binaries): the ELF
//! note reader (`UsdtFile::parse`, every note resolved to file offsets and decoded, specs
//! encoded in both `usdt.bpf.h` layouts) and, on the same bytes as text, the argument spec
//! parser. Nothing may panic, and allocations stay bounded by the input.
#![no_main]

use corebpf_obj::usdt::{parse_args, SpecLayout, UsdtFile, UsdtSpec};
use libfuzzer_sys::fuzz_target;

fn encode(args: Vec<corebpf_obj::usdt::UsdtArg>) {
    let spec = UsdtSpec { args, cookie: 1 };
    for layout in [SpecLayout::Libbpf11, SpecLayout::Libbpf17] {
        std::hint::black_box(spec.to_bytes(layout).ok());
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = UsdtFile::parse(data) {
        for note in file.notes() {
            if let Ok(t) = file.resolve(note) {
                encode(t.args);
            }
            std::hint::black_box(file.targets(&note.provider, &note.name).ok());
        }
    }
    if let Ok(args) = parse_args(&String::from_utf8_lossy(data)) {
        encode(args);
    }
});
