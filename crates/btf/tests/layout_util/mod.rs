//! Shared by the tests of BTF with a layout section: the layout pahole 1.31+ writes, kernel
//! BTF from `testdata/btf`, and that BTF re-emitted with a 32-byte header and a layout
//! section (Debian's 7.2 BTF, the newest here, still has the 24-byte header).

#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

pub fn testdata() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
}

/// The raw BTF of a kernel under `testdata/btf` (`5.10`, `6.1`, `6.12`, `7.2`).
pub fn kernel_btf(version: &str) -> Vec<u8> {
    let path = testdata().join(format!("btf/{version}.btf.gz"));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .read_to_end(&mut out)
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

/// (info_sz, elem_sz) of kinds 0 (void) to 19 (ENUM64), written from the record structs of
/// `include/uapi/linux/btf.h`: INT's u32 encoding, `btf_array` (12), `btf_member` (12),
/// `btf_enum` (8), `btf_param` (8), `btf_var` (4), `btf_var_secinfo` (12), `btf_decl_tag`
/// (4), `btf_enum64` (12).
pub const KNOWN: [(u8, u8); 20] = [
    (0, 0),  // void
    (4, 0),  // int
    (0, 0),  // ptr
    (12, 0), // array
    (0, 12), // struct
    (0, 12), // union
    (0, 8),  // enum
    (0, 0),  // fwd
    (0, 0),  // typedef
    (0, 0),  // volatile
    (0, 0),  // const
    (0, 0),  // restrict
    (0, 0),  // func
    (0, 8),  // func_proto
    (4, 0),  // var
    (0, 12), // datasec
    (0, 0),  // float
    (4, 0),  // decl_tag
    (0, 0),  // type_tag
    (0, 12), // enum64
];

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// Little-endian BTF `raw` (24-byte header) re-emitted as pahole 1.31+ writes it: a 32-byte
/// header, the types, a layout section with `layout` (info_sz, elem_sz) entries, the strings.
pub fn with_layout(raw: &[u8], layout: &[(u8, u8)]) -> Vec<u8> {
    assert_eq!(u32_at(raw, 4), 24, "a 24-byte header");
    let (type_off, type_len) = (u32_at(raw, 8) as usize, u32_at(raw, 12) as usize);
    let (str_off, str_len) = (u32_at(raw, 16) as usize, u32_at(raw, 20) as usize);
    let types = &raw[24 + type_off..24 + type_off + type_len];
    let strs = &raw[24 + str_off..24 + str_off + str_len];
    let layout_len = layout.len() * 4;
    let mut out = raw[..4].to_vec();
    for w in [
        32,
        0,
        type_len,
        type_len + layout_len,
        str_len,
        type_len,
        layout_len,
    ] {
        out.extend_from_slice(&(w as u32).to_le_bytes());
    }
    out.extend_from_slice(types);
    for &(info_sz, elem_sz) in layout {
        out.extend_from_slice(&[info_sz, elem_sz, 0, 0]);
    }
    out.extend_from_slice(strs);
    out
}

/// Debian's 7.2 kernel BTF with the layout section of every known kind.
pub fn linux_7_2_with_layout() -> Vec<u8> {
    with_layout(&kernel_btf("7.2"), &KNOWN)
}
