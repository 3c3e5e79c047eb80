//! Output sections: each input content section is appended, aligned, to the output section
//! of its name (libbpf's `linker_append_sec_data` / `extend_sec`), and its relocations are
//! rebased onto the output section and symbol table (`linker_append_elf_relos`).

use corebpf_btf::{CoreRelo, FuncInfo, LineInfo};

use super::error::LinkError;
use super::input::{Input, Role};
use super::Linker;
use crate::elf::{Section, SHT_NOBITS, STT_SECTION};

/// `BPF_JMP | BPF_CALL`.
const CALL: u8 = 0x85;

/// One DATASEC entry of an output section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VarEntry {
    /// Output BTF id (before dedup) of the VAR or FUNC.
    pub type_id: u32,
    pub offset: u32,
    pub size: u32,
}

/// One relocation of an output section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutRel {
    pub offset: u64,
    pub r_type: u32,
    /// Output symbol index.
    pub sym: usize,
}

/// One output section (or, for `.kconfig`/`.ksyms`, a BTF-only "ephemeral" one).
#[derive(Debug, Clone)]
pub(crate) struct OutSection {
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub align: u64,
    pub entsize: u64,
    /// Contents (empty for NOBITS).
    pub data: Vec<u8>,
    /// Size (the contents' length, or NOBITS size).
    pub size: u64,
    /// No ELF section: only a DATASEC of extern variables.
    pub ephemeral: bool,
    /// The input that first contributed to it.
    pub first_input: usize,
    pub relocs: Vec<OutRel>,
    /// Output index of its STT_SECTION symbol.
    pub sec_sym: Option<usize>,
    /// Some input had a DATASEC for it.
    pub has_btf: bool,
    pub vars: Vec<VarEntry>,
    pub func_info: Vec<FuncInfo>,
    pub line_info: Vec<LineInfo>,
    pub core_relo: Vec<CoreRelo>,
}

impl OutSection {
    fn new(name: &str, input: usize) -> OutSection {
        OutSection {
            name: name.to_string(),
            sh_type: 0,
            flags: 0,
            align: 1,
            entsize: 0,
            data: Vec::new(),
            size: 0,
            ephemeral: true,
            first_input: input,
            relocs: Vec::new(),
            sec_sym: None,
            has_btf: false,
            vars: Vec::new(),
            func_info: Vec::new(),
            line_info: Vec::new(),
            core_relo: Vec::new(),
        }
    }

    /// Takes the ELF attributes of the first real section appended to it.
    fn init_from(&mut self, s: &Section<'_>) {
        self.ephemeral = false;
        self.sh_type = s.sh_type;
        self.flags = s.flags;
        self.entsize = s.entsize;
    }

    /// Appends `s`'s contents at its alignment; returns the offset they start at, or `None`
    /// (and appends nothing) if the section would then pass 4 GiB: offsets in relocations,
    /// symbols and DATASECs are 32-bit, and a NOBITS section states any size without bytes
    /// to back it.
    fn extend(&mut self, s: &Section<'_>, data: &[u8]) -> Option<u64> {
        let align = s.align.max(1);
        let start = self.size.div_ceil(align) * align;
        if start.checked_add(s.size)? > u64::from(u32::MAX) {
            return None;
        }
        self.align = self.align.max(align);
        if s.sh_type != SHT_NOBITS {
            self.data.resize(start as usize, 0);
            self.data.extend_from_slice(data);
        }
        self.size = start + s.size;
        Some(start)
    }
}

impl<'a> Linker<'a> {
    /// The output section named `name`, created (ephemeral until content arrives) if new.
    pub(crate) fn out_section(&mut self, name: &str, input: usize) -> usize {
        if let Some(i) = self.sections.iter().position(|s| s.name == name) {
            return i;
        }
        self.sections.push(OutSection::new(name, input));
        self.sections.len() - 1
    }

    /// Appends input `i`'s content sections and creates its ephemeral ones; fills
    /// `placements[i]`.
    pub(crate) fn append_sections(&mut self, i: usize) -> Result<(), LinkError> {
        let n = self.inputs[i].elf.sections.len();
        let mut placed = vec![None; n];
        for (idx, slot) in placed.iter_mut().enumerate() {
            if self.inputs[i].roles[idx] != Role::Content {
                continue;
            }
            *slot = self.append_section(i, idx)?;
        }
        for name in self.inputs[i].ephemeral.clone() {
            self.out_section(&name, i);
        }
        self.placements.push(placed);
        Ok(())
    }

    /// Appends one section; `None` when it is a duplicate `license`/`version` (deduplicated).
    fn append_section(&mut self, i: usize, idx: usize) -> Result<Option<(usize, u64)>, LinkError> {
        let name = self.inputs[i].elf.sections[idx].name.clone();
        let out = self.out_section(&name, i);
        let input: &Input<'a> = &self.inputs[i];
        let s = &input.elf.sections[idx];
        let data = if s.is_nobits() {
            &[][..]
        } else {
            s.data().map_err(|e| input.err(e.to_string()))?
        };
        let o = &self.sections[out];
        if !o.ephemeral {
            let differ = |what: &str| LinkError::Section {
                section: s.name.clone(),
                first: self.inputs[o.first_input].name.clone(),
                second: input.name.clone(),
                reason: what.to_string(),
            };
            if o.sh_type != s.sh_type {
                return Err(differ("section types differ"));
            }
            if o.flags != s.flags {
                return Err(differ("section flags differ"));
            }
            if o.entsize != s.entsize {
                return Err(differ("section entry sizes differ"));
            }
            if s.name == "license" || s.name == "version" {
                if o.data != data {
                    return Err(differ("contents differ"));
                }
                return Ok(None);
            }
        }
        let o = &mut self.sections[out];
        let start = o.extend(s, data).ok_or_else(|| {
            input.err(format!(
                "section '{}' ({} bytes) makes the output section larger than 4 GiB",
                s.name, s.size
            ))
        })?;
        if o.ephemeral {
            o.init_from(s);
        }
        Ok(Some((out, start)))
    }

    /// Rebases input `i`'s relocations onto the output sections and symbols. A relocation
    /// against a section symbol has the distance its target section moved added to the
    /// instruction's immediate (in instructions for calls, in bytes otherwise).
    pub(crate) fn append_relocs(&mut self, i: usize) -> Result<(), LinkError> {
        let input = &self.inputs[i];
        for (idx, s) in input.elf.sections.iter().enumerate() {
            let Some((out, off)) = self.placements[i][idx] else {
                continue;
            };
            for r in &s.relocs {
                let sym = &input.elf.symbols[r.sym as usize];
                let Some(out_sym) = self.sym_maps[i][r.sym as usize] else {
                    return Err(input.err(format!(
                        "relocation at {:#x} in '{}' is against symbol '{}' of a section that is not linked",
                        r.offset, s.name, sym.name
                    )));
                };
                let offset = off + r.offset;
                if sym.st_type == STT_SECTION && r.sym != 0 {
                    let moved = sym
                        .shndx
                        .and_then(|t| self.placements[i][t])
                        .map(|(_, o)| o)
                        .ok_or_else(|| {
                            input.err(format!(
                                "relocation at {:#x} in '{}' is against section symbol of an unlinked section",
                                r.offset, s.name
                            ))
                        })?;
                    if !s.is_exec() {
                        return Err(LinkError::Unsupported {
                            input: input.name.clone(),
                            reason: format!(
                                "relocation against a section symbol in non-code section '{}'",
                                s.name
                            ),
                        });
                    }
                    shift_imm(&mut self.sections[out].data, offset, moved)
                        .map_err(|e| input.err(format!("section '{}': {e}", s.name)))?;
                }
                self.sections[out].relocs.push(OutRel {
                    offset,
                    r_type: r.r_type,
                    sym: out_sym,
                });
            }
        }
        Ok(())
    }
}

/// Adds `moved` bytes (for a call: `moved / 8` instructions) to the immediate of the
/// instruction at `at`.
fn shift_imm(code: &mut [u8], at: u64, moved: u64) -> Result<(), String> {
    let at = at as usize;
    let insn = code
        .get_mut(at..at + 8)
        .ok_or_else(|| format!("relocated instruction at {at:#x} lies outside the section"))?;
    let delta = if insn[0] == CALL { moved / 8 } else { moved };
    let imm = i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]);
    let new = i64::from(imm) + delta as i64;
    let new = i32::try_from(new).map_err(|_| format!("immediate at {at:#x} overflows"))?;
    insn[4..8].copy_from_slice(&new.to_le_bytes());
    Ok(())
}
