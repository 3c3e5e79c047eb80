//! The one error type of `corebpf-btf`: every variant names what is wrong and where.

use crate::Kind;

/// What went wrong while reading or resolving BTF or `.BTF.ext`.
///
/// Offsets are byte offsets into the blob (or the section named), so a user can look at
/// the bytes with `xxd`; type ids are BTF type ids as `bpftool btf dump` prints them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BtfError {
    /// The blob is shorter than the structure that must be there.
    #[error("{what}: truncated: need {need} bytes at offset {offset}, have {have}")]
    Truncated {
        /// What was being read (e.g. `BTF header`, `type [12] members`).
        what: String,
        /// Byte offset where the structure starts.
        offset: usize,
        /// Bytes needed from `offset`.
        need: usize,
        /// Bytes available from `offset`.
        have: usize,
    },
    /// The magic number is not 0xeB9F in either byte order.
    #[error("{what}: bad magic {magic:#06x} (expected 0xeb9f)")]
    BadMagic {
        /// "BTF" or ".BTF.ext".
        what: &'static str,
        /// The first two bytes as a little-endian u16.
        magic: u16,
    },
    /// Unsupported version byte.
    #[error("{what}: unsupported version {version}")]
    BadVersion {
        /// "BTF" or ".BTF.ext".
        what: &'static str,
        /// The version found.
        version: u8,
    },
    /// A header field is inconsistent (sections overlap, lie outside the blob, misaligned).
    #[error("{what}: bad header: {reason}")]
    BadHeader {
        /// "BTF" or ".BTF.ext".
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The layout section (`layout_off`/`layout_len`) is misplaced or malformed, or does
    /// not agree with the type records.
    #[error("BTF layout section: {reason}")]
    BadLayout {
        /// What is wrong.
        reason: String,
    },
    /// The string section is malformed (must start and end with NUL, be valid UTF-8).
    #[error("BTF string section: {reason}")]
    BadStrings {
        /// What is wrong.
        reason: String,
    },
    /// A string offset points past the end of the string section.
    #[error("{what}: string offset {offset} is past the end of the string section ({len} bytes)")]
    StringOffset {
        /// Which record holds the offset.
        what: String,
        /// The offending offset.
        offset: u32,
        /// Length of the string section (base and split together).
        len: u32,
    },
    /// A type record has a kind the kernel does not define.
    #[error("type [{id}] at offset {offset}: unknown kind {kind}")]
    BadKind {
        /// Type id of the record.
        id: u32,
        /// Byte offset of the record in the type section.
        offset: usize,
        /// The kind number found.
        kind: u32,
    },
    /// A type record is internally inconsistent.
    #[error("type [{id}] ({kind}): {reason}")]
    BadType {
        /// Type id of the record.
        id: u32,
        /// Its kind.
        kind: Kind,
        /// What is wrong (bad vlen, bad int encoding, ...).
        reason: String,
    },
    /// A type id refers past the last type.
    #[error("{what}: type id {id} is out of range (last type is [{last}])")]
    TypeIdOutOfRange {
        /// Who refers to it.
        what: String,
        /// The id referred to.
        id: u32,
        /// The last valid id.
        last: u32,
    },
    /// Following typedef/modifier/array references never ends (or nests absurdly deep).
    #[error("type [{id}]: reference chain deeper than {limit} (a cycle?)")]
    ReferenceCycle {
        /// Where the walk started.
        id: u32,
        /// The depth limit.
        limit: u32,
    },
    /// A type was not of the kind an operation needs.
    #[error("type [{id}] is {found}, expected {expected}")]
    UnexpectedKind {
        /// The type id.
        id: u32,
        /// The kind found.
        found: Kind,
        /// What was expected.
        expected: &'static str,
    },
    /// A size computation overflowed or is meaningless (e.g. size of a function).
    #[error("type [{id}]: {reason}")]
    BadSize {
        /// The type id.
        id: u32,
        /// Why no size can be given.
        reason: String,
    },
    /// A `.BTF.ext` record or section is malformed.
    #[error(".BTF.ext {section}: {reason}")]
    BadExt {
        /// The info section ("func_info", "line_info", "core_relo") and ELF section if known.
        section: String,
        /// What is wrong.
        reason: String,
    },
    /// An ELF file could not be read or has no `.BTF`.
    #[error("ELF: {0}")]
    Elf(String),
    /// Reading a file failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The OS error text.
        reason: String,
    },
    /// The type graph cannot be written as C (e.g. unsupported construct).
    #[error("C dump: {0}")]
    Dump(String),
}

/// Result alias of this crate.
pub type Result<T, E = BtfError> = std::result::Result<T, E>;
