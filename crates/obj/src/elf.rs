//! A small owned view of a BPF ELF object: sections (name, type, flags, data), symbols and
//! relocations, read with `object`'s low-level ELF API. Every bound is checked here, so the
//! rest of the crate works on plain values and never indexes the file directly.

use object::elf::{FileHeader64, SHT_SYMTAB};
use object::read::elf::{FileHeader, Rel as _, SectionHeader as _, Sym as _};
use object::{Endianness, SectionIndex};

use crate::error::{ObjError, Result};

/// `e_machine` of BPF objects.
const EM_BPF: u16 = 247;
/// `SHT_NOBITS` (`.bss`).
pub(crate) const SHT_NOBITS: u32 = 8;
/// `SHT_REL`.
const SHT_REL: u32 = 9;
/// `SHF_EXECINSTR`.
const SHF_EXECINSTR: u64 = 4;
/// `STT_FUNC`.
pub(crate) const STT_FUNC: u8 = 2;
/// `STT_SECTION`.
pub(crate) const STT_SECTION: u8 = 3;
/// `STB_LOCAL`.
pub(crate) const STB_LOCAL: u8 = 0;
/// `STB_WEAK`.
pub(crate) const STB_WEAK: u8 = 2;
/// `STV_INTERNAL` (`st_other & 3`).
const STV_INTERNAL: u8 = 1;
/// `STV_HIDDEN` (`__attribute__((visibility("hidden")))`, libbpf's `__hidden`).
const STV_HIDDEN: u8 = 2;
/// First reserved section index (`SHN_LORESERVE`).
const SHN_LORESERVE: u16 = 0xff00;

/// One ELF section.
#[derive(Debug, Clone)]
pub(crate) struct Section<'a> {
    pub index: usize,
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    /// `sh_size` (for NOBITS sections: the size of the zeroed memory, no data in the file).
    pub size: u64,
    /// `sh_addralign`.
    pub align: u64,
    /// `sh_entsize`.
    pub entsize: u64,
    /// The contents (empty for NOBITS), or why they can't be read.
    pub data: std::result::Result<&'a [u8], String>,
    /// Relocations from the `SHT_REL` section whose `sh_info` names this one.
    pub relocs: Vec<Rel>,
}

impl<'a> Section<'a> {
    /// Executable (program code).
    pub fn is_exec(&self) -> bool {
        self.flags & SHF_EXECINSTR != 0
    }

    /// NOBITS (`.bss`).
    pub fn is_nobits(&self) -> bool {
        self.sh_type == SHT_NOBITS
    }

    /// The contents, or an error naming the section.
    pub fn data(&self) -> Result<&'a [u8]> {
        self.data.clone().map_err(|reason| ObjError::Section {
            section: self.name.clone(),
            reason,
        })
    }
}

/// One symbol table entry.
#[derive(Debug, Clone)]
pub(crate) struct Symbol {
    pub name: String,
    pub value: u64,
    pub size: u64,
    pub st_type: u8,
    pub bind: u8,
    /// Section index; `None` for undefined symbols (`SHN_UNDEF`) and reserved indices.
    pub shndx: Option<usize>,
    /// `SHN_UNDEF`.
    pub undefined: bool,
    /// ELF visibility (`st_other & 3`: `STV_DEFAULT`, `STV_INTERNAL`, `STV_HIDDEN`, ...).
    pub visibility: u8,
    /// The raw `st_shndx` (`SHN_ABS` and other reserved indices are kept here).
    pub st_shndx: u16,
}

impl Symbol {
    /// A global or weak symbol with hidden or internal visibility: libbpf treats it as
    /// static towards the kernel (its BTF FUNC or VAR gets static linkage).
    pub fn is_hidden_global(&self) -> bool {
        self.bind != STB_LOCAL && matches!(self.visibility, STV_HIDDEN | STV_INTERNAL)
    }
}

/// One `Elf64_Rel`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rel {
    pub offset: u64,
    pub r_type: u32,
    pub sym: u32,
}

/// The parsed ELF file.
#[derive(Debug)]
pub(crate) struct Elf<'a> {
    pub sections: Vec<Section<'a>>,
    pub symbols: Vec<Symbol>,
}

fn elf_err(e: impl std::fmt::Display) -> ObjError {
    ObjError::Elf {
        reason: e.to_string(),
    }
}

impl<'a> Elf<'a> {
    /// Reads headers, sections, symbols and relocations of a little-endian ELF64 BPF object.
    pub fn parse(bytes: &'a [u8]) -> Result<Elf<'a>> {
        let header = FileHeader64::<Endianness>::parse(bytes).map_err(elf_err)?;
        let endian = check_header(header)?;
        let table = header.sections(endian, bytes).map_err(elf_err)?;
        // Section names: a broken name table leaves them as `#<index>`.
        let names = header
            .shstrndx(endian, bytes)
            .map_or(&[][..], |i| section_data(&table, endian, bytes, i));
        let mut sections = read_sections(&table, names, endian, bytes);
        attach_relocs(&table, endian, bytes, &mut sections)?;
        let symbols = read_symbols(&table, endian, bytes, sections.len())?;
        Ok(Elf { sections, symbols })
    }

    /// The section named `name`.
    pub fn section_by_name(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// A global (non-section, named) symbol defined in section `shndx` with this name.
    pub fn symbol_in(&self, shndx: usize, name: &str) -> Option<&Symbol> {
        self.symbols
            .iter()
            .find(|s| s.shndx == Some(shndx) && s.name == name && s.st_type != STT_SECTION)
    }
}

/// The section table of a little-endian ELF64 file.
type SectionTable<'a> = object::read::elf::SectionTable<'a, FileHeader64<Endianness>, &'a [u8]>;

/// Checks that the file is a little-endian BPF object; returns its byte order.
fn check_header(header: &FileHeader64<Endianness>) -> Result<Endianness> {
    let endian = header.endian().map_err(elf_err)?;
    if endian != Endianness::Little {
        return Err(elf_err("big-endian BPF objects are not supported"));
    }
    let machine = header.e_machine(endian).0;
    // EM_NONE: very old clang emitted it for BPF; libbpf accepts both.
    if machine != EM_BPF && machine != 0 {
        return Err(elf_err(format!("e_machine {machine} is not BPF (247)")));
    }
    Ok(endian)
}

/// The contents of section `index` (a string table), empty if it has none.
fn section_data<'a>(
    table: &SectionTable<'a>,
    endian: Endianness,
    bytes: &'a [u8],
    index: u32,
) -> &'a [u8] {
    table
        .section(SectionIndex(index as usize))
        .and_then(|sh| sh.data(endian, bytes))
        .unwrap_or(&[])
}

/// The NUL-terminated string at `offset` of string table `strtab`.
///
/// Searched for here rather than with `object`'s string tables, which use the `memchr`
/// crate: its first search in a process detects the CPU's features with a dozen CPUID
/// instructions, each a VM exit under a hypervisor (about 70 µs on this project's test
/// host, a twentieth of loading a small object as a whole process).
fn str_at(strtab: &[u8], offset: u32) -> Option<&[u8]> {
    let rest = strtab.get(offset as usize..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..end])
}

/// Every section, its contents or (kept for when they are used) why they can't be read.
fn read_sections<'a>(
    table: &SectionTable<'a>,
    names: &[u8],
    endian: Endianness,
    bytes: &'a [u8],
) -> Vec<Section<'a>> {
    let mut sections = Vec::with_capacity(table.len());
    for (index, sh) in table.iter().enumerate() {
        let name = match str_at(names, sh.sh_name(endian)) {
            Some(n) => String::from_utf8_lossy(n).into_owned(),
            None => format!("#{index}"),
        };
        let sh_type = sh.sh_type(endian).0;
        let data = if sh_type == SHT_NOBITS {
            Ok(&[][..])
        } else {
            sh.data(endian, bytes).map_err(|e| {
                format!(
                    "contents (offset {:#x}, size {:#x}) lie outside the file ({} bytes): {e}",
                    sh.sh_offset(endian),
                    sh.sh_size(endian),
                    bytes.len()
                )
            })
        };
        sections.push(Section {
            index,
            name,
            sh_type,
            flags: sh.sh_flags(endian).0,
            size: sh.sh_size(endian),
            align: sh.sh_addralign(endian),
            entsize: sh.sh_entsize(endian),
            data,
            relocs: Vec::new(),
        });
    }
    sections
}

/// Gives each section the relocations of the `SHT_REL` section whose `sh_info` names it.
fn attach_relocs(
    table: &SectionTable<'_>,
    endian: Endianness,
    bytes: &[u8],
    sections: &mut [Section<'_>],
) -> Result<()> {
    for (index, sh) in table.iter().enumerate() {
        if sh.sh_type(endian).0 != SHT_REL {
            continue;
        }
        let target = sh.sh_info(endian) as usize;
        let rels = match sh.rel(endian, bytes) {
            Ok(Some((rels, _))) => rels,
            Ok(None) => continue,
            Err(e) => {
                return Err(ObjError::Section {
                    section: sections[index].name.clone(),
                    reason: e.to_string(),
                })
            }
        };
        let Some(t) = sections.get_mut(target) else {
            return Err(ObjError::Section {
                section: sections[index].name.clone(),
                reason: format!("sh_info {target} names no section"),
            });
        };
        t.relocs.extend(rels.iter().map(|r| Rel {
            offset: r.r_offset(endian),
            r_type: r.r_type(endian).0,
            sym: r.r_sym(endian),
        }));
    }
    Ok(())
}

/// The symbol table; section indexes past the `n_sections` sections read as none.
fn read_symbols(
    table: &SectionTable<'_>,
    endian: Endianness,
    bytes: &[u8],
    n_sections: usize,
) -> Result<Vec<Symbol>> {
    let symtab = table
        .symbols(endian, bytes, SHT_SYMTAB)
        .map_err(|e| ObjError::Section {
            section: ".symtab".into(),
            reason: e.to_string(),
        })?;
    let strings = section_data(table, endian, bytes, symtab.string_section().0 as u32);
    let mut symbols = Vec::new();
    for s in symtab.iter() {
        let name = str_at(strings, s.st_name(endian))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let raw_shndx = s.st_shndx(endian).0;
        let shndx = raw_shndx;
        let undefined = shndx == 0;
        let shndx = if undefined || shndx >= SHN_LORESERVE {
            None
        } else {
            let i = SectionIndex(shndx as usize);
            (i.0 < n_sections).then_some(i.0)
        };
        symbols.push(Symbol {
            name,
            value: s.st_value(endian),
            size: s.st_size(endian),
            st_type: s.st_type().0,
            bind: s.st_bind().0,
            shndx,
            undefined,
            visibility: s.st_visibility().0,
            st_shndx: raw_shndx,
        });
    }
    Ok(symbols)
}
