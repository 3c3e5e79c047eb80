//! Symbol resolution (libbpf's `linker_append_elf_sym`): local symbols are copied; a global
//! symbol is one output symbol whoever declares or defines it. A strong definition beats a
//! weak one and an extern; the first weak definition beats later weak ones; two strong
//! definitions are an error; a strong binding anywhere makes the symbol strong; the
//! strictest visibility wins. Every declaration is checked against the symbol's current
//! BTF (type, prototype, or map definition).

use std::collections::HashMap;

use super::compat::{btf_matches, map_defs_match};
use super::error::LinkError;
use super::input::{GlobalBtf, Role, EXTERN_SEC};
use super::Linker;
use crate::elf::{Symbol, STB_LOCAL, STB_WEAK, STT_SECTION};

/// `STB_GLOBAL`.
const STB_GLOBAL: u8 = 1;

/// Where an output symbol is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SymPlace {
    /// `SHN_UNDEF` (an extern).
    Undef,
    /// In this output section.
    Section(usize),
    /// A reserved index (`SHN_ABS`, ...), kept as is.
    Reserved(u16),
}

/// One output symbol.
#[derive(Debug, Clone)]
pub(crate) struct OutSymbol {
    pub name: String,
    pub bind: u8,
    pub st_type: u8,
    /// `st_other` (visibility in its low two bits).
    pub other: u8,
    pub place: SymPlace,
    pub value: u64,
    pub size: u64,
}

/// A global (non-local) symbol being resolved.
#[derive(Debug, Clone)]
pub(crate) struct Global {
    /// Output symbol index.
    pub sym: usize,
    /// Output section (content or ephemeral) it belongs to, if any.
    pub sec: Option<usize>,
    pub is_extern: bool,
    pub is_weak: bool,
    /// The input that first declared it.
    pub first_input: usize,
    /// The input whose declaration is the symbol's current one (the winning definition, or
    /// the first extern), and its VAR/FUNC type id there: the output keeps that BTF.
    pub owner: (usize, u32),
}

impl<'a> Linker<'a> {
    /// Resolves input `i`'s symbols; fills `sym_maps[i]`.
    pub(crate) fn append_symbols(&mut self, i: usize) -> Result<(), LinkError> {
        let n = self.inputs[i].elf.symbols.len();
        let mut map = vec![None; n];
        map[0] = Some(0);
        self.sym_maps.push(map);
        for idx in 1..n {
            let out = self.append_symbol(i, idx)?;
            self.sym_maps[i][idx] = out;
        }
        Ok(())
    }

    /// One symbol: its output index, or `None` when its section is not linked.
    fn append_symbol(&mut self, i: usize, idx: usize) -> Result<Option<usize>, LinkError> {
        let input = &self.inputs[i];
        let sym = input.elf.symbols[idx].clone();
        let mut out_sec = None;
        if !sym.undefined && sym.st_shndx < 0xff00 {
            let sec = sym.shndx.unwrap_or(0);
            if input.roles.get(sec) != Some(&Role::Content) {
                return Ok(None);
            }
            let Some((out, _)) = self.placements[i][sec] else {
                return Ok(None);
            };
            out_sec = Some(out);
            if sym.st_type == STT_SECTION {
                if let Some(s) = self.sections[out].sec_sym {
                    return Ok(Some(s));
                }
            }
        }
        if sym.bind == STB_LOCAL {
            return Ok(Some(self.add_symbol(i, &sym, out_sec)));
        }
        let btf = self.global_btf(i, &sym)?;
        if sym.undefined {
            out_sec = self.extern_section(i, &sym, &btf)?;
        }
        if let Some(&g) = self.global_index.get(&sym.name) {
            self.merge_global(g, i, &sym, &btf, out_sec)?;
            return Ok(Some(self.globals[g].sym));
        }
        let out = self.add_symbol(i, &sym, out_sec);
        self.global_index
            .insert(sym.name.clone(), self.globals.len());
        self.globals.push(Global {
            sym: out,
            sec: out_sec,
            is_extern: sym.undefined,
            is_weak: sym.bind == STB_WEAK,
            first_input: i,
            owner: (i, btf.id),
        });
        Ok(Some(out))
    }

    /// Copies a symbol into the output table, rebased onto its output section.
    fn add_symbol(&mut self, i: usize, sym: &Symbol, out_sec: Option<usize>) -> usize {
        let place = match (sym.undefined, out_sec) {
            (true, _) => SymPlace::Undef,
            (false, Some(out)) if !self.sections[out].ephemeral => SymPlace::Section(out),
            _ => SymPlace::Reserved(sym.st_shndx),
        };
        let base = match place {
            SymPlace::Section(_) => self.placement_of(i, sym).unwrap_or(0),
            _ => 0,
        };
        let mut value = base + sym.value;
        let idx = self.symbols.len();
        if sym.st_type == STT_SECTION {
            if let SymPlace::Section(out) = place {
                self.sections[out].sec_sym = Some(idx);
            }
            value = 0;
        }
        self.symbols.push(OutSymbol {
            name: sym.name.clone(),
            bind: sym.bind,
            st_type: sym.st_type,
            other: sym.visibility,
            place,
            value,
            size: sym.size,
        });
        idx
    }

    /// Where `sym`'s section starts in its output section.
    fn placement_of(&self, i: usize, sym: &Symbol) -> Option<u64> {
        sym.shndx
            .and_then(|s| self.placements[i].get(s).copied().flatten())
            .map(|(_, off)| off)
    }

    /// The BTF VAR or FUNC describing a global symbol of input `i` (required, as libbpf).
    fn global_btf(&self, i: usize, sym: &Symbol) -> Result<GlobalBtf, LinkError> {
        let input = &self.inputs[i];
        if input.btf.is_none() {
            return Err(input.err(format!(
                "global symbol '{}' needs BTF, and the object has none (compile with -g)",
                sym.name
            )));
        }
        input.globals_btf.get(&sym.name).cloned().ok_or_else(|| {
            input.err(format!(
                "no BTF VAR or FUNC describes global symbol '{}'",
                sym.name
            ))
        })
    }

    /// The output section of an extern declared in a DATASEC other than `.extern`
    /// (`.maps`, `.kconfig`, `.ksyms`, ...).
    fn extern_section(
        &mut self,
        i: usize,
        sym: &Symbol,
        btf: &GlobalBtf,
    ) -> Result<Option<usize>, LinkError> {
        let Some(sec) = btf.datasec.as_deref().filter(|s| *s != EXTERN_SEC) else {
            return Ok(None);
        };
        let input = &self.inputs[i];
        if let Some(s) = input.elf.section_by_name(sec) {
            return Ok(self.placements[i][s.index].map(|(out, _)| out));
        }
        if !input.ephemeral.iter().any(|e| e == sec) {
            return Err(input.err(format!(
                "extern '{}' is in DATASEC '{sec}', which matches no section",
                sym.name
            )));
        }
        let sec = sec.to_string();
        Ok(Some(self.out_section(&sec, i)))
    }

    /// A later declaration or definition of global `g` from input `i`.
    fn merge_global(
        &mut self,
        g: usize,
        i: usize,
        sym: &Symbol,
        btf: &GlobalBtf,
        out_sec: Option<usize>,
    ) -> Result<(), LinkError> {
        let glob = self.globals[g].clone();
        let (first, second) = (&self.inputs[glob.owner.0].name, &self.inputs[i].name);
        if !sym.undefined && !glob.is_extern && !glob.is_weak && sym.bind != STB_WEAK {
            return Err(LinkError::DuplicateDefinition {
                symbol: sym.name.clone(),
                first: first.clone(),
                second: second.clone(),
            });
        }
        self.check_compatible(&glob, i, sym, btf)?;
        let out = &mut self.symbols[glob.sym];
        if sym.bind == STB_GLOBAL {
            out.bind = STB_GLOBAL;
            self.globals[g].is_weak = false;
        }
        if sym.visibility > out.other & 3 {
            out.other = (out.other & !3) | sym.visibility;
        }
        if sym.undefined || (!glob.is_extern && sym.bind == STB_WEAK) {
            return Ok(());
        }
        // A strong definition, or the first definition of an extern: it takes over.
        let Some(sec) = out_sec else {
            return Err(self.inputs[i].err(format!("definition of '{}' has no section", sym.name)));
        };
        let value = self.placement_of(i, sym).unwrap_or(0) + sym.value;
        let out = &mut self.symbols[glob.sym];
        out.st_type = sym.st_type;
        out.place = SymPlace::Section(sec);
        out.value = value;
        out.size = sym.size;
        let glob = &mut self.globals[g];
        glob.sec = Some(sec);
        glob.is_extern = false;
        glob.owner = (i, btf.id);
        Ok(())
    }

    /// Checks a declaration against the global's current one: BTF types must match
    /// exactly, map definitions field by field.
    fn check_compatible(
        &self,
        glob: &Global,
        i: usize,
        sym: &Symbol,
        btf: &GlobalBtf,
    ) -> Result<(), LinkError> {
        let (oi, oid) = glob.owner;
        let (a, b) = (&self.inputs[oi], &self.inputs[i]);
        let (abtf, bbtf) = (a.btf.as_ref(), b.btf.as_ref());
        let (Some(abtf), Some(bbtf)) = (abtf, bbtf) else {
            return Err(b.err(format!("global symbol '{}' needs BTF", sym.name)));
        };
        let incompatible = |reason: String| LinkError::Incompatible {
            symbol: sym.name.clone(),
            first: a.name.clone(),
            second: b.name.clone(),
            reason,
        };
        let is_map = glob.sec.is_some_and(|s| self.sections[s].name == ".maps");
        if is_map {
            map_defs_match(&sym.name, abtf, oid, bbtf, btf.id).map_err(incompatible)
        } else {
            btf_matches(abtf, oid, bbtf, btf.id, true).map_err(incompatible)
        }
    }

    /// Fails on a strong extern nothing defined, unless the loader resolves it (an extern
    /// in `.kconfig` or `.ksyms`). An extern map or variable is not left for a later link
    /// as libbpf allows: no loader could resolve it.
    pub(crate) fn check_unresolved(&self) -> Result<(), LinkError> {
        for g in &self.globals {
            if !g.is_extern || g.is_weak {
                continue;
            }
            let sec = g.sec.map(|s| self.sections[s].name.as_str());
            if matches!(sec, Some(crate::KCONFIG_SEC | crate::KSYMS_SEC)) {
                continue;
            }
            return Err(LinkError::Unresolved {
                symbol: self.symbols[g.sym].name.clone(),
                input: self.inputs[g.first_input].name.clone(),
            });
        }
        Ok(())
    }
}

/// Global symbols by name.
pub(crate) type GlobalIndex = HashMap<String, usize>;
