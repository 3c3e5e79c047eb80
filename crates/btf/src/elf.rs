//! BTF from ELF files: an object's `.BTF`/`.BTF.ext`, or a kernel image's `.BTF`.

use object::{Object, ObjectSection};

use crate::{Btf, BtfError, BtfExt, Result};

/// The raw `.BTF` and `.BTF.ext` sections of an ELF file, each if present.
pub type ElfBtfSections<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// The raw `.BTF` and `.BTF.ext` bytes of an ELF file, if present.
pub fn elf_btf_sections(elf: &[u8]) -> Result<ElfBtfSections<'_>> {
    let file = object::File::parse(elf).map_err(|e| BtfError::Elf(e.to_string()))?;
    let get = |name: &str| -> Result<Option<&[u8]>> {
        match file.section_by_name(name) {
            Some(s) => s
                .data()
                .map(Some)
                .map_err(|e| BtfError::Elf(format!("section {name}: {e}"))),
            None => Ok(None),
        }
    };
    Ok((get(".BTF")?, get(".BTF.ext")?))
}

impl Btf {
    /// Parses the `.BTF` section of an ELF file (a BPF object or a vmlinux image).
    pub fn from_elf(elf: &[u8]) -> Result<Btf> {
        match elf_btf_sections(elf)?.0 {
            Some(btf) => Btf::parse(btf),
            None => Err(BtfError::Elf("no .BTF section".into())),
        }
    }

    /// Parses BTF from bytes that are either a raw BTF blob or an ELF file with `.BTF`
    /// (what `--btf FILE` accepts, like libbpf's `btf__parse`).
    pub fn parse_raw_or_elf(bytes: &[u8]) -> Result<Btf> {
        if bytes.starts_with(b"\x7fELF") {
            Btf::from_elf(bytes)
        } else {
            Btf::parse(bytes)
        }
    }
}

impl BtfExt {
    /// Parses the `.BTF.ext` section of an ELF object against its `.BTF`; `None` if the
    /// object has none.
    pub fn from_elf(elf: &[u8], btf: &Btf) -> Result<Option<BtfExt>> {
        match elf_btf_sections(elf)?.1 {
            Some(ext) => BtfExt::parse(ext, btf).map(Some),
            None => Ok(None),
        }
    }
}
