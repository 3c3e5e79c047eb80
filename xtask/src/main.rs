//! `cargo xtask <command>`: corebpf's developer tasks.
//!
//! - `build-bpf`: compile the BPF C sources under `testdata/` with clang (the examples build
//!   theirs in `examples/build.rs`).
//! - `extract-btf --kernel VER`: write a Debian kernel's BTF to `testdata/btf/`, compressed.
//! - `vm-test [--kernel VER]... [-- FILTER]`: run the integration tests in QEMU guests.
//! - `setup`: install the Debian packages building and testing need.
//! - `test [-- FILTER]`: every test, on this kernel and in the QEMU guests.
//! - `demo`: build corebpf and run its demo.
//! - `fn-lengths [--max N] [--list]`: fail if a library function is longer than N lines (80).

mod build_bpf;
mod build_usdt;
mod extract_btf;
mod fn_lengths;
mod setup;
mod vm;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!(
            "usage: cargo xtask <setup|test|demo|build-bpf|extract-btf|vm-test|fn-lengths> [args]"
        );
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "build-bpf" => build_bpf::run(rest),
        "extract-btf" => extract_btf::run(rest),
        "vm-test" => vm::run(rest),
        "setup" => setup::setup(rest),
        "test" => setup::test(rest),
        "demo" => setup::demo(rest),
        "fn-lengths" => fn_lengths::run(rest),
        other => Err(format!("unknown xtask command '{other}'")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
