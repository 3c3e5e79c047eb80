//! Helpers shared by the map, pin, ring buffer and perf buffer tests: map creation,
//! hand-assembled programs and test runs. The tests run as root on the real kernel.
#![allow(dead_code)]

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use corebpf::map::Map;
use corebpf::sys::consts::{BPF_F_TEST_RUN_ON_CPU, BPF_PSEUDO_MAP_FD};
use corebpf::sys::insn::{alu, class, jmp, size, src};
use corebpf::sys::{
    prog_load, prog_test_run, Insn, MapCreateAttr, MapType, ProgLoadAttr, ProgType, TestRunOpts,
};

/// Helper ids used by the test programs.
pub mod helper {
    pub const MAP_LOOKUP_ELEM: i32 = 1;
    pub const MAP_UPDATE_ELEM: i32 = 2;
    pub const GET_SMP_PROCESSOR_ID: i32 = 8;
    pub const TAIL_CALL: i32 = 12;
    pub const PERF_EVENT_OUTPUT: i32 = 25;
    pub const GET_STACKID: i32 = 27;
    pub const REDIRECT_MAP: i32 = 51;
    pub const MAP_PUSH_ELEM: i32 = 87;
    pub const RINGBUF_OUTPUT: i32 = 130;
    pub const RINGBUF_RESERVE: i32 = 131;
    pub const RINGBUF_SUBMIT: i32 = 132;
    pub const RINGBUF_DISCARD: i32 = 133;
}

/// `BPF_RB_NO_WAKEUP`.
pub const BPF_RB_NO_WAKEUP: i32 = 1;

/// The running kernel's (major, minor).
pub fn kernel_version() -> (u32, u32) {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("read osrelease");
    let mut it = rel.trim().split(['.', '-']);
    let major = it
        .next()
        .and_then(|s| s.parse().ok())
        .expect("kernel major");
    let minor = it
        .next()
        .and_then(|s| s.parse().ok())
        .expect("kernel minor");
    (major, minor)
}

/// True if the kernel is at least `major.minor`.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    kernel_version() >= (major, minor)
}

/// Creates a map or panics with the error.
pub fn map(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32, name: &str) -> Map {
    map_with(MapCreateAttr {
        map_type,
        key_size,
        value_size,
        max_entries,
        name,
        ..Default::default()
    })
}

/// Creates a map from a full attr or panics with the error.
pub fn map_with(attr: MapCreateAttr<'_>) -> Map {
    Map::create(&attr)
        .unwrap_or_else(|e| panic!("creating {} map {}: {e}", attr.map_type, attr.name))
}

/// Loads a program or panics with the error and verifier log.
pub fn load(prog_type: ProgType, insns: &[Insn], name: &str) -> OwnedFd {
    // Before 5.11 programs are charged to RLIMIT_MEMLOCK (corebpf's loader and
    // `Map::create` raise it; this raw `prog_load` does not).
    corebpf::sys::bump_memlock_rlimit().expect("raise RLIMIT_MEMLOCK");
    let bytes = Insn::encode_all(insns);
    prog_load(
        &ProgLoadAttr {
            prog_type,
            insns: &bytes,
            license: c"GPL",
            name,
            ..Default::default()
        },
        None,
    )
    .unwrap_or_else(|e| panic!("loading {prog_type} program {name}: {e}"))
}

/// Runs an XDP program on a 64-byte packet `repeat` times; returns its last return value.
pub fn run_xdp(prog: BorrowedFd<'_>, repeat: u32) -> u32 {
    prog_test_run(
        prog,
        TestRunOpts {
            data_in: &[0u8; 64],
            repeat,
            ..Default::default()
        },
    )
    .expect("BPF_PROG_TEST_RUN of an XDP program")
    .retval
}

/// Runs a raw tracepoint program once on CPU `cpu` (`BPF_F_TEST_RUN_ON_CPU`).
pub fn run_raw_tp_on(prog: BorrowedFd<'_>, cpu: u32) -> u32 {
    prog_test_run(
        prog,
        TestRunOpts {
            ctx_in: &[0u8; 8],
            flags: BPF_F_TEST_RUN_ON_CPU,
            cpu,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("BPF_PROG_TEST_RUN of a raw_tp program on CPU {cpu}: {e}"))
    .retval
}

/// Runs a raw tracepoint program once on the current CPU.
pub fn run_raw_tp(prog: BorrowedFd<'_>) -> u32 {
    prog_test_run(
        prog,
        TestRunOpts {
            ctx_in: &[0u8; 8],
            ..Default::default()
        },
    )
    .expect("BPF_PROG_TEST_RUN of a raw_tp program")
    .retval
}

/// The online CPUs (`/sys/devices/system/cpu/online`).
pub fn online_cpus() -> Vec<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").expect("read online CPUs");
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<u32>().unwrap()..=b.parse::<u32>().unwrap()),
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

/// Pins the calling thread to `cpu`, so that test runs (and their per-CPU output) stay there.
pub fn pin_thread_to(cpu: u32) {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu as usize).expect("cpu index");
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).expect("sched_setaffinity");
}

/// `dst = map` (`BPF_PSEUDO_MAP_FD`).
pub fn ld_map(dst: u8, map: &impl AsFd) -> [Insn; 2] {
    Insn::ld_imm64(dst, BPF_PSEUDO_MAP_FD, map.as_fd().as_raw_fd(), 0)
}

/// `dst = imm` (32-bit move, zero-extended).
pub fn mov32_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(class::ALU | alu::MOV | src::K, dst, 0, 0, imm)
}

/// `dst &= imm` (64-bit).
pub fn and64_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(class::ALU64 | alu::AND | src::K, dst, 0, 0, imm)
}

/// `goto pc + off`.
pub fn ja(off: i16) -> Insn {
    Insn::new(class::JMP | jmp::JA, 0, 0, off, 0)
}

/// A small assembler with forward jumps to labels.
#[derive(Default)]
pub struct Asm {
    pub insns: Vec<Insn>,
    fixups: Vec<(usize, &'static str)>,
    labels: Vec<(&'static str, usize)>,
}

impl Asm {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, i: Insn) -> &mut Self {
        self.insns.push(i);
        self
    }

    pub fn extend(&mut self, i: impl IntoIterator<Item = Insn>) -> &mut Self {
        self.insns.extend(i);
        self
    }

    /// A jump instruction whose offset will point at `label`.
    pub fn jump(&mut self, i: Insn, label: &'static str) -> &mut Self {
        self.fixups.push((self.insns.len(), label));
        self.insns.push(i);
        self
    }

    pub fn label(&mut self, name: &'static str) -> &mut Self {
        self.labels.push((name, self.insns.len()));
        self
    }

    pub fn finish(&mut self) -> Vec<Insn> {
        for &(at, name) in &self.fixups {
            let target = self.labels.iter().find(|l| l.0 == name).expect("label").1;
            self.insns[at].off = (target as i64 - at as i64 - 1) as i16;
        }
        self.insns.clone()
    }
}

/// A raw_tp program: `map[key] = value_base + smp_processor_id()` with a u32 key and
/// u64 value (`bpf_map_update_elem`, `BPF_ANY`); returns the helper's result.
pub fn prog_update_u32_u64(map: &Map, key: u32, value_base: i32) -> OwnedFd {
    let mut a = Asm::new();
    a.push(Insn::st_mem(size::W, 10, -4, key as i32))
        .push(Insn::call(helper::GET_SMP_PROCESSOR_ID))
        .push(Insn::add64_imm(0, value_base))
        .push(Insn::stx_mem(size::DW, 10, 0, -16))
        .extend(ld_map(1, map))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -4))
        .push(Insn::mov64_reg(3, 10))
        .push(Insn::add64_imm(3, -16))
        .push(Insn::mov64_imm(4, 0))
        .push(Insn::call(helper::MAP_UPDATE_ELEM))
        .push(Insn::exit());
    load(ProgType::RawTracepoint, &a.finish(), "t_update")
}

/// How an event program emits its 64-byte record.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// `bpf_ringbuf_output(rb, rec, 64, flags)`.
    RingBuf(i32),
    /// `bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, rec, 64)`.
    Perf,
    /// `bpf_ringbuf_output(rb, rec, 8 + counter % 16, 0)`: records of 8 to 23 bytes, the
    /// length changing from each record to the next (and the stride every few records).
    RingBufVaried,
}

/// An XDP program emitting one 64-byte record per run whose first u64 is a counter
/// (`counters[0] += 1`, an array of 2 u64). When the output helper fails, it increments
/// `counters[1]` (drops). Returns `XDP_PASS`.
pub fn prog_emit_counter(counters: &Map, out: &Map, how: Emit) -> OwnedFd {
    let mut a = Asm::new();
    a.push(Insn::mov64_reg(6, 1))
        .push(Insn::st_mem(size::W, 10, -4, 0))
        .extend(ld_map(1, counters))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -4))
        .push(Insn::call(helper::MAP_LOOKUP_ELEM))
        .jump(Insn::jeq_imm(0, 0, 0), "exit")
        .push(Insn::ldx_mem(size::DW, 1, 0, 0))
        .push(Insn::add64_imm(1, 1))
        .push(Insn::stx_mem(size::DW, 0, 1, 0))
        .push(Insn::stx_mem(size::DW, 10, 1, -72));
    for off in (-64..-8).step_by(8) {
        a.push(Insn::st_mem(size::DW, 10, off as i16, 0));
    }
    match how {
        Emit::RingBuf(flags) => {
            a.extend(ld_map(1, out))
                .push(Insn::mov64_reg(2, 10))
                .push(Insn::add64_imm(2, -72))
                .push(Insn::mov64_imm(3, 64))
                .push(Insn::mov64_imm(4, flags))
                .push(Insn::call(helper::RINGBUF_OUTPUT));
        }
        Emit::RingBufVaried => {
            // r1 still holds the counter.
            a.push(Insn::mov64_reg(3, 1))
                .push(and64_imm(3, 15))
                .push(Insn::add64_imm(3, 8))
                .extend(ld_map(1, out))
                .push(Insn::mov64_reg(2, 10))
                .push(Insn::add64_imm(2, -72))
                .push(Insn::mov64_imm(4, 0))
                .push(Insn::call(helper::RINGBUF_OUTPUT));
        }
        Emit::Perf => {
            a.push(Insn::mov64_reg(1, 6))
                .extend(ld_map(2, out))
                .push(mov32_imm(3, -1)) // BPF_F_CURRENT_CPU
                .push(Insn::mov64_reg(4, 10))
                .push(Insn::add64_imm(4, -72))
                .push(Insn::mov64_imm(5, 64))
                .push(Insn::call(helper::PERF_EVENT_OUTPUT));
        }
    }
    // On failure (r0 != 0): counters[1] += 1.
    a.jump(Insn::jeq_imm(0, 0, 0), "exit")
        .push(Insn::st_mem(size::W, 10, -4, 1))
        .extend(ld_map(1, counters))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -4))
        .push(Insn::call(helper::MAP_LOOKUP_ELEM))
        .jump(Insn::jeq_imm(0, 0, 0), "exit")
        .push(Insn::ldx_mem(size::DW, 1, 0, 0))
        .push(Insn::add64_imm(1, 1))
        .push(Insn::stx_mem(size::DW, 0, 1, 0))
        .label("exit")
        .push(Insn::mov64_imm(0, 2))
        .push(Insn::exit());
    load(ProgType::Xdp, &a.finish(), "t_emit")
}

/// The counters array used by [`prog_emit_counter`]: `[emitted, dropped]`.
/// The second 8 bytes of a [`prog_discard_odd`] record.
pub enum SecondWord {
    /// Zero.
    Zero,
    /// The counter times two.
    Double,
}

/// XDP program: `counters[0] += 1`, then reserve 16 bytes of ring buffer `rb`, write the
/// counter and `second`, and discard the record if the counter is odd, else submit it.
pub fn prog_discard_odd(counters: &Map, rb: &Map, second: SecondWord, name: &str) -> OwnedFd {
    let mut a = Asm::new();
    a.push(Insn::st_mem(size::W, 10, -4, 0))
        .extend(ld_map(1, counters))
        .push(Insn::mov64_reg(2, 10))
        .push(Insn::add64_imm(2, -4))
        .push(Insn::call(helper::MAP_LOOKUP_ELEM))
        .jump(Insn::jeq_imm(0, 0, 0), "exit")
        .push(Insn::ldx_mem(size::DW, 7, 0, 0))
        .push(Insn::add64_imm(7, 1))
        .push(Insn::stx_mem(size::DW, 0, 7, 0))
        .extend(ld_map(1, rb))
        .push(Insn::mov64_imm(2, 16))
        .push(Insn::mov64_imm(3, 0))
        .push(Insn::call(helper::RINGBUF_RESERVE))
        .jump(Insn::jeq_imm(0, 0, 0), "exit")
        .push(Insn::stx_mem(size::DW, 0, 7, 0));
    match second {
        SecondWord::Zero => a.push(Insn::st_mem(size::DW, 0, 8, 0)),
        SecondWord::Double => a
            .push(Insn::mov64_reg(1, 7))
            .push(Insn::new(class::ALU64 | alu::LSH | src::K, 1, 0, 0, 1))
            .push(Insn::stx_mem(size::DW, 0, 1, 8)),
    };
    a.push(Insn::mov64_reg(1, 0))
        .push(Insn::mov64_imm(2, 0))
        .push(and64_imm(7, 1))
        .jump(Insn::jeq_imm(7, 0, 0), "submit")
        .push(Insn::call(helper::RINGBUF_DISCARD))
        .jump(ja(0), "exit")
        .label("submit")
        .push(Insn::call(helper::RINGBUF_SUBMIT))
        .label("exit")
        .push(Insn::mov64_imm(0, 2))
        .push(Insn::exit());
    load(ProgType::Xdp, &a.finish(), name)
}

pub fn counters() -> Map {
    map(MapType::Array, 4, 8, 2, "t_counters")
}

/// `(emitted, dropped)` from a counters array.
pub fn read_counters(m: &Map) -> (u64, u64) {
    let a = m.as_array::<u64>().unwrap();
    (a.get(0, 0).unwrap(), a.get(1, 0).unwrap())
}

/// The counter in an [`Emit::RingBufVaried`] record, after checking that the record is
/// as long as its counter says (`8 + counter % 16` bytes) and zero past the counter.
pub fn counter_of_varied(rec: &[u8]) -> u64 {
    let counter = u64::from_ne_bytes(rec[..8].try_into().unwrap());
    assert_eq!(rec.len() as u64, 8 + counter % 16, "record {counter}");
    assert!(rec[8..].iter().all(|&b| b == 0), "record {counter} body");
    counter
}

/// The counter in a 64-byte event record.
pub fn counter_of(rec: &[u8]) -> u64 {
    assert_eq!(rec.len(), 64, "event record size");
    u64::from_ne_bytes(rec[..8].try_into().unwrap())
}

/// `r0 = 0; exit`.
pub fn prog_ret0() -> Vec<Insn> {
    vec![Insn::mov64_imm(0, 0), Insn::exit()]
}

/// A fresh directory under /sys/fs/bpf for one test (removed on drop).
pub struct PinDir(pub std::path::PathBuf);

impl PinDir {
    /// `/sys/fs/bpf/corebpf_test_<pid>_<test>`, empty (bpffs mounted if needed).
    pub fn new(test: &str) -> Self {
        let root = corebpf::pin::ensure_bpffs().expect("bpffs at /sys/fs/bpf");
        let dir = root.join(format!("corebpf_test_{}_{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        PinDir(dir)
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
