//! Hand-built local BTF shared by the CO-RE engine's unit tests.
//!
//! ```c
//! struct s {                       // 32 bytes
//!     long a;                      // byte 0
//!     int b;                       // byte 8
//!     struct { int x; int y; };    // byte 12 (anonymous)
//!     int c[2];                    // byte 20
//!     unsigned char w: 6;          // bit 228 (byte 28, bit 4)
//! };
//! typedef struct s s_t;
//! struct flex { int n; int data[]; };
//! enum e { A = 1, B = -2 };        // signed
//! enum e64 { BIG = 1 << 40 };      // 64-bit
//! ```

use crate::{Btf, BtfBuilder, MemberSpec, INT_SIGNED};

/// Type ids of the fixture.
pub(super) struct Ids {
    pub int: u32,
    pub uint: u32,
    pub uchar: u32,
    pub long: u32,
    pub ulong: u32,
    pub anon: u32,
    pub s: u32,
    pub s_t: u32,
    pub flex: u32,
    pub e: u32,
    pub e64: u32,
}

/// The fixture's BTF and its ids.
pub(super) fn local() -> (Btf, Ids) {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let uint = b.add_int("unsigned int", 4, 0);
    let uchar = b.add_int("unsigned char", 1, 0);
    let long = b.add_int("long", 8, INT_SIGNED);
    let ulong = b.add_int("unsigned long", 8, 0);
    let arr = b.add_array(int, int, 2);
    let anon = b.add_struct(
        "",
        8,
        &[MemberSpec::new("x", int, 0), MemberSpec::new("y", int, 4)],
    );
    let s = b.add_struct(
        "s",
        32,
        &[
            MemberSpec::new("a", long, 0),
            MemberSpec::new("b", int, 8),
            MemberSpec::new("", anon, 12),
            MemberSpec::new("c", arr, 20),
            MemberSpec::bitfield("w", uchar, 228, 6),
        ],
    );
    let s_t = b.add_typedef("s_t", s);
    let empty = b.add_array(int, int, 0);
    let flex = b.add_struct(
        "flex",
        4,
        &[
            MemberSpec::new("n", int, 0),
            MemberSpec::new("data", empty, 4),
        ],
    );
    let e = b.add_enum("e", 4, true, &[("A", 1), ("B", -2)]);
    let e64 = b.add_enum64("e64", 8, false, &[("BIG", 1 << 40)]);
    let ids = Ids {
        int,
        uint,
        uchar,
        long,
        ulong,
        anon,
        s,
        s_t,
        flex,
        e,
        e64,
    };
    (build(b), ids)
}

/// Parses what `b` built (the builder's output is always valid BTF).
pub(super) fn build(b: BtfBuilder) -> Btf {
    Btf::from_vec(b.build()).expect("hand-built BTF parses")
}
