//! `corebpf-btf`: a fast, zero-copy reader for BTF (the BPF Type Format) and `.BTF.ext`.
//!
//! - [`Btf`] parses a blob (the kernel's `/sys/kernel/btf/vmlinux`, a module's split BTF, an
//!   object's `.BTF`) in one pass that only records where each type starts and checks every
//!   bound; [`Type`] views decode fields on access.
//! - [`NameIndex`] maps names, and CO-RE *essential* names (`task_struct___old` →
//!   `task_struct`), to type ids.
//! - [`BtfExt`] reads func_info, line_info and CO-RE relocation records.
//! - [`BtfBuilder`] writes BTF; [`dump_c`](crate::cdump) prints a C header (`vmlinux.h`).
//! - [`dedup`] merges structurally identical types (what a static linker needs).
//! - [`min`] writes minimal BTF for CO-RE (`bpftool gen min_core_btf`): only what some
//!   objects' relocations touch in a kernel's BTF.
//!
//! Malformed input gives a [`BtfError`] naming the type id or offset, never a panic.
//!
//! ```no_run
//! use corebpf_btf::{Btf, Kind};
//! let vmlinux = Btf::from_sys_fs()?;
//! let id = vmlinux.find_by_name_kind("pt_regs", Kind::Struct).unwrap();
//! for m in vmlinux.type_by_id(id)?.members() {
//!     println!("{} at byte {}", m.name(), m.bit_offset / 8);
//! }
//! # Ok::<(), corebpf_btf::BtfError>(())
//! ```

#![deny(unsafe_code)]

mod btf;
pub mod cdump;
// The one module that maps kernel BTF read-only (mmap); the rest of the crate is safe code.
#[allow(unsafe_code)]
mod data;
pub mod dedup;
mod elf;
mod error;
mod ext;
mod fmt;
mod index;
mod lanes;
mod layout;
pub mod min;
mod raw;
pub mod relo;
mod resolve;
mod scan;
mod sysfs;
mod types;
mod write;

pub use btf::Btf;
pub use elf::{elf_btf_sections, ElfBtfSections};
pub use error::{BtfError, Result};
pub use ext::{BtfExt, CoreRelo, CoreReloKind, ExtSection, FuncInfo, LineInfo};
pub use fmt::{IdKindName, KindName};
pub use index::{essential_len, NameIndex};
pub use raw::{
    Endian, Header, Kind, KindLayout, BTF_HEADER_LEN, BTF_LAYOUT_HEADER_LEN, BTF_MAGIC,
    KIND_LAYOUT_LEN, MAX_KIND, MAX_VLEN, TYPE_HEADER_LEN,
};
pub use resolve::MAX_RESOLVE_DEPTH;
pub use sysfs::SYS_BTF_DIR;
pub use types::{
    Array, DatasecVar, DatasecVars, Enumerator, Enumerators, Linkage, Member, Members, Param,
    Params, Type, INT_BOOL, INT_CHAR, INT_SIGNED,
};
pub use write::{BtfBuilder, MemberSpec};
