//! `Btf::parse` on arbitrary bytes (as base BTF and as split BTF over a small fixed base),
//! then every accessor of every type must answer without panicking; a blob that parses
//! must also re-encode (`BtfBuilder::from_btf`) into a blob that parses again.

#![no_main]

use std::sync::{Arc, OnceLock};

use corebpf_btf::{Btf, BtfBuilder, MemberSpec, INT_SIGNED};
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
            }
        }
    }
    if let Ok(split) = Btf::parse_split(data, base()) {
        walk::walk(&split);
    }
});
