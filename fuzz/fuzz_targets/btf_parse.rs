//! `Btf::parse` on arbitrary bytes (as base BTF and as split BTF over a small fixed base,
//! one with a layout section that sizes kinds 20 to 127), then every accessor of every type
//! must answer without panicking; a blob that parses must also re-encode
//! (`BtfBuilder::from_btf`) into a blob that parses again, with the same layout section
//! and the same types of unknown kinds.

#![no_main]

use std::sync::{Arc, OnceLock};

use corebpf_btf::{Btf, BtfBuilder, KindLayout, MemberSpec, INT_SIGNED};
use libfuzzer_sys::fuzz_target;

#[path = "walk.rs"]
mod walk;

/// A small base for split parsing: int, a struct, a pointer to it, a typedef.
fn base() -> Arc<Btf> {
    static BASE: OnceLock<Arc<Btf>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let s = b.add_struct("task_struct", 8, &[MemberSpec::new("pid", int, 0)]);
        b.add_ptr(s);
        b.add_typedef("pid_t", int);
        Arc::new(Btf::from_vec(b.build()).expect("fixed base"))
    })
    .clone()
}

/// The same base with a layout section describing every kind number: split BTF without
/// its own layout sizes unknown kinds with it (kind k: info k%4 words, elements k%3 words).
fn base_with_layout() -> Arc<Btf> {
    static BASE: OnceLock<Arc<Btf>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut b = BtfBuilder::from_btf(&base()).expect("fixed base");
        let mut layout = KindLayout::known();
        for k in layout.len()..128 {
            layout.push(KindLayout {
                info_sz: 4 * (k % 4) as u8,
                elem_sz: 4 * (k % 3) as u8,
                flags: 0,
            });
        }
        b.set_layout(Some(layout));
        Arc::new(Btf::from_vec(b.build()).expect("fixed base with a layout"))
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(btf) = Btf::parse(data) {
        walk::walk(&btf);
        if let Ok(b) = BtfBuilder::from_btf(&btf) {
            if let Ok(again) = Btf::parse(&b.build()) {
                assert_eq!(
                    again.type_count(),
                    btf.type_count(),
                    "re-encoded type count"
                );
                assert_eq!(again.layout(), btf.layout(), "re-encoded layout");
                assert_eq!(again.unknown_kinds(), btf.unknown_kinds(), "unknown kinds");
            }
        }
    }
    for base in [base(), base_with_layout()] {
        if let Ok(split) = Btf::parse_split(data, base) {
            walk::walk(&split);
        }
    }
});
