//! ELF relocations of program sections (libbpf's `bpf_program__record_reloc`): each
//! `R_BPF_64_64` on an `LD_IMM64` names a map, a global variable, an extern or a function
//! (callback address); each `R_BPF_64_32` on a call names a BPF function or a kfunc. A
//! symbol nothing defines (not a `__kconfig`/`__ksym` extern either) is recorded as
//! [`RelocKind::Undefined`]: only the programs that reach it fail to link.

use crate::elf::{Elf, Rel, Section, Symbol, STT_FUNC, STT_SECTION};
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
    /// A symbol nothing in the object defines and no `__kconfig`/`__ksym` extern declares:
    /// a call to a function that is only declared, or an `LD_IMM64` of such a symbol
    /// (inline asm `r0 = SYMBOL ll`, a plain `extern` variable). A program reaching it fails
    /// to link, naming program and symbol, unless an `LD_IMM64`'s `value` is set
    /// ([`crate::ObjectSpec::set_symbol_value`]; cilium/ebpf lets a user rewrite the
    /// instruction's constant the same way).
    Undefined {
        /// A call (otherwise an `LD_IMM64`).
        call: bool,
        /// The 64-bit value the `LD_IMM64` loads, once given.
        value: Option<u64>,
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
        // Data relocations (the kind `.BTF` gets) need nothing from the loader.
        if matches!(
            rel.r_type,
            R_BPF_64_ABS64 | R_BPF_64_ABS32 | R_BPF_64_NODYLD32
        ) {
            continue;
        }
        let site = Site::new(elf, sec, rel);
        let (sym, insn) = site.resolve(elf, rel, insns)?;
        let kind = match rel.r_type {
            R_BPF_64_32 => call_kind(elf, externs, &site, sym, insn)?,
            R_BPF_64_64 => {
                if !insn.is_ldimm64() || site.insn_idx + 1 >= insns.len() {
                    return Err(site.err(format!(
                        "R_BPF_64_64 on non-LD_IMM64 instruction (code {:#04x})",
                        insn.code
                    )));
                }
                ldimm64_kind(elf, maps, externs, &site, sym, insn)?
            }
            t => return Err(site.err(format!("unsupported relocation type {t}"))),
        };
        out.push((
            site.insn_idx,
            Reloc {
                insn_idx: site.insn_idx,
                symbol: sym.name.clone(),
                kind,
            },
        ));
    }
    Ok(out)
}

/// Where one relocation applies, for its errors: section, instruction, symbol name (or
/// `#index` if the index is past the symbol table).
struct Site<'s> {
    section: &'s str,
    insn_idx: usize,
    symbol: String,
}

impl<'s> Site<'s> {
    fn new(elf: &Elf<'_>, sec: &'s Section<'_>, rel: &Rel) -> Self {
        Site {
            section: &sec.name,
            insn_idx: (rel.offset / 8) as usize,
            symbol: elf
                .symbols
                .get(rel.sym as usize)
                .map_or_else(|| format!("#{}", rel.sym), |s| s.name.clone()),
        }
    }

    fn err(&self, reason: String) -> ObjError {
        ObjError::Reloc {
            section: self.section.to_string(),
            insn: self.insn_idx,
            symbol: self.symbol.clone(),
            reason,
        }
    }

    /// The symbol named and the instruction relocated, both checked to exist.
    fn resolve<'e>(
        &self,
        elf: &'e Elf<'_>,
        rel: &Rel,
        insns: &[Insn],
    ) -> Result<(&'e Symbol, Insn)> {
        let Some(sym) = elf.symbols.get(rel.sym as usize) else {
            return Err(self.err(format!(
                "symbol index {} is past the end of .symtab ({} symbols)",
                rel.sym,
                elf.symbols.len()
            )));
        };
        if rel.offset % 8 != 0 || self.insn_idx >= insns.len() {
            return Err(self.err(format!(
                "offset {:#x} is not an instruction of the section",
                rel.offset
            )));
        }
        Ok((sym, insns[self.insn_idx]))
    }
}

/// `R_BPF_64_32` on a call: a BPF function in an executable section, or a kfunc.
fn call_kind(
    elf: &Elf<'_>,
    externs: &[ExternSpec],
    site: &Site<'_>,
    sym: &Symbol,
    insn: Insn,
) -> Result<RelocKind> {
    if !insn.is_call() {
        return Err(site.err(format!(
            "R_BPF_64_32 on non-call instruction (code {:#04x})",
            insn.code
        )));
    }
    if sym.undefined {
        return Ok(extern_kind(externs, &sym.name).unwrap_or_else(|| undefined(site, true)));
    }
    let sec_idx = sym
        .shndx
        .filter(|&s| elf.sections[s].is_exec())
        .ok_or_else(|| site.err("call target is not in an executable section".into()))?;
    if insn.src != crate::insn::pseudo::CALL {
        return Err(site.err(format!(
            "bpf_call with src_reg {} (expected BPF_PSEUDO_CALL)",
            insn.src
        )));
    }
    if sym.value % 8 != 0 {
        return Err(site.err(format!("bad call relo offset {}", sym.value)));
    }
    Ok(RelocKind::Call {
        section_index: sec_idx,
        sym_off: sym.value,
    })
}

/// `R_BPF_64_64` on an `LD_IMM64`: an extern, a function's address (callback), a global
/// variable or a map.
fn ldimm64_kind(
    elf: &Elf<'_>,
    maps: &[MapSpec],
    externs: &[ExternSpec],
    site: &Site<'_>,
    sym: &Symbol,
    insn: Insn,
) -> Result<RelocKind> {
    if sym.undefined {
        return Ok(extern_kind(externs, &sym.name).unwrap_or_else(|| undefined(site, false)));
    }
    let Some(sidx) = sym.shndx else {
        return Err(site.err("symbol in a special section".into()));
    };
    let target = &elf.sections[sidx];
    if target.is_exec() {
        return subprog_addr_kind(site, sym, insn, sidx);
    }
    map_kind(maps, site, sym, target)
}

/// A callback's address: the symbol must be a function (or its section) and 8-aligned.
fn subprog_addr_kind(site: &Site<'_>, sym: &Symbol, insn: Insn, sidx: usize) -> Result<RelocKind> {
    if sym.st_type != STT_SECTION && sym.st_type != STT_FUNC {
        return Err(site.err("address of a non-function in code".into()));
    }
    if sym.value % 8 != 0 || insn.imm % 8 != 0 {
        return Err(site.err(format!(
            "bad subprog addr relo offset {} + {}",
            sym.value, insn.imm
        )));
    }
    Ok(RelocKind::SubprogAddr {
        section_index: sidx,
        sym_off: sym.value,
    })
}

/// A global variable (in a data section's internal map) or a map (its definition's symbol).
fn map_kind(
    maps: &[MapSpec],
    site: &Site<'_>,
    sym: &Symbol,
    target: &Section<'_>,
) -> Result<RelocKind> {
    let sidx = target.index;
    // `__arena` globals: an offset into the arena map's globals (libbpf's arena RELO_DATA).
    if target.name == crate::maps::ARENA_SEC {
        let m = maps.iter().position(MapSpec::is_arena).ok_or_else(|| {
            site.err("arena data relocation, but the object declares no arena map".into())
        })?;
        return Ok(RelocKind::Data {
            map: m,
            sym_off: sym.value,
        });
    }
    if let Some(m) = maps
        .iter()
        .position(|m| m.section_index == sidx && matches!(m.kind, MapKind::Data(_)))
    {
        return Ok(RelocKind::Data {
            map: m,
            sym_off: sym.value,
        });
    }
    if let Some(m) = maps.iter().position(|m| {
        m.section_index == sidx
            && matches!(m.kind, MapKind::Btf | MapKind::Legacy)
            && m.sec_offset == sym.value
    }) {
        if sym.st_type == STT_SECTION {
            return Err(site.err("map relo against a section symbol".into()));
        }
        return Ok(RelocKind::Map { map: m });
    }
    Err(site.err(format!(
        "symbol in section '{}' is not a map or global variable",
        target.name
    )))
}

/// A reference to a symbol nothing defines (see [`RelocKind::Undefined`]).
fn undefined(site: &Site<'_>, call: bool) -> RelocKind {
    log::debug!(
        "sec '{}': insn #{}: {} undefined symbol '{}' (neither defined nor a __kconfig/__ksym extern)",
        site.section,
        site.insn_idx,
        if call { "call to" } else { "ld_imm64 of" },
        site.symbol
    );
    RelocKind::Undefined { call, value: None }
}

fn extern_kind(externs: &[ExternSpec], name: &str) -> Option<RelocKind> {
    externs
        .iter()
        .position(|e| e.name == name)
        .map(|ext| RelocKind::Extern { ext })
}
