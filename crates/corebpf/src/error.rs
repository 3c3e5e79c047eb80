//! [`Error`]: everything that can go wrong between an object file and loaded programs, each
//! naming the program, map or relocation it is about.
//!
//! Each message is complete: it includes the message of the error underneath (the kernel's
//! answer, an I/O error), which is also kept in a field (`error`) for matching, but is not
//! returned again by `source()`, so error reporters (anyhow, eyre) print it once.

use corebpf_btf::BtfError;
use corebpf_obj::core_relo::CoreError;
use corebpf_obj::ObjError;
use corebpf_sys::SysError;

use crate::map::MapError;
use crate::pin::PinError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why opening or loading an object failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the object file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The ELF object is malformed or uses something unsupported.
    #[error(transparent)]
    Object(#[from] ObjError),
    /// The object file at `path` is malformed or uses something unsupported
    /// ([`crate::ObjectBuilder::open_file`]; [`Error::Object`] for objects from memory).
    #[error("{path}: {error}")]
    ObjectFile {
        /// The file.
        path: String,
        /// What is wrong in it.
        error: Box<ObjError>,
    },
    /// Reading BTF (the object's, the kernel's, or a target file) failed.
    #[error("BTF: {0}")]
    Btf(BtfError),
    /// A CO-RE relocation failed.
    #[error("CO-RE: {0}")]
    Core(CoreError),
    /// A program the verifier rejected: its message, the source line, and the full log.
    #[error("{}", .0)]
    Verifier(Box<VerifierError>),
    /// Loading the object's BTF into the kernel failed.
    #[error("loading BTF of object '{object}': {error}")]
    BtfLoad {
        /// The object.
        object: String,
        /// The kernel's answer (with its BTF log).
        error: SysError,
    },
    /// Creating, filling or pinning a map failed.
    #[error("map '{map}': {what}: {error}")]
    Map {
        /// The map.
        map: String,
        /// What was being done.
        what: &'static str,
        /// The kernel's answer.
        error: SysError,
    },
    /// Filling a slot of a prog array or map of maps that the object initializes
    /// (`.values = { ... }`) failed.
    #[error("map '{map}': setting {what} slot {slot}: {error}")]
    MapSlot {
        /// The prog array or map of maps.
        map: String,
        /// `prog array` or `inner map`.
        what: &'static str,
        /// The slot (key).
        slot: u32,
        /// The kernel's answer.
        error: SysError,
    },
    /// A pinned map (LIBBPF_PIN_BY_NAME) exists but differs from the object's definition.
    #[error("map '{map}': pinned map at {path} is incompatible: {field} is {pinned}, the object wants {expected}")]
    PinnedMapIncompatible {
        /// The map.
        map: String,
        /// The pin path.
        path: String,
        /// The differing property.
        field: &'static str,
        /// The pinned map's value.
        pinned: String,
        /// The object's value.
        expected: String,
    },
    /// A BPF token could not be created from the bpffs at `path` (given to
    /// [`crate::ObjectBuilder::token`] or in `LIBBPF_BPF_TOKEN_PATH`).
    #[error("BPF token from {path}: {error}")]
    Token {
        /// The bpffs.
        path: String,
        /// Why: the kernel's answer explained (tokens need Linux 6.9, no delegation, ...).
        error: SysError,
    },
    /// A typed map operation failed.
    #[error(transparent)]
    MapOp(#[from] MapError),
    /// A syscall about a program failed (other than verifier rejection).
    #[error("program '{prog}': {error}")]
    Program {
        /// The program.
        prog: String,
        /// The kernel's answer.
        error: SysError,
    },
    /// The program's section names no program type corebpf knows.
    #[error("program '{prog}': {reason}")]
    ProgramSpec {
        /// The program.
        prog: String,
        /// What is wrong.
        reason: String,
    },
    /// No program, map or global by that name.
    #[error("no {what} named '{name}' in object '{object}'")]
    NotFound {
        /// "program", "map" or "variable".
        what: &'static str,
        /// The name asked for.
        name: String,
        /// The object.
        object: String,
    },
    /// A value given before load does not fit.
    #[error("{0}")]
    InvalidInput(String),
    /// Attaching a program failed: which program, which target, and why (what the kernel
    /// lacks, or its errno).
    #[error("program '{prog}': cannot attach to {target}: {reason}")]
    Attach {
        /// The program.
        prog: String,
        /// The attach point (`kprobe do_sys_openat2`, `xdp on ifindex 3`, ...).
        target: String,
        /// What went wrong, in words (the kernel's answer included).
        reason: String,
        /// The underlying system error, if one.
        error: Option<SysError>,
    },
    /// A struct_ops map cannot be laid out for this kernel, registered or replaced: which
    /// map and why (a member the kernel lacks, a type it does not have, its errno).
    #[error("struct_ops map '{map}': {reason}")]
    StructOps {
        /// The map.
        map: String,
        /// What went wrong, in words.
        reason: String,
        /// The underlying system error, if one.
        error: Option<SysError>,
    },
    /// Pinning a link or another object failed: `what` was being pinned where, and the
    /// [`PinError`] (a bpffs check, a directory, `BPF_OBJ_PIN`).
    #[error("{what}: {error}")]
    Pin {
        /// What was being pinned, and where.
        what: String,
        /// Why it failed.
        error: PinError,
    },
    /// Any other syscall failure.
    #[error(transparent)]
    Sys(#[from] SysError),
}

/// A pin function's error met with `?`, outside a [`Link::pin`](crate::link::Link::pin).
// The messages of `Btf` and `Core` include their errors, so these are not `#[from]`
// (which would also make them `source()`, and error reporters would print them twice).
impl From<BtfError> for Error {
    fn from(e: BtfError) -> Self {
        Error::Btf(e)
    }
}

impl From<CoreError> for Error {
    fn from(e: CoreError) -> Self {
        Error::Core(e)
    }
}

impl From<PinError> for Error {
    fn from(source: PinError) -> Self {
        Error::Pin {
            what: "pinning".into(),
            error: source,
        }
    }
}

/// A verifier rejection, explained.
#[derive(Debug)]
pub struct VerifierError {
    /// The program.
    pub prog: String,
    /// The object.
    pub object: String,
    /// The verifier's own message (its last meaningful line).
    pub message: String,
    /// Index of the rejected instruction, if the log names one.
    pub insn: Option<usize>,
    /// `file:line: source text` of that instruction, from `.BTF.ext` line info.
    pub source_line: Option<String>,
    /// For a poisoned CO-RE instruction: which relocation failed and why.
    pub core: Option<String>,
    /// The whole verifier log.
    pub log: String,
    /// The underlying error (errno).
    pub source: SysError,
}

impl std::fmt::Display for VerifierError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "program '{}' of object '{}' rejected by the verifier",
            self.prog, self.object
        )?;
        if let Some(core) = &self.core {
            write!(f, ": {core}")?;
        } else {
            write!(f, ": {}", self.message)?;
        }
        if let Some(i) = self.insn {
            write!(f, "\n  at insn #{i}")?;
        }
        if let Some(line) = &self.source_line {
            write!(f, "\n  source: {line}")?;
        }
        if let Some(e) = self.source.errno() {
            write!(f, "\n  errno: {e}")?;
        }
        write!(f, "\n  verifier log:")?;
        for l in self.log.lines() {
            write!(f, "\n    {l}")?;
        }
        Ok(())
    }
}

fn is_eperm_or_eacces(errno: Option<i32>) -> bool {
    matches!(errno, Some(e) if e == libc::EPERM || e == libc::EACCES)
}

impl Error {
    /// Whether the failure is about permissions (no CAP_BPF/CAP_SYS_ADMIN, or lockdown).
    pub fn is_permission(&self) -> bool {
        match self {
            Error::Sys(e)
            | Error::Program { error: e, .. }
            | Error::Map { error: e, .. }
            | Error::MapSlot { error: e, .. }
            | Error::BtfLoad { error: e, .. } => e.is_permission(),
            Error::Verifier(v) => v.source.is_permission() && v.log.trim().is_empty(),
            Error::Attach { error: Some(e), .. } => e.is_permission(),
            Error::Pin { error, .. } => is_eperm_or_eacces(error.raw_errno()),
            Error::MapOp(e) => is_eperm_or_eacces(e.raw_errno()),
            Error::Io { error, .. } => is_eperm_or_eacces(error.raw_os_error()),
            _ => false,
        }
    }

    /// Whether the failure is that something named does not exist (`ENOENT`): a
    /// tracepoint, a kernel function, a pinned object, a file.
    pub fn is_not_found(&self) -> bool {
        self.raw_errno() == Some(libc::ENOENT)
    }

    /// The errno underneath, for failures the kernel or the file system reported.
    pub fn raw_errno(&self) -> Option<i32> {
        match self {
            Error::Sys(e)
            | Error::Program { error: e, .. }
            | Error::Map { error: e, .. }
            | Error::MapSlot { error: e, .. }
            | Error::BtfLoad { error: e, .. }
            | Error::Attach { error: Some(e), .. }
            | Error::StructOps { error: Some(e), .. } => e.raw_errno(),
            Error::Verifier(v) => v.source.raw_errno(),
            Error::Pin { error, .. } => error.raw_errno(),
            Error::MapOp(e) => e.raw_errno(),
            Error::Io { error, .. } => error.raw_os_error(),
            _ => None,
        }
    }

    /// Whether the failure says the kernel lacks something (a probe PMU, a link type, a
    /// program type): [`SysError::is_unsupported`] of the underlying error.
    pub fn is_unsupported(&self) -> bool {
        match self {
            Error::Sys(e)
            | Error::Program { error: e, .. }
            | Error::Attach { error: Some(e), .. } => e.is_unsupported(),
            _ => false,
        }
    }

    /// The verifier details, if the verifier rejected a program.
    pub fn verifier(&self) -> Option<&VerifierError> {
        match self {
            Error::Verifier(v) => Some(v),
            _ => None,
        }
    }
}
