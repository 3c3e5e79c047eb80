//! `cargo xtask` subcommand module (work in progress).

/// Runs the subcommand with its arguments.
pub fn run(_args: &[String]) -> Result<(), String> {
    Err("not implemented yet".into())
}
