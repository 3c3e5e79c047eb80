//! The golden skeletons (`testdata/gen/*.rs`) compiled (their size and offset asserts hold)
//! and used: `Bytes` round trips and bitfield accessors, then the end-to-end flow: open the
//! embedded object, set a `.rodata` value, load, run a program with BPF_PROG_TEST_RUN and
//! read typed `.bss`/`.data` values and a map value back.

include!("../../../testdata/gen/gen_types.rs");
include!("../../../testdata/gen/obj_globals.rs");
include!("../../../testdata/gen/obj_maps.rs");

use corebpf::sys::{probe_prog_type, ProgType};
use corebpf::TestRun;
// Not `kind`: `assert_eq!` has a local of that name, which an imported tuple struct clashes with.
use gen_types::{cfg_t, event, Bytes, GenTypesSkel};
use obj_globals::ObjGlobalsSkel;

#[test]
fn bitfields_read_and_write_their_bits() {
    let mut f = gen_types::flags::default();
    f.set_small(5);
    f.set_neg(-3);
    f.set_on(true);
    f.set_k(gen_types::kind::KIND_EXIT);
    f.set_wide(0xab_cdef_1234);
    assert_eq!(
        (f.small(), f.neg(), f.on(), f.k(), f.wide()),
        (5, -3, true, gen_types::kind::KIND_EXIT, 0xab_cdef_1234)
    );
    f.set_neg(15);
    assert_eq!(
        (f.small(), f.neg(), f.k()),
        (5, 15, gen_types::kind::KIND_EXIT)
    );
    f.set_small(0);
    assert_eq!((f.small(), f.neg(), f.wide()), (0, 15, 0xab_cdef_1234));
}

#[test]
fn values_round_trip_through_bytes() {
    let mut e = event {
        pid: 7,
        kind: gen_types::kind::KIND_EXEC,
        ..Default::default()
    };
    e.__anon_3.set_as_u64(0x1122_3344_5566_7788);
    e.grid[1][2] = 12;
    e.hdr.len = 0x0102_0304;
    let bytes = e.to_bytes();
    assert_eq!(bytes.len(), 112);
    assert_eq!(&bytes[0..4], &7u32.to_ne_bytes());
    assert_eq!(&bytes[32..40], &0x1122_3344_5566_7788u64.to_ne_bytes());
    assert_eq!(
        &bytes[89..93],
        &0x0102_0304u32.to_ne_bytes(),
        "packed: len at 88 + 1"
    );
    assert_eq!(event::from_bytes(&bytes), Some(e));
    assert_eq!(e.__anon_3.as_u32(), 0x5566_7788);
    assert_eq!(e.__anon_3.parts().hi, 0x5566);
    assert_eq!(event::from_bytes(&bytes[..111]), None, "too short");
    assert_eq!(<obj_maps::pair as obj_maps::Bytes>::SIZE, 8);
}

/// Whether this kernel runs SEC("syscall") programs (5.14+); where it does not, `load`
/// must say so.
fn have_syscall_programs<T: std::fmt::Debug>(load: &corebpf::Result<T>) -> bool {
    if probe_prog_type(ProgType::Syscall) {
        return true;
    }
    let err = load.as_ref().unwrap_err().to_string();
    assert!(
        err.contains("does not support program type syscall"),
        "{err}"
    );
    false
}

#[test]
fn obj_globals_runs_with_a_rodata_value_set_through_its_skeleton() {
    let mut open = ObjGlobalsSkel::open().unwrap();
    open.globals().set_cfg_mul(4).unwrap();
    let skel = open.load();
    if !have_syscall_programs(&skel) {
        return;
    }
    let skel = skel.unwrap();
    let prog = skel.progs().globals_compute();
    // result = counter * cfg_mul + extra + cfg_add = 5*4 + 7 + 100
    assert_eq!(prog.test_run(&TestRun::default()).unwrap().retval, 127);
    let g = skel.globals();
    assert_eq!(g.result().unwrap(), 127);
    assert_eq!(g.counter().unwrap(), 6);
    assert_eq!(g.runs().unwrap(), 1);
    assert_eq!(g.cfg_mul().unwrap(), 4);
    g.set_counter(10).unwrap();
    g.set_extra(0).unwrap();
    assert_eq!(prog.test_run(&TestRun::default()).unwrap().retval, 140);
    assert_eq!(g.result().unwrap(), 140);
    assert_eq!(skel.maps().bss().value_size(), 16);
}

#[test]
fn gen_types_fills_typed_bss_and_map_values() {
    let mut open = GenTypesSkel::open().unwrap();
    let cfg = cfg_t {
        mul: 3,
        enabled: 1,
        tag: 0xfeed,
        ..Default::default()
    };
    open.globals().set_cfg(cfg).unwrap();
    let skel = open.load();
    if !have_syscall_programs(&skel) {
        return;
    }
    let skel = skel.unwrap();
    let run = skel
        .progs()
        .gen_fill()
        .test_run(&TestRun::default())
        .unwrap();
    assert_eq!(run.retval, 31);
    let e = skel.globals().last().unwrap();
    assert_eq!((e.pid, e.ts, &e.comm[..4]), (42, 0xfeed, &b"gen\0"[..]));
    assert_eq!(e.__anon_3.as_u64(), 0x1122_3344_5566_7788);
    let f = e.flags;
    assert_eq!(
        (f.small(), f.neg(), f.on(), f.k(), f.wide(), f.after),
        (
            5,
            -3,
            true,
            gen_types::kind::KIND_EXIT,
            0xab_cdef_1234,
            0xbeef
        )
    );
    assert_eq!(
        (e.kind, e.sgn, e.big),
        (
            gen_types::kind::KIND_EXEC,
            gen_types::sgn::SGN_NEG,
            gen_types::big::BIG_HUGE
        )
    );
    assert_eq!((e.r#type, e.grid[1][2], e.nargs), (3, 12, 0));
    let hdr = e.hdr;
    assert_eq!(
        (hdr.version, { hdr.len }, { hdr.r#type }),
        (2, 0x0102_0304, 9)
    );
    assert_eq!(skel.globals().cfg().unwrap(), cfg);
    assert_eq!(skel.globals().fills().unwrap(), 1);
    let stored = skel
        .maps()
        .by_pid()
        .lookup(&Bytes::to_bytes(&42u32), 0)
        .unwrap()
        .unwrap();
    assert_eq!(event::from_bytes(&stored), Some(e));
}
