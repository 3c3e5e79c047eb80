//! ELF relocations of program sections (libbpf's `bpf_program__record_reloc`): each
//! `R_BPF_64_64` on an `LD_IMM64` names a map, a global variable, an extern or a function
//! (callback address); each `R_BPF_64_32` on a call names a BPF function or a kfunc.

use crate::elf::{Elf, Section, STT_FUNC, STT_SECTION};
use crate::error::{ObjError, Result};
use crate::externs::ExternSpec;
use crate::insn::Insn;
use crate::maps::{MapKind, MapSpec};

/// `R_BPF_64_64`: 64-bit immediate of an `LD_IMM64`.
const R_BPF_64_64: u32 = 1;
/// `R_BPF_64_ABS64`: data relocation (in `.BTF` and the like, never in code).
const R_BPF_64_ABS64: u32 = 2;
/// `R_BPF_64_ABS32`.
const R_BPF_64_ABS32: u32 = 3;
/// `R_BPF_64_NODYLD32`: `.BTF`/`.BTF.ext` relocations.
const R_BPF_64_NODYLD32: u32 = 4;
/// `R_BPF_64_32`: call immediate.
const R_BPF_64_32: u32 = 10;

/// What a relocated instruction refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelocKind {
    /// A BPF-to-BPF call to a function in section `section_index`: the callee's instruction
    /// index in that section is `sym_off / 8 + imm + 1` (libbpf's `RELO_CALL`).
    Call {
        /// ELF index of the callee's section.
        section_index: usize,
        /// The symbol's value (0 for a section symbol; the function's offset for a global).
        sym_off: u64,
    },
    /// An `LD_IMM64` of a function's address (a callback, `BPF_PSEUDO_FUNC`): the callee's
    /// instruction index is `(sym_off + imm) / 8` (libbpf's `RELO_SUBPROG_ADDR`).
    SubprogAddr {
        /// ELF index of the callee's section.
        section_index: usize,
        /// The symbol's value.
        sym_off: u64,
    },
    /// A map's fd (`BPF_PSEUDO_MAP_FD`).
    Map {
        /// Index into [`crate::ObjectSpec::maps`].
        map: usize,
    },
    /// The address of a global variable (`BPF_PSEUDO_MAP_VALUE`): offset `sym_off + imm`
    /// into the internal map's value.
    Data {
        /// Index of the internal map.
        map: usize,
        /// The symbol's value.
        sym_off: u64,
    },
    /// An extern (`.kconfig` value, `.ksyms` variable or kfunc).
    Extern {
        /// Index into [`crate::ObjectSpec::externs`].
        ext: usize,
    },
}

/// One relocation of a function's instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloc {
    /// Instruction index within the function.
    pub insn_idx: usize,
    /// The symbol named by the ELF relocation.
    pub symbol: String,
    /// What it refers to.
    pub kind: RelocKind,
}

/// Records the relocations of one program section. Returns `(section insn index, Reloc)`
/// pairs (the caller assigns them to functions).
pub(crate) fn collect_section_relocs(
    elf: &Elf<'_>,
    sec: &Section<'_>,
    insns: &[Insn],
    maps: &[MapSpec],
    externs: &[ExternSpec],
) -> Result<Vec<(usize, Reloc)>> {
    let mut out = Vec::with_capacity(sec.relocs.len().min(insns.len()));
    for rel in &sec.relocs {
        let insn_idx = (rel.offset / 8) as usize;
        let sym = elf.symbols.get(rel.sym as usize);
        let sym_name = sym.map_or_else(|| format!("#{}", rel.sym), |s| s.name.clone());
        let err = |reason: String| ObjError::Reloc {
            section: sec.name.clone(),
            insn: insn_idx,
            symbol: sym_name.clone(),
            reason,
        };
        if matches!(
            rel.r_type,
            R_BPF_64_ABS64 | R_BPF_64_ABS32 | R_BPF_64_NODYLD32
        ) {
            continue;
        }
        let Some(sym) = sym else {
            return Err(err(format!(
                "symbol index {} is past the end of .symtab ({} symbols)",
                rel.sym,
                elf.symbols.len()
            )));
        };
        if rel.offset % 8 != 0 || insn_idx >= insns.len() {
            return Err(err(format!(
                "offset {:#x} is not an instruction of the section",
                rel.offset
            )));
        }
        let insn = insns[insn_idx];
        let kind = match rel.r_type {
            R_BPF_64_32 => {
                if !insn.is_call() {
                    return Err(err(format!(
                        "R_BPF_64_32 on non-call instruction (code {:#04x})",
                        insn.code
                    )));
                }
                if sym.undefined {
                    extern_kind(externs, &sym.name).ok_or_else(|| {
                        err("call to an undefined function that is not a __ksym kfunc".into())
                    })?
                } else {
                    let sec_idx = sym
                        .shndx
                        .filter(|&s| elf.sections[s].is_exec())
                        .ok_or_else(|| err("call target is not in an executable section".into()))?;
                    if insn.src != crate::insn::pseudo::CALL {
                        return Err(err(format!(
                            "bpf_call with src_reg {} (expected BPF_PSEUDO_CALL)",
                            insn.src
                        )));
                    }
                    if sym.value % 8 != 0 {
                        return Err(err(format!("bad call relo offset {}", sym.value)));
                    }
                    RelocKind::Call {
                        section_index: sec_idx,
                        sym_off: sym.value,
                    }
                }
            }
            R_BPF_64_64 => {
                if !insn.is_ldimm64() || insn_idx + 1 >= insns.len() {
                    return Err(err(format!(
                        "R_BPF_64_64 on non-LD_IMM64 instruction (code {:#04x})",
                        insn.code
                    )));
                }
                if sym.undefined {
                    extern_kind(externs, &sym.name).ok_or_else(|| {
                        err(
                            "extern is neither __kconfig nor __ksym (no .kconfig/.ksyms BTF entry)"
                                .into(),
                        )
                    })?
                } else {
                    let Some(sidx) = sym.shndx else {
                        return Err(err("symbol in a special section".into()));
                    };
                    let target = &elf.sections[sidx];
                    if target.is_exec() {
                        if sym.st_type != STT_SECTION && sym.st_type != STT_FUNC {
                            return Err(err("address of a non-function in code".into()));
                        }
                        if sym.value % 8 != 0 || insn.imm % 8 != 0 {
                            return Err(err(format!(
                                "bad subprog addr relo offset {} + {}",
                                sym.value, insn.imm
                            )));
                        }
                        RelocKind::SubprogAddr {
                            section_index: sidx,
                            sym_off: sym.value,
                        }
                    } else if let Some(m) = maps
                        .iter()
                        .position(|m| m.section_index == sidx && matches!(m.kind, MapKind::Data(_)))
                    {
                        RelocKind::Data {
                            map: m,
                            sym_off: sym.value,
                        }
                    } else if let Some(m) = maps.iter().position(|m| {
                        m.section_index == sidx
                            && matches!(m.kind, MapKind::Btf | MapKind::Legacy)
                            && m.sec_offset == sym.value
                    }) {
                        if sym.st_type == STT_SECTION {
                            return Err(err("map relo against a section symbol".into()));
                        }
                        RelocKind::Map { map: m }
                    } else {
                        return Err(err(format!(
                            "symbol in section '{}' is not a map or global variable",
                            target.name
                        )));
                    }
                }
            }
            t => return Err(err(format!("unsupported relocation type {t}"))),
        };
        out.push((
            insn_idx,
            Reloc {
                insn_idx,
                symbol: sym.name.clone(),
                kind,
            },
        ));
    }
    Ok(out)
}

fn extern_kind(externs: &[ExternSpec], name: &str) -> Option<RelocKind> {
    externs
        .iter()
        .position(|e| e.name == name)
        .map(|ext| RelocKind::Extern { ext })
}
