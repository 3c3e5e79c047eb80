//! The ELF side of USDT: headers, `PT_LOAD` segments, `.stapsdt.base` and the notes of
//! `.note.stapsdt` (libbpf's `parse_elf_segs`, `find_elf_sec_by_name`, `parse_usdt_note`).

use object::elf::{FileHeader64, ET_DYN, ET_EXEC, PF_X, PT_LOAD, SHT_NOTE};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, ReadRef};

use super::{UsdtError, UsdtFile};

/// The notes section.
const NOTE_SEC: &[u8] = b".note.stapsdt";
/// The prelink marker section.
const BASE_SEC: &[u8] = b".stapsdt.base";
/// Owner name and type of a USDT note.
const NOTE_NAME: &[u8] = b"stapsdt";
const NOTE_TYPE: u32 = 3;

/// `ET_EXEC` or `ET_DYN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfKind {
    /// A fixed-address executable: addresses are absolute.
    Exec,
    /// A PIE executable or shared library: addresses are relative to where it is mapped.
    Dyn,
}

/// A `PT_LOAD` segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_memsz`.
    pub memsz: u64,
    /// `p_offset`.
    pub offset: u64,
    /// `PF_X` is set.
    pub exec: bool,
}

impl Segment {
    /// Whether `addr` is in `[vaddr, vaddr + memsz)`.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.vaddr && addr - self.vaddr < self.memsz
    }
}

/// One `.note.stapsdt` note: one call site of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtNote {
    /// The note's index in `.note.stapsdt`.
    pub index: usize,
    /// The provider (`STAP_PROBE(provider, name)`).
    pub provider: String,
    /// The probe name.
    pub name: String,
    /// The call site's link-time address.
    pub loc_addr: u64,
    /// `.stapsdt.base`'s link-time address, as the note recorded it.
    pub base_addr: u64,
    /// The semaphore's address, 0 for none.
    pub sema_addr: u64,
    /// The argument string (`-4@%edi 8@-8(%rbp)`), empty for none.
    pub args: String,
}

impl UsdtNote {
    /// `provider:name`.
    pub fn probe(&self) -> String {
        format!("{}:{}", self.provider, self.name)
    }
}

fn elf_err(e: impl std::fmt::Display) -> UsdtError {
    UsdtError::Elf(e.to_string())
}

/// Parses what USDT needs of an ELF64 executable or shared library.
pub(super) fn parse_file(bytes: &[u8]) -> Result<UsdtFile, UsdtError> {
    if bytes.get(4) == Some(&1) && bytes.starts_with(b"\x7fELF") {
        return Err(elf_err("32-bit ELF files are not supported"));
    }
    let header = FileHeader64::<Endianness>::parse(bytes).map_err(elf_err)?;
    let endian = header.endian().map_err(elf_err)?;
    let kind = match header.e_type(endian) {
        ET_EXEC => ElfKind::Exec,
        ET_DYN => ElfKind::Dyn,
        t => {
            return Err(elf_err(format!(
                "ELF type {t} is neither an executable (ET_EXEC) nor a shared object (ET_DYN)"
            )))
        }
    };
    let sections = header.sections(endian, bytes).map_err(elf_err)?;
    let (_, notes_sh) = sections
        .section_by_name(endian, NOTE_SEC)
        .ok_or(UsdtError::NoNotes)?;
    if notes_sh.sh_type(endian) != SHT_NOTE {
        return Err(elf_err(".note.stapsdt is not a SHT_NOTE section"));
    }
    let data = notes_sh
        .data(endian, bytes)
        .map_err(|e| elf_err(format!(".note.stapsdt: {e}")))?;
    let align = if notes_sh.sh_addralign(endian) == 8 {
        8
    } else {
        4
    };
    let base_addr = sections
        .section_by_name(endian, BASE_SEC)
        .map(|(_, sh)| sh.sh_addr(endian));
    Ok(UsdtFile {
        kind,
        machine: header.e_machine(endian).0,
        base_addr,
        segments: load_segments(header, endian, bytes)?,
        notes: parse_notes(data, align, endian == Endianness::Little)?,
    })
}

/// The `PT_LOAD` segments, sorted by address (libbpf's `parse_elf_segs`).
fn load_segments<'a, R: ReadRef<'a>>(
    header: &FileHeader64<Endianness>,
    endian: Endianness,
    bytes: R,
) -> Result<Vec<Segment>, UsdtError> {
    let phdrs = header.program_headers(endian, bytes).map_err(elf_err)?;
    let mut segs: Vec<Segment> = phdrs
        .iter()
        .filter(|p| p.p_type(endian) == PT_LOAD)
        .map(|p| Segment {
            vaddr: p.p_vaddr(endian),
            memsz: p.p_memsz(endian),
            offset: p.p_offset(endian),
            exec: p.p_flags(endian).contains(PF_X),
        })
        .collect();
    if segs.is_empty() {
        return Err(elf_err("no PT_LOAD program headers"));
    }
    segs.sort_by_key(|s| s.vaddr);
    Ok(segs)
}

/// A little byte reader over a note section.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    little: bool,
}

impl<'a> Cursor<'a> {
    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Takes `n` bytes and skips the padding up to `align`.
    fn take_padded(&mut self, n: usize, align: usize) -> Option<&'a [u8]> {
        let s = self.take(n)?;
        let pad = (align - n % align) % align;
        // The last note may end without its padding.
        self.pos = self.pos.saturating_add(pad).min(self.data.len());
        Some(s)
    }
}

/// Every note of the section (libbpf's `gelf_getnote` loop with `parse_usdt_note`).
fn parse_notes(data: &[u8], align: usize, little: bool) -> Result<Vec<UsdtNote>, UsdtError> {
    let mut c = Cursor {
        data,
        pos: 0,
        little,
    };
    let mut notes = Vec::new();
    while c.pos < data.len() {
        let index = notes.len();
        let bad = |reason: &str| UsdtError::Note {
            note: index,
            probe: None,
            reason: reason.to_string(),
        };
        let (namesz, descsz, ntype) = match (c.u32(), c.u32(), c.u32()) {
            (Some(a), Some(b), Some(t)) => (a as usize, b as usize, t),
            _ => return Err(bad("truncated note header")),
        };
        let name = c
            .take_padded(namesz, align)
            .ok_or_else(|| bad("note name runs past the section"))?;
        let desc = c
            .take_padded(descsz, align)
            .ok_or_else(|| bad("note description runs past the section"))?;
        if name.split(|&b| b == 0).next() != Some(NOTE_NAME) {
            return Err(bad("not a 'stapsdt' note"));
        }
        if ntype != NOTE_TYPE {
            return Err(bad(&format!("note type {ntype} is not NT_STAPSDT (3)")));
        }
        notes.push(parse_desc(index, desc, little)?);
    }
    Ok(notes)
}

/// A note's description: three addresses, then provider, name and arguments, each
/// NUL-terminated.
fn parse_desc(index: usize, desc: &[u8], little: bool) -> Result<UsdtNote, UsdtError> {
    let bad = |probe: Option<String>, reason: &str| UsdtError::Note {
        note: index,
        probe,
        reason: reason.to_string(),
    };
    // Three addresses and three empty strings at the very least.
    if desc.len() < 24 + 3 {
        return Err(bad(None, "description shorter than 27 bytes"));
    }
    let addr = |i: usize| -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&desc[i * 8..i * 8 + 8]);
        if little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        }
    };
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (provider, rest) =
        split_nul(&desc[24..]).ok_or_else(|| bad(None, "provider is not NUL-terminated"))?;
    let provider = lossy(provider);
    if rest.first().is_none_or(|&b| b == 0) {
        return Err(bad(None, "missing or empty probe name"));
    }
    let (name, rest) =
        split_nul(rest).ok_or_else(|| bad(None, "probe name is not NUL-terminated"))?;
    let probe = Some(format!("{provider}:{}", lossy(name)));
    if rest.is_empty() {
        return Err(bad(probe, "missing argument string"));
    }
    let (args, _) =
        split_nul(rest).ok_or_else(|| bad(probe, "argument string is not NUL-terminated"))?;
    // libbpf takes an argument string starting with ':' as none.
    let args = match args.first() {
        None | Some(b':') => String::new(),
        Some(_) => lossy(args),
    };
    Ok(UsdtNote {
        index,
        provider,
        name: lossy(name),
        loc_addr: addr(0),
        base_addr: addr(1),
        sema_addr: addr(2),
        args,
    })
}

/// The bytes up to the first NUL and those after it; `None` without a NUL.
fn split_nul(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = b.iter().position(|&c| c == 0)?;
    Some((&b[..end], &b[end + 1..]))
}
