//! The C header dump on any BTF that parses: it must return text or a typed error, never
//! panic, hang, overflow the stack or allocate without bound. The low-level dumper is also
//! driven type by type, last id first, and asked for every printed name.

#![no_main]

use std::hint::black_box;

use corebpf_btf::cdump::{self, CDumper, DumpOptions};
use corebpf_btf::Btf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::parse(data) else { return };
    if let Ok(text) = cdump::to_c_header(&btf) {
        assert!(text.starts_with("#ifndef __VMLINUX_H__\n"));
        assert!(text.ends_with("#endif /* __VMLINUX_H__ */\n"));
    }
    let sorted = DumpOptions {
        header: false,
        kfunc_prototypes: false,
        sorted: true,
    };
    black_box(cdump::to_c_header_with(&btf, &sorted).ok());
    let Ok(mut d) = CDumper::new(&btf) else {
        return;
    };
    for id in (0..btf.type_count()).rev() {
        if d.dump_type(id).is_err() {
            break;
        }
    }
    for id in 0..=btf.type_count() {
        black_box(d.c_name(id));
    }
    black_box(d.take_output().len());
});
