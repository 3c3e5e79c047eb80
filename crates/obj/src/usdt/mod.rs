//! USDT probes (`<sys/sdt.h>` `STAP_PROBE*`, DTrace-style static probes) of an ELF
//! executable or shared library, read as libbpf 1.7's `usdt.c` reads them: the
//! `.note.stapsdt` notes (provider, name, address, semaphore, argument string), addresses
//! adjusted for prelink through `.stapsdt.base`, turned into file offsets through the
//! `PT_LOAD` segments (what a uprobe and its `ref_ctr_offset` take), and x86-64 argument
//! specs (`-4@$5`, `8@%rax`, `-4@-12(%rbp)`, `8@8(%rdi,%rsi,8)`) decoded into the
//! `struct __bpf_usdt_spec` values that libbpf's BPF-side `usdt.bpf.h` reads.
//!
//! Pure: no syscalls. Hostile notes give a [`UsdtError`] naming the note and probe.
//!
//! ```no_run
//! let bytes = std::fs::read("/usr/bin/python3")?;
//! let file = corebpf_obj::usdt::UsdtFile::parse(&bytes)?;
//! for note in file.notes() {
//!     match file.resolve(note) {
//!         Ok(t) => println!("{}:{} at file offset {:#x}", note.provider, note.name, t.file_offset),
//!         Err(e) => println!("{e}"),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod arg;
mod note;

pub use arg::{
    parse_args, ArgError, ArgFailure, ArgLocation, Register, SpecLayout, UsdtArg, UsdtSpec,
};
pub use note::{ElfKind, Segment, UsdtNote};

/// At most this many arguments per probe (libbpf's `USDT_MAX_ARG_CNT`,
/// `BPF_USDT_MAX_ARG_CNT` of `usdt.bpf.h`).
pub const USDT_MAX_ARG_CNT: usize = 12;

/// `e_machine` of x86-64, the architecture whose argument specs this module decodes.
pub const EM_X86_64: u16 = 62;

/// What is wrong with a binary's USDT notes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsdtError {
    /// The bytes are not an ELF file this module reads (not ELF64, not an executable or
    /// shared library, headers out of bounds).
    #[error("elf: {0}")]
    Elf(String),
    /// The binary has no `.note.stapsdt` section: it defines no USDT probes.
    #[error("no USDT notes section (.note.stapsdt)")]
    NoNotes,
    /// A note of `.note.stapsdt` is malformed.
    #[error("USDT note #{note}{}: {reason}", probe_suffix(.probe))]
    Note {
        /// The note's index in `.note.stapsdt`.
        note: usize,
        /// `provider:name`, when readable.
        probe: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// A probe's address (or its semaphore's) lies in no fitting `PT_LOAD` segment.
    #[error("USDT probe '{probe}' (note #{note}): {reason}")]
    Location {
        /// The note's index in `.note.stapsdt`.
        note: usize,
        /// `provider:name`.
        probe: String,
        /// What is wrong.
        reason: String,
    },
    /// A probe's argument string cannot be decoded.
    #[error("USDT probe '{probe}' (note #{note}): arg #{arg} '{spec}': {reason}")]
    Arg {
        /// The note's index in `.note.stapsdt`.
        note: usize,
        /// `provider:name`.
        probe: String,
        /// The argument's index.
        arg: usize,
        /// The argument's text.
        spec: String,
        /// What is wrong with it.
        reason: ArgError,
    },
    /// A probe has more arguments than `usdt.bpf.h` holds.
    #[error("USDT probe '{probe}' (note #{note}): too many arguments (> {USDT_MAX_ARG_CNT}) in '{args}'")]
    TooManyArgs {
        /// The note's index in `.note.stapsdt`.
        note: usize,
        /// `provider:name`.
        probe: String,
        /// The whole argument string.
        args: String,
    },
}

fn probe_suffix(probe: &Option<String>) -> String {
    probe
        .as_ref()
        .map(|p| format!(" ('{p}')"))
        .unwrap_or_default()
}

/// The USDT side of an ELF binary: its kind, `PT_LOAD` segments, `.stapsdt.base` address
/// and every `.note.stapsdt` note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtFile {
    /// Executable (`ET_EXEC`) or position-independent (`ET_DYN`: PIE or shared library).
    pub kind: ElfKind,
    /// `e_machine`.
    pub machine: u16,
    /// The address of `.stapsdt.base` (prelink adjustment), if the binary has one.
    pub base_addr: Option<u64>,
    /// The `PT_LOAD` segments, by address.
    pub segments: Vec<Segment>,
    notes: Vec<UsdtNote>,
}

/// One call site of a probe, ready to attach: a file offset for the uprobe, the semaphore's
/// file offset for `ref_ctr_offset`, and the decoded arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtTarget {
    /// The note's index in `.note.stapsdt`.
    pub note: usize,
    /// The call site's virtual address in the binary (after the prelink adjustment).
    pub addr: u64,
    /// Its file offset (what a uprobe attaches to).
    pub file_offset: u64,
    /// The semaphore's virtual address, 0 for none.
    pub sema_addr: u64,
    /// The semaphore's file offset (a uprobe's `ref_ctr_offset`), 0 for none.
    pub sema_offset: u64,
    /// The argument string as the note gives it (call sites sharing it share a spec).
    pub args_str: String,
    /// The decoded arguments.
    pub args: Vec<UsdtArg>,
}

impl UsdtFile {
    /// Reads the ELF headers, segments and every USDT note of `bytes`. A file without
    /// `.note.stapsdt` is [`UsdtError::NoNotes`]; any malformed note fails the whole file
    /// (as libbpf).
    pub fn parse(bytes: &[u8]) -> Result<UsdtFile, UsdtError> {
        note::parse_file(bytes)
    }

    /// Every note, in section order.
    pub fn notes(&self) -> &[UsdtNote] {
        &self.notes
    }

    /// The notes of probe `provider:name` (one per call site).
    pub fn find<'a>(
        &'a self,
        provider: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a UsdtNote> + 'a {
        self.notes
            .iter()
            .filter(move |n| n.provider == provider && n.name == name)
    }

    /// Every call site of `provider:name`, resolved; empty if the binary has no such probe.
    pub fn targets(&self, provider: &str, name: &str) -> Result<Vec<UsdtTarget>, UsdtError> {
        self.find(provider, name).map(|n| self.resolve(n)).collect()
    }

    /// Resolves one note: the prelink-adjusted address and its file offset (in an
    /// executable segment), the semaphore's file offset (in a non-executable one), and the
    /// arguments decoded.
    pub fn resolve(&self, note: &UsdtNote) -> Result<UsdtTarget, UsdtError> {
        let addr = self.adjust(note, note.loc_addr);
        let file_offset = self.file_offset(note, addr, true)?;
        let sema_offset = match note.sema_addr {
            0 => 0,
            a => self.file_offset(note, a, false)?,
        };
        let args = self.decode_args(note)?;
        Ok(UsdtTarget {
            note: note.index,
            addr,
            file_offset,
            sema_addr: note.sema_addr,
            sema_offset,
            args_str: note.args.clone(),
            args,
        })
    }

    /// libbpf's prelink compensation: the note records `.stapsdt.base`'s link-time address;
    /// prelink moves the section but not the note, so the difference applies to the probe.
    /// (As libbpf, the semaphore address is taken as the note gives it.)
    fn adjust(&self, note: &UsdtNote, addr: u64) -> u64 {
        match self.base_addr {
            Some(base) if base != 0 && note.base_addr != 0 => {
                addr.wrapping_add(base.wrapping_sub(note.base_addr))
            }
            _ => addr,
        }
    }

    /// The file offset of virtual address `addr` through the `PT_LOAD` segment holding it,
    /// which must be executable for a probe (`exec`) and must not be for a semaphore.
    fn file_offset(&self, note: &UsdtNote, addr: u64, exec: bool) -> Result<u64, UsdtError> {
        let what = if exec { "probe" } else { "semaphore" };
        let err = |reason: String| UsdtError::Location {
            note: note.index,
            probe: note.probe(),
            reason,
        };
        let seg = self
            .segments
            .iter()
            .find(|s| s.contains(addr))
            .ok_or_else(|| err(format!("{what} address {addr:#x} is in no PT_LOAD segment")))?;
        if seg.exec != exec {
            let is = if seg.exec { "is" } else { "is not" };
            return Err(err(format!(
                "{what} address {addr:#x} is in segment [{:#x}, {:#x}), which {is} executable",
                seg.vaddr,
                seg.vaddr.saturating_add(seg.memsz)
            )));
        }
        (addr - seg.vaddr).checked_add(seg.offset).ok_or_else(|| {
            err(format!(
                "{what} address {addr:#x}: its file offset overflows"
            ))
        })
    }

    /// The note's arguments, decoded for this binary's architecture.
    fn decode_args(&self, note: &UsdtNote) -> Result<Vec<UsdtArg>, UsdtError> {
        if self.machine != EM_X86_64 && !note.args.trim().is_empty() {
            return Err(UsdtError::Arg {
                note: note.index,
                probe: note.probe(),
                arg: 0,
                spec: note.args.clone(),
                reason: ArgError::UnsupportedArch(self.machine),
            });
        }
        parse_args(&note.args).map_err(|e| e.for_note(note))
    }
}
