//! `corebpf`: load clang-built BPF objects, relocate them with CO-RE against the running
//! kernel's BTF, attach programs and read their maps and events, with raw `bpf(2)` and no C.
//!
//! # Quickstart
//!
//! The README's quickstart (a test keeps the two identical): open an object, set a
//! read-only global, load it, attach a program and read its ring buffer.
//!
//! ```no_run
//! use std::time::Duration;
//! use corebpf::{ringbuf::RingBuf, ObjectBuilder};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     env_logger::init(); // RUST_LOG=debug prints each CO-RE relocation, as libbpf does
//!     let mut open = ObjectBuilder::new().open_file("execsnoop.bpf.o")?;
//!     open.set_global("target_ppid", &0u32.to_ne_bytes())?; // .rodata, before the verifier sees it
//!     let obj = open.load()?; // CO-RE against /sys/kernel/btf/vmlinux, then maps, then programs
//!     let prog = obj.program("handle_exec").unwrap();
//!     let _link = prog.attach_tracepoint("sched", "sched_process_exec")?; // detaches on drop
//!     let mut events = RingBuf::new(obj.map("events").unwrap())?;
//!     loop {
//!         events.poll(Duration::from_millis(100), |data: &[u8]| {
//!             println!("exec event of {} bytes", data.len());
//!         })?;
//!     }
//! }
//! ```
//!
//! # The steps
//!
//! 1. [`ObjectBuilder`] chooses the target BTF (the running kernel's, or
//!    [`ObjectBuilder::btf_file`]), the pin root and the kernel config; `open_file` parses
//!    the ELF object into an [`OpenObject`] ([`obj::ObjectSpec`]: programs, subprograms,
//!    maps, global data, externs, BTF and `.BTF.ext`). Nothing touches the kernel yet.
//! 2. On the [`OpenObject`], adjust what the verifier will see: globals
//!    ([`OpenObject::set_global`]), which programs load ([`OpenObject::set_autoload`]),
//!    map sizes ([`OpenObject::set_max_entries`]).
//! 3. [`OpenObject::load`] runs libbpf's sequence: externs resolved (kconfig, ksyms,
//!    kfuncs), CO-RE relocations applied to each function (logged at debug level in
//!    libbpf's format), the object's BTF sanitized for this kernel and loaded, maps created
//!    (pinned ones reused, `.data` written, `.rodata` frozen), programs linked and loaded
//!    (a verifier rejection becomes a [`VerifierError`] naming the C source line), then
//!    prog-array and map-of-maps slots filled. It gives an [`Object`].
//! 4. [`Program`]s attach with `attach_*` methods ([`attach`]), each returning a [`Link`]
//!    that detaches on drop; [`Object::attach_all`] attaches every program whose SEC name
//!    says where.
//! 5. [`Map`]s are read and written through typed handles ([`map`]); events come back
//!    through [`ringbuf::RingBuf`] and [`perf_buffer::PerfBuffer`], as bytes or as your
//!    `#[repr(C)]` event type ([`ringbuf::RingBuf::consume_typed`],
//!    [`perf_buffer::typed_sample`]; types implement [`map::Pod`]); globals are read and
//!    written as Rust values ([`Object::read_global_as`], [`OpenObject::set_global_as`]);
//!    [`pin`] keeps maps, programs and links alive beyond the process.
//!
//! The BPF side is built by clang; the `corebpf-build` crate does it from a `build.rs`
//! (flags for the target, `vmlinux.h` from the kernel's BTF, debug info stripped).
//!
//! # Modules
//!
//! - [`attach`]: one module per attach kind (`Program::attach_*`).
//! - [`link`]: [`Link`], what every attachment returns.
//! - [`map`]: [`Map`] and the typed handles (hash, array, per-CPU, LPM trie, ...).
//! - [`ringbuf`], [`perf_buffer`]: event readers.
//! - [`pin`]: bpffs pinning.
//! - [`sanitize`]: how the object's BTF is rewritten for kernels lacking a BTF kind.
//! - [`btf`], [`obj`], [`sys`]: the crates underneath (BTF and CO-RE, the ELF object
//!   model, the `bpf(2)` syscalls), re-exported.

#![deny(unsafe_code)]

/// BTF, the C header dump, the CO-RE engine and minimal BTF (`corebpf-btf`).
pub use corebpf_btf as btf;
/// The ELF object model: programs, maps, externs, relocations, linking (`corebpf-obj`).
pub use corebpf_obj as obj;
/// The `bpf(2)` commands, their attributes, perf events, netlink and feature probes
/// (`corebpf-sys`).
pub use corebpf_sys as sys;

pub mod attach;
pub mod compat;
pub mod link;
pub mod map;
// Reads the kernel's mmapped perf ring (unsafe: raw pointers into shared memory).
#[allow(unsafe_code)]
pub mod perf_buffer;
pub mod pin;
// Reads the kernel's mmapped BPF ring buffer (unsafe: raw pointers into shared memory).
#[allow(unsafe_code)]
pub mod ringbuf;

mod error;
mod kernel;
mod load;
mod object;
mod program;
pub mod sanitize;
mod struct_ops;
mod token;
mod verifier;

pub use error::{Error, Result, VerifierError};
pub use kernel::{
    kernel_btf, kernel_btf_loaded, kernel_module_btfs, kernel_targets, module_btf_objects,
};
pub use link::{Link, LinkInfo};
pub use map::Map;
pub use object::{LoadStats, Object, ObjectBuilder, OpenObject};
pub use program::{Program, TestRun, TestRunOutput};
pub use token::TOKEN_PATH_ENV;

/// The README's quickstart is the crate docs' doctest above, word for word, so that the
/// README shows code that compiles.
#[cfg(test)]
mod readme {
    fn rust_block(text: &str, fence: &str) -> String {
        let start = text.find(fence).expect("the quickstart block") + fence.len();
        let end = start + text[start..].find("```").expect("its end");
        text[start..end].trim().to_string()
    }

    #[test]
    fn readme_quickstart_is_the_crate_doc_example() {
        let readme = include_str!("../../../README.md");
        let docs: String = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            rust_block(readme, "```rust\n"),
            rust_block(&docs, "```no_run\n")
        );
    }
}
