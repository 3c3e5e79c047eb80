//! Test-only crate: `build.rs` generates the skeleton of every object under
//! `testdata/bpf/out/clang{14,19}/` into `OUT_DIR`, and `tests/corpus.rs` compiles them all
//! (their compile-time size and offset asserts must hold) and opens each embedded object.
#![forbid(unsafe_code)]
