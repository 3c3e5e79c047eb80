//! `corebpf-abi`: what the kernel's BPF UAPI (`linux/bpf.h`) defines, and nothing that calls
//! the kernel.
//!
//! - [`consts`]: the `bpf(2)` command, program, map, attach, link and stats types as typed
//!   enums ([`Cmd`], [`ProgType`], [`MapType`], [`AttachType`], [`LinkType`], [`StatsType`])
//!   with the kernel's (bpftool's) names, and the `BPF_F_*`, `BPF_PSEUDO_*`, `XDP_*` and
//!   verifier log level constants.
//! - [`insn`]: [`Insn`], the one `struct bpf_insn` of corebpf, with the opcode constants,
//!   byte encoding, classifiers and builders for hand-assembled programs.
//!
//! It exists so that the pure crates (`corebpf-btf`, `corebpf-obj`, the fuzz targets) share
//! the kernel's ABI with `corebpf-sys` without depending on syscalls, `libc` or `nix`. It has
//! no dependencies and no `unsafe`.

#![forbid(unsafe_code)]

pub mod consts;
mod error;
pub mod insn;

pub use consts::{AttachType, Cmd, LinkType, MapType, ProgType, StatsType};
pub use error::UnknownValue;
pub use insn::Insn;
