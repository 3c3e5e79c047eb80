//! `corebpf`: load clang-built BPF objects, relocate them with CO-RE against the running
//! kernel's BTF, attach programs and read their maps and events.

pub use corebpf_btf as btf;
pub use corebpf_obj as obj;
pub use corebpf_sys as sys;

pub mod map;
pub mod perf_buffer;
pub mod pin;
pub mod ringbuf;
