//! `BtfExt::parse` on arbitrary bytes against a BTF parsed from the same input: the first
//! two bytes (little-endian) are the length of the BTF part, the rest is `.BTF.ext`.
//! When the BTF part does not parse, a small fixed BTF stands in so the ext parser still
//! runs. Every record and every string it points to is then read back.

#![no_main]

use std::hint::black_box;
use std::sync::OnceLock;

use corebpf_btf::{Btf, BtfBuilder, BtfExt, INT_SIGNED};
use libfuzzer_sys::fuzz_target;

fn fallback() -> &'static Btf {
    static BTF: OnceLock<Btf> = OnceLock::new();
    BTF.get_or_init(|| {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let proto = b.add_func_proto(int, &[("ctx", int)]);
        b.add_func("prog", proto, corebpf_btf::Linkage::Global);
        b.add_string("kprobe/do_sys_open");
        b.add_string("0:1:2");
        Btf::from_vec(b.build()).expect("fixed BTF")
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let len = u16::from_le_bytes([data[0], data[1]]) as usize;
    let rest = &data[2..];
    let (btf_part, ext_part) = rest.split_at(len.min(rest.len()));
    let parsed = Btf::parse(btf_part).ok();
    let btf = parsed.as_ref().unwrap_or_else(|| fallback());
    let Ok(ext) = BtfExt::parse(ext_part, btf) else {
        return;
    };
    for sec in &ext.func_info {
        black_box(ext.func_info_of(&sec.sec_name).len());
        for r in &sec.records {
            black_box((
                r.insn_idx(),
                btf.type_by_id(r.type_id).map(|t| t.kind()).ok(),
            ));
        }
    }
    for sec in &ext.line_info {
        black_box(ext.line_info_of(&sec.sec_name).len());
        for r in &sec.records {
            black_box((r.insn_idx(), r.line(), r.col()));
            black_box((
                btf.str_at(r.file_name_off).ok(),
                btf.str_at(r.line_off).ok(),
            ));
        }
    }
    for sec in &ext.core_relo {
        black_box(ext.core_relos_of(&sec.sec_name).len());
        for r in &sec.records {
            black_box((r.insn_idx(), r.kind(), btf.str_at(r.access_str_off).ok()));
            if let Some(k) = r.kind() {
                black_box((k.name(), k.is_field_based(), k.is_type_based()));
                black_box(k.is_enumval_based());
            }
        }
    }
    black_box(format!("{ext:?}"));
});
