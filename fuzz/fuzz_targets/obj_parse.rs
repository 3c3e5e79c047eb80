//! Placeholder: `corebpf_obj::Object::parse` on arbitrary bytes (ELF), once it exists.
//! To enable: uncomment the `corebpf-obj` dependency and the `obj_parse` [[bin]] in
//! Cargo.toml, and the body below; seed it from `testdata/bpf/out/*/*.bpf.o`
//! (`fuzz/seeds/obj/`, see make_seeds.py).
//!
//! ```ignore
//! #![no_main]
//!
//! use libfuzzer_sys::fuzz_target;
//!
//! fuzz_target!(|data: &[u8]| {
//!     if let Ok(obj) = corebpf_obj::Object::parse(data) {
//!         // Walk programs, maps, relocations ... as a loader would.
//!         std::hint::black_box(format!("{obj:?}"));
//!     }
//! });
//! ```
