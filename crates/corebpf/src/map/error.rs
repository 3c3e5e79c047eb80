//! The error type of maps, pinning, ring buffers and perf buffers.

use std::io;

use corebpf_sys::SysError;

use crate::pin::PinError;

/// Why a map, pin, ring buffer or perf buffer operation failed. Each variant names the
/// map (or path) it is about.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// A system call failed.
    #[error("{name}: {error}")]
    Sys {
        /// The map name, path, or object the call was about.
        name: String,
        /// The underlying error (command, errno).
        error: SysError,
    },
    /// The map is not of a type the typed handle works with.
    #[error("map {name} is a {actual} map; {handle} needs {expected}")]
    WrongType {
        /// The map name.
        name: String,
        /// The map's type.
        actual: String,
        /// The typed handle asked for.
        handle: &'static str,
        /// The type(s) it accepts.
        expected: String,
    },
    /// The key type's size differs from the map's key size.
    #[error("map {name} has {map}-byte keys but the key type {ty} is {rust} bytes")]
    KeySize {
        /// The map name.
        name: String,
        /// The map's key size.
        map: usize,
        /// `size_of` the Rust key type.
        rust: usize,
        /// The Rust key type.
        ty: &'static str,
    },
    /// The value type's size differs from the map's value size.
    #[error("map {name} has {map}-byte values but the value type {ty} is {rust} bytes")]
    ValueSize {
        /// The map name.
        name: String,
        /// The map's value size.
        map: usize,
        /// `size_of` the Rust value type.
        rust: usize,
        /// The Rust value type.
        ty: &'static str,
    },
    /// An index at or past `max_entries` of an array-like map.
    #[error("map {name}: index {index} is out of bounds (max_entries {max_entries})")]
    OutOfBounds {
        /// The map name.
        name: String,
        /// The index asked for.
        index: u32,
        /// The map's size.
        max_entries: u32,
    },
    /// Per-CPU values whose count is not the number of possible CPUs.
    #[error("map {name}: {got} per-CPU values given, this system has {cpus} possible CPUs")]
    PerCpuCount {
        /// The map name.
        name: String,
        /// Values given.
        got: usize,
        /// Possible CPUs.
        cpus: usize,
    },
    /// Something about the map or arguments that the operation cannot work with.
    #[error("{name}: {reason}")]
    Invalid {
        /// The map name or object.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A file or descriptor operation (dup, epoll, poll) failed.
    #[error("{path}: {error}")]
    Io {
        /// The path, or the operation.
        path: String,
        /// The I/O error.
        error: io::Error,
    },
    /// Pinning the map failed, or a bpffs check ([`crate::pin`]).
    #[error(transparent)]
    Pin(#[from] PinError),
}

impl MapError {
    pub(crate) fn sys(name: impl Into<String>, source: SysError) -> Self {
        MapError::Sys {
            name: name.into(),
            error: source,
        }
    }

    pub(crate) fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        MapError::Invalid {
            name: name.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<String>, source: io::Error) -> Self {
        MapError::Io {
            path: path.into(),
            error: source,
        }
    }

    /// The errno, for errors that came from the kernel.
    pub fn raw_errno(&self) -> Option<i32> {
        match self {
            MapError::Sys { error: source, .. } => source.raw_errno(),
            MapError::Io { error: source, .. } => source.raw_os_error(),
            MapError::Pin(e) => e.raw_errno(),
            _ => None,
        }
    }
}
