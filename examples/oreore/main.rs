//! oreore: assembles by hand (no clang, no ELF) a program that adds 42 to a u32 read from
//! its input, loads it, and runs it through `BPF_PROG_TEST_RUN` for each number given.
//!
//! ```text
//! sudo target/release/oreore 1 2 100
//! 1 + 42 = 43
//! ```

use clap::Parser;
use corebpf::obj::asm::{alu64_imm, exit, jmp_reg, ldx_mem, mov64_imm, mov64_reg};
use corebpf::obj::insn::{alu, jmp, size};
use corebpf::sys::ProgType;
use corebpf::{Program, TestRun};

/// Adds 42 to each number, in the kernel.
#[derive(Parser)]
struct Args {
    /// Numbers to add 42 to.
    #[arg(required = true)]
    numbers: Vec<u32>,
}

/// XDP program: if the packet holds at least 4 bytes, return `*(u32 *)data + 42`, else 0.
fn add_42() -> Vec<corebpf::obj::Insn> {
    vec![
        ldx_mem(size::W, 2, 1, 0),  // r2 = ctx->data
        ldx_mem(size::W, 3, 1, 4),  // r3 = ctx->data_end
        mov64_reg(4, 2),            // r4 = r2
        alu64_imm(alu::ADD, 4, 4),  // r4 += 4
        jmp_reg(jmp::JGT, 4, 3, 3), // if r4 > r3 goto +3
        ldx_mem(size::W, 0, 2, 0),  // r0 = *(u32 *)(r2 + 0)
        alu64_imm(alu::ADD, 0, 42), // r0 += 42
        exit(),
        mov64_imm(0, 0), // too short: r0 = 0
        exit(),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let prog = Program::load_insns(ProgType::Xdp, "oreore", &add_42(), "GPL")?;
    for n in args.numbers {
        // XDP test runs need at least an Ethernet header's worth of data.
        let mut data = [0u8; 14];
        data[..4].copy_from_slice(&n.to_ne_bytes());
        let out = prog.test_run(&TestRun {
            data: &data,
            ..Default::default()
        })?;
        println!("{n} + 42 = {}", out.retval);
    }
    Ok(())
}
