//! `corebpf-obj`: parses clang-built BPF ELF objects into an [`ObjectSpec`] and links their
//! programs (map, global data and extern references, subprogram calls).
//!
//! Pure: no syscalls. The order follows libbpf: [`Object::parse`] (ELF, SEC names, maps,
//! externs, relocation records, BTF fix-up) → CO-RE patches [`FunctionSpec::insns`] in
//! place → [`ObjectSpec::resolve_kconfig`] / [`ObjectSpec::resolve_ksyms`] →
//! [`ObjectSpec::link_program`] per program. See `DESIGN.md` for where it sits.
//!
//! ```no_run
//! let spec = corebpf_obj::Object::from_file("prog.bpf.o")?;
//! for p in &spec.programs {
//!     let linked = spec.link_program_by_name(&p.name)?;
//!     print!("{}", corebpf_obj::disasm::disasm(&linked.insns));
//! }
//! # Ok::<(), corebpf_obj::ObjError>(())
//! ```
#![forbid(unsafe_code)]

pub mod asm;
mod btf_fixup;
mod btf_maps;
pub mod core_relo;
pub mod disasm;
mod elf;
mod error;
mod externs;
pub mod helpers;
mod kconfig;
mod ksyms;
mod legacy_maps;
mod link;
pub mod linker;
mod maps;
mod object;
mod reloc;
pub mod section;
pub mod struct_ops;
pub mod usdt;

/// `struct bpf_insn` and the instruction set's constants: `corebpf-abi`'s, re-exported.
pub use corebpf_abi::insn;

pub use corebpf_abi::Insn;
pub use error::{ObjError, Result};
pub use externs::{
    ExternKind, ExternSpec, ExternValue, KconfigType, KsymKind, KCONFIG_SEC, KSYMS_SEC,
};
pub use kconfig::{kernel_version, parse_kernel_release, running_kernel_version, KernelConfig};
pub use ksyms::{kallsyms_lookup, KsymModule, KsymOutcome, KsymResolution, KsymTarget, ModuleBtf};
pub use link::{
    ExternReloc, LinkedProgram, MapReloc, MapRelocKind, Placement, UndefinedRef,
    POISON_CALL_KFUNC_BASE,
};
pub use linker::LinkError;
pub use maps::{
    internal_map_name, DataKind, InitSlot, MapKind, MapSpec, Pinning, SlotTarget, StructOpsSlot,
    ARENA_SEC,
};
pub use object::{object_name_from_path, ExtRecord, FunctionSpec, Object, ObjectSpec, ProgramSpec};
pub use reloc::{Reloc, RelocKind};
pub use section::{
    find_libbpf_sec_def, find_sec_def, AttachKind, SecDef, SecFlags, SecInfo, SECTION_DEFS,
};
