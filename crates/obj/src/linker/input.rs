//! One input object: its ELF sections sorted by role, its BTF and `.BTF.ext`, and which BTF
//! VAR or FUNC describes each of its global symbols (libbpf's `find_glob_sym_btf`).

use std::collections::HashMap;

use corebpf_btf::{Btf, BtfExt, Kind, Linkage};

use super::error::LinkError;
use crate::elf::{Elf, Section, SHT_NOBITS};

/// `SHT_PROGBITS`.
const SHT_PROGBITS: u32 = 1;
/// `SHT_SYMTAB`.
const SHT_SYMTAB: u32 = 2;
/// `SHT_STRTAB`.
const SHT_STRTAB: u32 = 3;
/// `SHT_REL`.
const SHT_REL: u32 = 9;
/// `SHT_LLVM_ADDRSIG`.
const SHT_LLVM_ADDRSIG: u32 = 0x6fff_4c03;
/// The BTF DATASEC clang puts extern variables without a section into.
pub(crate) const EXTERN_SEC: &str = ".extern";

/// What the linker does with an input section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Not carried over (string tables, DWARF, address-significance tables, empty `.text`).
    Skip,
    /// Code or data: appended to the output section of its name.
    Content,
    /// `.BTF`.
    Btf,
    /// `.BTF.ext`.
    BtfExt,
    /// The symbol table.
    Symtab,
    /// Relocations (the target section carries them).
    Rel,
}

/// The BTF type of a global symbol, and the DATASEC listing it (if any).
#[derive(Debug, Clone)]
pub(crate) struct GlobalBtf {
    /// The VAR or FUNC type id.
    pub id: u32,
    /// The name of the DATASEC it is in (`.data`, `.maps`, `.kconfig`, `.extern`, ...).
    pub datasec: Option<String>,
}

/// A parsed input.
pub(crate) struct Input<'a> {
    /// The name errors use.
    pub name: String,
    pub elf: Elf<'a>,
    pub roles: Vec<Role>,
    pub btf: Option<Btf>,
    pub ext: Option<BtfExt>,
    /// Non-static VARs and FUNCs by name.
    pub globals_btf: HashMap<String, GlobalBtf>,
    /// DATASECs with no ELF section (`.kconfig`, `.ksyms`, ...; not `.extern`).
    pub ephemeral: Vec<String>,
}

impl<'a> Input<'a> {
    /// Parses and checks one input.
    pub fn parse(name: &str, bytes: &'a [u8]) -> Result<Input<'a>, LinkError> {
        check_class(name, bytes)?;
        let elf = Elf::parse(bytes).map_err(|e| LinkError::input(name, e.to_string()))?;
        let roles = elf
            .sections
            .iter()
            .map(|s| section_role(name, s))
            .collect::<Result<Vec<_>, _>>()?;
        if roles.iter().filter(|r| **r == Role::Symtab).count() != 1 {
            return Err(LinkError::input(name, "needs exactly one SYMTAB section"));
        }
        if elf.symbols.is_empty() {
            // Every ELF symbol table starts with the null symbol; symbol indexes count it.
            return Err(LinkError::input(
                name,
                "its SYMTAB lacks the null symbol #0",
            ));
        }
        let mut input = Input {
            name: name.to_string(),
            elf,
            roles,
            btf: None,
            ext: None,
            globals_btf: HashMap::new(),
            ephemeral: Vec::new(),
        };
        input.check_sections()?;
        input.check_symbols()?;
        input.read_btf()?;
        Ok(input)
    }

    /// An error about this input.
    pub fn err(&self, reason: impl Into<String>) -> LinkError {
        LinkError::input(&self.name, reason)
    }

    /// Content sections must have power-of-two alignment; code whole instructions.
    fn check_sections(&self) -> Result<(), LinkError> {
        for (s, role) in self.elf.sections.iter().zip(&self.roles) {
            if *role != Role::Content {
                continue;
            }
            if s.align > 1 && !s.align.is_power_of_two() {
                return Err(self.err(format!(
                    "section '{}' has alignment {}, not a power of two",
                    s.name, s.align
                )));
            }
            if s.align > 4096 {
                return Err(self.err(format!(
                    "section '{}' has alignment {} (more than a page)",
                    s.name, s.align
                )));
            }
            if s.is_exec() && s.size % 8 != 0 {
                return Err(self.err(format!(
                    "code section '{}' is {} bytes, not whole instructions",
                    s.name, s.size
                )));
            }
            if !s.is_nobits() {
                s.data().map_err(|e| self.err(e.to_string()))?;
            }
            for r in &s.relocs {
                if r.sym as usize >= self.elf.symbols.len() {
                    return Err(self.err(format!(
                        "relocation at {:#x} in '{}' names symbol #{}, past the symbol table",
                        r.offset, s.name, r.sym
                    )));
                }
                if r.offset.checked_add(8).is_none_or(|end| end > s.size) {
                    return Err(self.err(format!(
                        "relocation at {:#x} in '{}' lies outside the section",
                        r.offset, s.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Symbols must lie in their section.
    fn check_symbols(&self) -> Result<(), LinkError> {
        for (i, sym) in self.elf.symbols.iter().enumerate().skip(1) {
            if sym.undefined || sym.st_shndx >= 0xff00 {
                continue;
            }
            let Some(sec) = sym.shndx.and_then(|i| self.elf.sections.get(i)) else {
                return Err(self.err(format!(
                    "symbol #{i} '{}' names section #{}, which does not exist",
                    sym.name, sym.st_shndx
                )));
            };
            if sym
                .value
                .checked_add(sym.size)
                .is_none_or(|end| end > sec.size)
            {
                return Err(self.err(format!(
                    "symbol '{}' ({:#x}+{:#x}) lies outside section '{}' ({:#x} bytes)",
                    sym.name, sym.value, sym.size, sec.name, sec.size
                )));
            }
        }
        Ok(())
    }

    /// Parses `.BTF` and `.BTF.ext` and indexes the non-static VARs and FUNCs.
    fn read_btf(&mut self) -> Result<(), LinkError> {
        let find = |role| self.roles.iter().position(|r| *r == role);
        let Some(btf_idx) = find(Role::Btf) else {
            return Ok(());
        };
        let bytes = self.elf.sections[btf_idx]
            .data()
            .map_err(|e| self.err(e.to_string()))?;
        let btf = Btf::parse(bytes).map_err(|e| self.err(format!(".BTF: {e}")))?;
        if let Some(ext_idx) = find(Role::BtfExt) {
            let bytes = self.elf.sections[ext_idx]
                .data()
                .map_err(|e| self.err(e.to_string()))?;
            let ext = BtfExt::parse(bytes, &btf).map_err(|e| self.err(format!(".BTF.ext: {e}")))?;
            self.ext = Some(ext);
        }
        self.index_globals(&btf)?;
        self.btf = Some(btf);
        Ok(())
    }

    /// Fills `globals_btf` and `ephemeral`. A name listed in a DATASEC takes that entry;
    /// two different DATASEC entries for one name are ambiguous.
    fn index_globals(&mut self, btf: &Btf) -> Result<(), LinkError> {
        let name = self.name.clone();
        let bad = |e: corebpf_btf::BtfError| LinkError::input(&name, format!(".BTF: {e}"));
        let mut loose: HashMap<String, u32> = HashMap::new();
        let mut listed: HashMap<String, GlobalBtf> = HashMap::new();
        for t in btf.types() {
            match t.kind() {
                Kind::Var | Kind::Func if is_non_static(&t) => {
                    loose.entry(t.name().to_string()).or_insert(t.id());
                }
                Kind::Datasec => {
                    let sec = t.name().to_string();
                    if sec != EXTERN_SEC
                        && self.elf.section_by_name(&sec).is_none()
                        && !self.ephemeral.contains(&sec)
                    {
                        self.ephemeral.push(sec.clone());
                    }
                    for v in t.datasec_vars() {
                        let vt = btf.type_by_id(v.type_id).map_err(bad)?;
                        if !is_non_static(&vt) {
                            continue;
                        }
                        let name = vt.name().to_string();
                        if listed.get(&name).is_some_and(|g| g.id != v.type_id) {
                            return Err(LinkError::input(
                                &self.name,
                                format!(
                                    "BTF of global '{name}' is ambiguous (two DATASEC entries)"
                                ),
                            ));
                        }
                        listed.insert(
                            name,
                            GlobalBtf {
                                id: v.type_id,
                                datasec: Some(sec.clone()),
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        for (name, id) in loose {
            listed
                .entry(name)
                .or_insert(GlobalBtf { id, datasec: None });
        }
        self.globals_btf = listed;
        Ok(())
    }
}

/// A VAR or FUNC with global or extern linkage.
pub(crate) fn is_non_static(t: &corebpf_btf::Type<'_>) -> bool {
    matches!(t.kind(), Kind::Var | Kind::Func) && t.linkage().is_some_and(|l| l != Linkage::Static)
}

/// The linker handles 64-bit little-endian objects (what corebpf loads).
fn check_class(name: &str, bytes: &[u8]) -> Result<(), LinkError> {
    match (bytes.get(4), bytes.get(5)) {
        (Some(2), Some(1)) => Ok(()),
        (Some(2), Some(2)) => Err(LinkError::Unsupported {
            input: name.into(),
            reason: "big-endian objects are not supported".into(),
        }),
        _ => Err(LinkError::input(name, "not a 64-bit ELF file")),
    }
}

/// Classifies a section as libbpf's linker does (`is_ignored_sec` and its type switch).
fn section_role(input: &str, s: &Section<'_>) -> Result<Role, LinkError> {
    let name = s.name.as_str();
    let dwarf = |n: &str| n.starts_with(".debug_");
    if s.index == 0 || s.sh_type == SHT_STRTAB || s.sh_type == SHT_LLVM_ADDRSIG || dwarf(name) {
        return Ok(Role::Skip);
    }
    if s.sh_type == SHT_PROGBITS && s.size == 0 && name == ".text" {
        return Ok(Role::Skip);
    }
    if let Some(target) = name.strip_prefix(".rel") {
        if dwarf(target) || target == ".BTF" || target == ".BTF.ext" {
            return Ok(Role::Skip);
        }
    }
    match s.sh_type {
        SHT_SYMTAB => Ok(Role::Symtab),
        SHT_PROGBITS if name == ".BTF" => Ok(Role::Btf),
        SHT_PROGBITS if name == ".BTF.ext" => Ok(Role::BtfExt),
        SHT_PROGBITS | SHT_NOBITS => Ok(Role::Content),
        SHT_REL => Ok(Role::Rel),
        t => Err(LinkError::input(
            input,
            format!("section #{} '{name}' has unsupported type {t:#x}", s.index),
        )),
    }
}
