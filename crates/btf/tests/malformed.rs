//! Malformed BTF and `.BTF.ext`: each gets a typed error naming what and where; no panics,
//! no allocation sized by an unchecked count.

use corebpf_btf::{Btf, BtfBuilder, BtfError, BtfExt, Kind, MemberSpec, INT_SIGNED};

fn good() -> Vec<u8> {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    b.add_struct("s", 4, &[MemberSpec::new("a", int, 0)]);
    b.build()
}

fn set_u32(v: &mut [u8], off: usize, x: u32) {
    v[off..off + 4].copy_from_slice(&x.to_le_bytes());
}

#[test]
fn truncated_header() {
    let e = Btf::parse(&good()[..10]).unwrap_err();
    assert!(
        matches!(e, BtfError::Truncated { ref what, .. } if what.contains("header")),
        "{e}"
    );
    assert!(matches!(
        Btf::parse(&[]).unwrap_err(),
        BtfError::Truncated { .. }
    ));
}

#[test]
fn bad_magic_and_version() {
    let mut v = good();
    v[0] = 0;
    assert!(matches!(
        Btf::parse(&v).unwrap_err(),
        BtfError::BadMagic { .. }
    ));
    let mut v = good();
    v[2] = 2;
    assert!(matches!(
        Btf::parse(&v).unwrap_err(),
        BtfError::BadVersion { version: 2, .. }
    ));
}

#[test]
fn sections_outside_the_blob() {
    let mut v = good();
    set_u32(&mut v, 12, 0xffff_fff0); // type_len
    let e = Btf::parse(&v).unwrap_err();
    assert!(matches!(e, BtfError::BadHeader { .. }), "{e}");
    let mut v = good();
    set_u32(&mut v, 20, 1 << 30); // str_len
    assert!(matches!(
        Btf::parse(&v).unwrap_err(),
        BtfError::BadHeader { .. }
    ));
}

#[test]
fn string_offset_past_the_end_names_the_type() {
    let mut b = BtfBuilder::new();
    b.add_raw(9999, (Kind::Int as u32) << 24, 4, &[32]);
    let e = Btf::parse(&b.build()).unwrap_err();
    assert!(
        matches!(e, BtfError::StringOffset { offset: 9999, ref what, .. } if what.contains("[1]")),
        "{e}"
    );
}

#[test]
fn type_id_out_of_range_names_the_referrer() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    b.add_struct("s", 4, &[MemberSpec::new("a", 77, 0)]);
    let _ = int;
    let e = Btf::parse(&b.build()).unwrap_err();
    assert!(
        matches!(e, BtfError::TypeIdOutOfRange { id: 77, ref what, .. } if what.contains("[2]")),
        "{e}"
    );
}

#[test]
fn bad_kind_and_truncated_vlen() {
    let mut b = BtfBuilder::new();
    b.add_raw(0, 25 << 24, 0, &[]);
    assert!(matches!(
        Btf::parse(&b.build()).unwrap_err(),
        BtfError::BadKind {
            id: 1,
            kind: 25,
            ..
        }
    ));
    let mut b = BtfBuilder::new();
    // A struct claiming 1000 members with none present.
    b.add_raw(0, (Kind::Struct as u32) << 24 | 1000, 4, &[]);
    let e = Btf::parse(&b.build()).unwrap_err();
    assert!(
        matches!(e, BtfError::Truncated { ref what, .. } if what.contains("vlen 1000")),
        "{e}"
    );
}

#[test]
fn bad_int_encoding() {
    let mut b = BtfBuilder::new();
    b.add_raw(0, (Kind::Int as u32) << 24, 3, &[24]);
    assert!(matches!(
        Btf::parse(&b.build()).unwrap_err(),
        BtfError::BadType {
            id: 1,
            kind: Kind::Int,
            ..
        }
    ));
    let mut b = BtfBuilder::new();
    b.add_raw(0, (Kind::Int as u32) << 24, 4, &[64]);
    assert!(matches!(
        Btf::parse(&b.build()).unwrap_err(),
        BtfError::BadType { .. }
    ));
}

#[test]
fn reference_cycles_are_errors_not_hangs() {
    let mut b = BtfBuilder::new();
    // [1] typedef a -> [2] const -> [1]
    b.add_typedef("a", 2);
    b.add_modifier(Kind::Const, 1);
    // [3] array of [4], [4] array of [3]
    b.add_array(4, 0, 1);
    b.add_array(3, 0, 1);
    let btf = Btf::parse(&b.build()).unwrap();
    assert!(matches!(
        btf.skip_mods_and_typedefs(1).unwrap_err(),
        BtfError::ReferenceCycle { .. }
    ));
    assert!(matches!(
        btf.size_of(1).unwrap_err(),
        BtfError::ReferenceCycle { .. }
    ));
    assert!(matches!(
        btf.size_of(3).unwrap_err(),
        BtfError::ReferenceCycle { .. }
    ));
    assert!(btf.align_of(3).is_err());
}

#[test]
fn unterminated_strings() {
    let mut v = good();
    let n = v.len();
    v[n - 1] = b'x';
    assert!(matches!(
        Btf::parse(&v).unwrap_err(),
        BtfError::BadStrings { .. }
    ));
}

#[test]
fn size_overflow_is_an_error() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let a = b.add_array(int, int, u32::MAX);
    let btf = Btf::parse(&b.build()).unwrap();
    assert!(matches!(
        btf.size_of(a).unwrap_err(),
        BtfError::BadSize { .. }
    ));
}

#[test]
fn hostile_ext_counts_are_rejected_before_allocating() {
    let mut b = BtfBuilder::new();
    let sec = b.add_string("sec");
    let btf = Btf::parse(&b.build()).unwrap();
    let mut ext = vec![0x9f, 0xeb, 1, 0];
    ext.extend_from_slice(&24u32.to_le_bytes());
    for w in [0u32, 12, 0, 0] {
        ext.extend_from_slice(&w.to_le_bytes());
    }
    // rec_size 8, section "sec" claiming 2^31 records.
    for w in [8u32, sec, 1 << 31] {
        ext.extend_from_slice(&w.to_le_bytes());
    }
    let e = BtfExt::parse(&ext, &btf).unwrap_err();
    assert!(
        matches!(e, BtfError::BadExt { ref section, ref reason } if section.contains("sec") && reason.contains("past the end")),
        "{e}"
    );
    // A record size below the ABI minimum.
    let mut bad = ext.clone();
    set_u32(&mut bad, 24, 4);
    assert!(matches!(
        BtfExt::parse(&bad, &btf).unwrap_err(),
        BtfError::BadExt { .. }
    ));
    // Subsection outside the data.
    let mut bad = ext.clone();
    set_u32(&mut bad, 12, 4096);
    assert!(matches!(
        BtfExt::parse(&bad, &btf).unwrap_err(),
        BtfError::BadExt { .. }
    ));
    assert!(matches!(
        BtfExt::parse(&ext[..10], &btf).unwrap_err(),
        BtfError::Truncated { .. }
    ));
}

#[test]
fn every_prefix_of_a_real_blob_fails_cleanly() {
    let raw = std::fs::read("/sys/kernel/btf/vmlinux").expect("kernel BTF");
    // Cut points across the header, types and strings: never a panic.
    for cut in (0..raw.len())
        .step_by(raw.len() / 97)
        .chain([1, 23, 24, 25, raw.len() - 1])
    {
        assert!(Btf::parse(&raw[..cut]).is_err(), "prefix of {cut} bytes");
    }
}
