//! Subcommands, one module each.

pub mod inspect;
