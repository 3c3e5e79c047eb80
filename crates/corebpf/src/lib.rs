//! `corebpf`: load clang-built BPF objects, relocate them with CO-RE against the running
//! kernel's BTF, attach programs and read their maps and events.

pub use corebpf_btf as btf;
pub use corebpf_obj as obj;
pub use corebpf_sys as sys;

pub mod attach;
pub mod link;
pub mod map;
pub mod perf_buffer;
pub mod pin;
pub mod ringbuf;

mod error;
mod kernel;
mod load;
mod object;
mod program;
pub mod sanitize;
mod verifier;

pub use error::{Error, Result, VerifierError};
pub use kernel::{kernel_btf, kernel_targets};
pub use link::{Link, LinkInfo};
pub use map::Map;
pub use object::{LoadStats, Object, ObjectBuilder, OpenObject};
pub use program::{Program, TestRun, TestRunOutput};
