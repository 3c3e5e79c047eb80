//! Minimal BTF (`corebpf_btf::min`) on hostile input. The first byte picks what is fuzzed:
//! even, the rest is the *full* BTF, minimized for the CO-RE relocations of the embedded
//! test objects (their BTF and `.BTF.ext`, from `seeds/btf_ext`); odd, the rest is an
//! object's BTF and `.BTF.ext` in the `btf_ext_parse` format, minimized against the embedded
//! CO-RE family targets. `MinBtf` returns a blob or an error, never panics or hangs; a blob
//! always parses; and where every relocation resolves against the full BTF, each resolves
//! the same against the minimal one (ids of `type_id_target` aside).

#![no_main]

use std::sync::{Arc, OnceLock};

use corebpf_btf::min::MinBtf;
use corebpf_btf::relo::{Relocator, TargetSet};
use corebpf_btf::{Btf, BtfExt, CoreReloKind};
use libfuzzer_sys::fuzz_target;

const OBJECTS: [&[u8]; 6] = [
    include_bytes!("../seeds/btf_ext/core_tracing.bin"),
    include_bytes!("../seeds/btf_ext/core_flavors.bin"),
    include_bytes!("../seeds/btf_ext/core_type_based.bin"),
    include_bytes!("../seeds/btf_ext/core_enumval.bin"),
    include_bytes!("../seeds/btf_ext/core_bitfields.bin"),
    include_bytes!("../seeds/btf_ext/core_misc.bin"),
];

const TARGETS: [&[u8]; 4] = [
    include_bytes!("../seeds/btf/core_flavors.target.btf"),
    include_bytes!("../seeds/btf/core_type_based.target.btf"),
    include_bytes!("../seeds/btf/core_enumval.target.btf"),
    include_bytes!("../seeds/btf/core_misc.target.btf"),
];

/// An object in the `btf_ext_parse` format: `u16` LE length, BTF, `.BTF.ext`.
fn split(data: &[u8]) -> Option<(Btf, BtfExt)> {
    let len = u16::from_le_bytes([*data.first()?, *data.get(1)?]) as usize;
    let rest = &data[2..];
    let (btf, ext) = rest.split_at(len.min(rest.len()));
    let btf = Btf::parse(btf).ok()?;
    let ext = BtfExt::parse(ext, &btf).ok()?;
    Some((btf, ext))
}

fn objects() -> &'static [(Btf, BtfExt)] {
    static O: OnceLock<Vec<(Btf, BtfExt)>> = OnceLock::new();
    O.get_or_init(|| OBJECTS.iter().filter_map(|o| split(o)).collect())
}

fn targets() -> &'static [Arc<Btf>] {
    static T: OnceLock<Vec<Arc<Btf>>> = OnceLock::new();
    T.get_or_init(|| {
        TARGETS
            .iter()
            .filter_map(|t| Btf::parse(t).ok().map(Arc::new))
            .collect()
    })
}

/// Each relocation's outcome against `target`, or `None` if any fails.
fn outcomes(local: &Btf, ext: &BtfExt, target: &Arc<Btf>) -> Option<Vec<String>> {
    let set = TargetSet::from_btfs(vec![target.clone()]);
    let mut r = Relocator::new(&set);
    let mut out = Vec::new();
    for sec in &ext.core_relo {
        for (i, relo) in sec.records.iter().enumerate() {
            let res = r.resolve(local, relo, i, &sec.sec_name).ok()?;
            let s = &res.res;
            let new = if res.kind == CoreReloKind::TypeIdTarget {
                0
            } else {
                s.new_val
            };
            out.push(format!(
                "{i} {:?} {} {new} {}",
                res.kind, s.orig_val, s.poison
            ));
        }
    }
    Some(out)
}

/// Minimizes `full` for `objs` and checks the result.
fn check(full: &Arc<Btf>, objs: &[(&Btf, &BtfExt)]) {
    let mut min = MinBtf::new(full);
    for (local, ext) in objs {
        if min.add_object("fuzz", local, ext).is_err() {
            return;
        }
    }
    let Ok(bytes) = min.build() else { return };
    let min = Arc::new(Btf::parse(&bytes).expect("minimal BTF parses"));
    for (local, ext) in objs {
        if let Some(want) = outcomes(local, ext, full) {
            assert_eq!(Some(want), outcomes(local, ext, &min), "same outcomes");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(full) = Btf::parse(rest) else { return };
        let objs: Vec<(&Btf, &BtfExt)> = objects().iter().map(|(b, e)| (b, e)).collect();
        check(&Arc::new(full), &objs);
    } else if let Some((local, ext)) = split(rest) {
        for t in targets() {
            check(t, &[(&local, &ext)]);
        }
    }
});
