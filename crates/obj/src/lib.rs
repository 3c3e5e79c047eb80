//! `corebpf-obj`: parses clang-built BPF ELF objects into an [`ObjectSpec`]-style model
//! and relocates their instructions (CO-RE, maps, global data, externs, subprogram calls).
//!
//! Pure: no syscalls. See `DESIGN.md` for where it sits in the loader.
