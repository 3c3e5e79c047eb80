//! Writes the linked object: a little-endian ELF64 relocatable BPF file with the layout
//! libbpf's linker gives it (`.strtab` doubling as the section-name table, `.symtab`, the
//! content sections in first-seen order, their `.rel` sections, `.BTF`, `.BTF.ext`).
//! Local symbols come first, as the ELF specification asks (`sh_info` = first global).

use super::sections::OutSection;
use super::symbols::{OutSymbol, SymPlace};

/// `e_machine` of BPF.
const EM_BPF: u16 = 247;
const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_REL: u32 = 9;
/// `SHF_INFO_LINK`: `sh_info` names a section (clang sets it on `.rel` sections).
const SHF_INFO_LINK: u64 = 0x40;
const EHDR_LEN: usize = 64;
const SHDR_LEN: usize = 64;
const SYM_LEN: u64 = 24;
const REL_LEN: u64 = 16;

/// One section header and its contents.
struct Shdr {
    name: u32,
    sh_type: u32,
    flags: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
    data: Vec<u8>,
}

/// Everything the writer needs.
pub(crate) struct Output<'l> {
    pub sections: &'l [OutSection],
    pub symbols: &'l [OutSymbol],
    pub btf: Option<Vec<u8>>,
    pub btf_ext: Option<Vec<u8>>,
}

/// ELF string table builder (no deduplication needed for names this few).
#[derive(Default)]
struct StrTab(Vec<u8>);

impl StrTab {
    fn add(&mut self, s: &str) -> u32 {
        if self.0.is_empty() {
            self.0.push(0);
        }
        if s.is_empty() {
            return 0;
        }
        let off = self.0.len() as u32;
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        off
    }
}

impl Output<'_> {
    /// The ELF file.
    pub fn write(&self) -> Vec<u8> {
        let mut strtab = StrTab::default();
        let mut shdrs = Vec::new();
        let strtab_name = strtab.add(".strtab");
        let symtab_name = strtab.add(".symtab");
        // ELF indices: 0 null, 1 .strtab, 2 .symtab, then content sections.
        let mut elf_index = vec![0u32; self.sections.len()];
        let mut next = 3u32;
        for (i, s) in self.sections.iter().enumerate() {
            if !s.ephemeral {
                elf_index[i] = next;
                next += 1;
            }
        }
        let (order, first_global) = symbol_order(self.symbols);
        let mut new_index = vec![0usize; self.symbols.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let symtab = self.symtab(&order, &elf_index, &mut strtab);
        for (i, s) in self.sections.iter().enumerate() {
            if elf_index[i] != 0 {
                shdrs.push(content_shdr(s, strtab.add(&s.name)));
            }
        }
        for (i, s) in self.sections.iter().enumerate() {
            if elf_index[i] != 0 && !s.relocs.is_empty() {
                let data = rel_bytes(s, &new_index);
                shdrs.push(Shdr {
                    name: strtab.add(&format!(".rel{}", s.name)),
                    sh_type: SHT_REL,
                    flags: SHF_INFO_LINK,
                    size: data.len() as u64,
                    link: 2,
                    info: elf_index[i],
                    align: 8,
                    entsize: REL_LEN,
                    data,
                });
            }
        }
        for (name, blob) in [(".BTF", &self.btf), (".BTF.ext", &self.btf_ext)] {
            if let Some(b) = blob {
                shdrs.push(data_shdr(strtab.add(name), b.clone()));
            }
        }
        let symtab = Shdr {
            name: symtab_name,
            sh_type: SHT_SYMTAB,
            flags: 0,
            size: symtab.len() as u64,
            link: 1,
            info: first_global as u32,
            align: 8,
            entsize: SYM_LEN,
            data: symtab,
        };
        let strtab = Shdr {
            name: strtab_name,
            sh_type: SHT_STRTAB,
            flags: 0,
            size: strtab.0.len() as u64,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
            data: strtab.0,
        };
        shdrs.insert(0, symtab);
        shdrs.insert(0, strtab);
        layout(shdrs)
    }

    /// The symbol table's bytes, in `order`.
    fn symtab(&self, order: &[usize], elf_index: &[u32], strtab: &mut StrTab) -> Vec<u8> {
        let mut out = Vec::with_capacity(order.len() * SYM_LEN as usize);
        for &i in order {
            let s = &self.symbols[i];
            let name = if i == 0 { 0 } else { strtab.add(&s.name) };
            let shndx = match s.place {
                SymPlace::Undef => 0,
                SymPlace::Section(out) => elf_index[out] as u16,
                SymPlace::Reserved(x) => x,
            };
            out.extend_from_slice(&name.to_le_bytes());
            out.push(s.bind << 4 | (s.st_type & 0xf));
            out.push(s.other);
            out.extend_from_slice(&shndx.to_le_bytes());
            out.extend_from_slice(&s.value.to_le_bytes());
            out.extend_from_slice(&s.size.to_le_bytes());
        }
        out
    }
}

/// Local symbols (the null symbol first), then the others; and the first non-local's index.
fn symbol_order(symbols: &[OutSymbol]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..symbols.len())
        .filter(|&i| i == 0 || symbols[i].bind == 0)
        .collect();
    let first_global = order.len();
    order.extend((1..symbols.len()).filter(|&i| symbols[i].bind != 0));
    (order, first_global)
}

fn content_shdr(s: &OutSection, name: u32) -> Shdr {
    Shdr {
        name,
        sh_type: s.sh_type,
        flags: s.flags,
        size: s.size,
        link: 0,
        info: 0,
        align: s.align,
        entsize: s.entsize,
        data: s.data.clone(),
    }
}

fn data_shdr(name: u32, data: Vec<u8>) -> Shdr {
    Shdr {
        name,
        sh_type: SHT_PROGBITS,
        flags: 0,
        size: data.len() as u64,
        link: 0,
        info: 0,
        align: 8,
        entsize: 0,
        data,
    }
}

/// `Elf64_Rel` records with symbol indices in the written order.
fn rel_bytes(s: &OutSection, new_index: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.relocs.len() * REL_LEN as usize);
    for r in &s.relocs {
        let info = (new_index[r.sym] as u64) << 32 | u64::from(r.r_type);
        out.extend_from_slice(&r.offset.to_le_bytes());
        out.extend_from_slice(&info.to_le_bytes());
    }
    out
}

/// Header, section contents (each at its alignment), then the section header table.
fn layout(shdrs: Vec<Shdr>) -> Vec<u8> {
    let mut out = vec![0u8; EHDR_LEN];
    let mut offsets = Vec::with_capacity(shdrs.len());
    for s in &shdrs {
        let align = s.align.max(1) as usize;
        out.resize(out.len().div_ceil(align) * align, 0);
        offsets.push(out.len() as u64);
        out.extend_from_slice(&s.data);
    }
    out.resize(out.len().div_ceil(8) * 8, 0);
    let shoff = out.len() as u64;
    out.extend_from_slice(&[0u8; SHDR_LEN]);
    for (s, off) in shdrs.iter().zip(offsets) {
        out.extend_from_slice(&s.name.to_le_bytes());
        out.extend_from_slice(&s.sh_type.to_le_bytes());
        out.extend_from_slice(&s.flags.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&s.size.to_le_bytes());
        out.extend_from_slice(&s.link.to_le_bytes());
        out.extend_from_slice(&s.info.to_le_bytes());
        out.extend_from_slice(&s.align.to_le_bytes());
        out.extend_from_slice(&s.entsize.to_le_bytes());
    }
    let shnum = shdrs.len() as u16 + 1;
    write_ehdr(&mut out[..EHDR_LEN], shoff, shnum);
    out
}

fn write_ehdr(h: &mut [u8], shoff: u64, shnum: u16) {
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // ELFCLASS64
    h[5] = 1; // ELFDATA2LSB
    h[6] = 1; // EV_CURRENT
    h[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
    h[18..20].copy_from_slice(&EM_BPF.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[40..48].copy_from_slice(&shoff.to_le_bytes());
    h[52..54].copy_from_slice(&(EHDR_LEN as u16).to_le_bytes());
    h[58..60].copy_from_slice(&(SHDR_LEN as u16).to_le_bytes());
    h[60..62].copy_from_slice(&shnum.to_le_bytes());
    h[62..64].copy_from_slice(&1u16.to_le_bytes()); // e_shstrndx: .strtab
}
