//! The struct_ops maps of any object laid out for a real kernel's BTF (Linux 6.12, from
//! `testdata/btf`), as a load does before `BPF_MAP_CREATE`: the kernel's ops types are found
//! by the map type's name, and `kern_struct_ops` returns a value of the kernel's value size
//! or a typed error naming the map and member, never panics or allocates without bound,
//! whatever the object's BTF, data and relocations say.
#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use corebpf_btf::Btf;
use corebpf_obj::struct_ops::kern::{kern_struct_ops, KernOpsTypes};
use corebpf_obj::{MapKind, Object};
use libfuzzer_sys::fuzz_target;

/// Linux 6.12's BTF, decompressed once per process.
fn kernel() -> &'static Btf {
    static KERNEL: OnceLock<Btf> = OnceLock::new();
    KERNEL.get_or_init(|| {
        let gz: &[u8] = include_bytes!("../../testdata/btf/6.12.btf.gz");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .expect("testdata/btf/6.12.btf.gz");
        Btf::from_vec(raw).expect("Linux 6.12 BTF")
    })
}

fuzz_target!(|data: &[u8]| {
    let kern = kernel();
    let Ok(spec) = Object::parse(data) else {
        return;
    };
    let Some(btf) = spec.btf.as_ref() else {
        return;
    };
    for map in spec.maps.iter().filter(|m| m.kind == MapKind::StructOps) {
        let Ok(t) = btf.type_by_id(map.struct_ops_type_id.unwrap_or(0)) else {
            continue;
        };
        let Ok(Some(types)) = KernOpsTypes::find(kern, t.name()) else {
            continue;
        };
        if let Ok(out) = kern_struct_ops(map, btf, &spec.programs, kern, &types, "Linux 6.12") {
            assert_eq!(out.value.len(), types.value_size as usize);
            for f in &out.funcs {
                assert!(f.program < spec.programs.len(), "{}: no program {}", map.name, f.program);
            }
        }
    }
});
