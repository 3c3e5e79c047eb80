//! A static linker for BPF objects: several relocatable `.bpf.o` files in, one out, by
//! libbpf's rules (`bpf_linker`, what `bpftool gen object` runs).
//!
//! Per input, in order (`add`): content sections are appended, aligned, to the output
//! section of the same name (`sections`); symbols are resolved (`symbols`: locals copied,
//! globals merged, strong over weak over extern, declarations checked compatible by BTF,
//! `compat`); relocations are rebased onto the output. At the end (`finish`): strong
//! externs left unresolved are refused, BTF is merged, DATASECs rebuilt and the result
//! deduplicated (`btf_merge`), `.BTF.ext` records rebased (`ext`), and the ELF written
//! (`write`).
//!
//! ```no_run
//! let a = std::fs::read("a.bpf.o")?;
//! let b = std::fs::read("b.bpf.o")?;
//! let linked = corebpf_obj::linker::link(&[("a.bpf.o", &a[..]), ("b.bpf.o", &b[..])])?;
//! let spec = corebpf_obj::Object::parse_named(&linked, "app")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod btf_merge;
mod compat;
mod error;
mod ext;
mod input;
mod sections;
mod symbols;
mod write;

pub use error::LinkError;

use btf_merge::BtfOut;
use input::Input;
use sections::OutSection;
use symbols::{Global, GlobalIndex, OutSymbol, SymPlace};

/// Links objects given as `(name, bytes)` (the name is what errors call the input) into one
/// relocatable object.
pub fn link(inputs: &[(&str, &[u8])]) -> Result<Vec<u8>, LinkError> {
    let mut linker = Linker::new();
    for (name, bytes) in inputs {
        linker.add(name, bytes)?;
    }
    linker.finish()
}

/// Links files into one relocatable object; inputs are named by their paths.
pub fn link_files<P: AsRef<std::path::Path>>(paths: &[P]) -> Result<Vec<u8>, LinkError> {
    let files = paths
        .iter()
        .map(|p| {
            let name = p.as_ref().display().to_string();
            std::fs::read(p)
                .map(|b| (name.clone(), b))
                .map_err(|e| LinkError::Input {
                    input: name,
                    reason: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let inputs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
    link(&inputs)
}

/// The linker's state: inputs added so far and the output being built.
pub struct Linker<'a> {
    inputs: Vec<Input<'a>>,
    sections: Vec<OutSection>,
    /// Per input, per ELF section: its output section and offset there.
    placements: Vec<Vec<Option<(usize, u64)>>>,
    /// Per input, per symbol: its output symbol.
    sym_maps: Vec<Vec<Option<usize>>>,
    symbols: Vec<OutSymbol>,
    globals: Vec<Global>,
    global_index: GlobalIndex,
    btf: BtfOut,
}

impl Default for Linker<'_> {
    fn default() -> Self {
        Linker::new()
    }
}

impl<'a> Linker<'a> {
    /// A linker with no inputs.
    pub fn new() -> Linker<'a> {
        Linker {
            inputs: Vec::new(),
            sections: Vec::new(),
            placements: Vec::new(),
            sym_maps: Vec::new(),
            symbols: vec![OutSymbol {
                name: String::new(),
                bind: 0,
                st_type: 0,
                other: 0,
                place: SymPlace::Undef,
                value: 0,
                size: 0,
            }],
            globals: Vec::new(),
            global_index: GlobalIndex::new(),
            btf: BtfOut::default(),
        }
    }

    /// Adds one object: its sections are appended and its symbols resolved against the
    /// inputs added before it.
    pub fn add(&mut self, name: &str, bytes: &'a [u8]) -> Result<(), LinkError> {
        let input = Input::parse(name, bytes)?;
        self.inputs.push(input);
        let i = self.inputs.len() - 1;
        self.append_sections(i)?;
        self.append_symbols(i)?;
        self.append_relocs(i)
    }

    /// Checks that every strong extern was resolved, merges BTF and `.BTF.ext`, and writes
    /// the linked object.
    pub fn finish(mut self) -> Result<Vec<u8>, LinkError> {
        if self.inputs.is_empty() {
            return Err(LinkError::NoInputs);
        }
        self.check_unresolved()?;
        self.merge_btf()?;
        for i in 0..self.inputs.len() {
            self.rebase_ext(i)?;
        }
        self.intern_ext_section_names();
        let has_btf = self.btf.count > 0;
        let (btf, map) = if has_btf {
            let (b, m) = self.finish_btf()?;
            (Some(b), m)
        } else {
            (None, Vec::new())
        };
        let btf_ext = if has_btf { self.encode_ext(&map) } else { None };
        let out = write::Output {
            sections: &self.sections,
            symbols: &self.symbols,
            btf,
            btf_ext,
        };
        Ok(out.write())
    }
}
