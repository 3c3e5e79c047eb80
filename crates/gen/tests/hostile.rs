//! Objects whose BTF the skeleton generator must refuse with a `GenError`, never a panic:
//! the inputs the `skel_gen` fuzz target found (`fuzz/regressions/skel_gen/`).

use std::path::PathBuf;

fn regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/skel_gen")
}

fn generate(name: &str) -> Result<String, corebpf_gen::GenError> {
    let data = std::fs::read(regressions().join(name)).unwrap();
    let spec = corebpf_obj::Object::parse(&data).expect("the object parses");
    let opts = corebpf_gen::Options {
        object_path: "x.bpf.o".to_string(),
        ..Default::default()
    };
    corebpf_gen::generate(&spec, &opts)
}

/// A bitfield whose bit offset plus width passes `u32::MAX` overflowed an addition.
#[test]
fn bitfield_ending_past_u32_is_refused() {
    let err = generate("bitfield_end_overflows_u32.bpf.o").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("ends past its struct") || text.contains("does not fit in 32 bits"),
        "{text}"
    );
}

/// Every committed regression input gives source or an error.
#[test]
fn every_regression_input_is_handled() {
    let mut n = 0;
    for entry in std::fs::read_dir(regressions()).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if let Ok(spec) = corebpf_obj::Object::parse(&data) {
            let opts = corebpf_gen::Options {
                object_path: "x.bpf.o".to_string(),
                ..Default::default()
            };
            let _ = corebpf_gen::generate(&spec, &opts);
        }
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", regressions().display());
}

/// A union member bitfield whose bit offset plus width passes `u32::MAX` overflowed too.
#[test]
fn union_bitfield_ending_past_u32_is_refused() {
    let err = generate("union_bitfield_end_overflows_u32.bpf.o").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("past its union") || text.contains("fit in 32 bits"),
        "{text}"
    );
}

/// Arrays whose element types lead back to the first (`A` of `B` of `A`) made the doc
/// comment of a member of that type (`T[2][2]...`) grow until memory ran out; the
/// dimensions are now cut short.
#[test]
fn array_cycle_is_cut_short() {
    let data = std::fs::read(regressions().join("array_cycle.bpf.o")).unwrap();
    let spec = corebpf_obj::Object::parse(&data).expect("the object parses");
    let btf = spec.btf.as_ref().expect("the object has BTF");
    let cycles = |id: u32| {
        let mut seen = std::collections::HashSet::new();
        let mut t = btf.type_by_id(id).ok();
        while let Some(a) = t.and_then(|t| t.array()) {
            if !seen.insert(a.elem_type) {
                return true;
            }
            t = btf.type_by_id(a.elem_type).ok();
        }
        false
    };
    assert!(
        (1..btf.type_count()).any(cycles),
        "no array cycle in the input"
    );
    // As the fuzz target found it: with the object's first named struct requested too.
    let first_struct = (1..btf.type_count())
        .filter_map(|id| btf.type_by_id(id).ok())
        .find(|t| t.kind() == corebpf_btf::Kind::Struct && !t.name().is_empty())
        .map(|t| t.name().to_string())
        .expect("a named struct");
    let opts = corebpf_gen::Options {
        object_path: "x.bpf.o".to_string(),
        types: vec![first_struct],
        ..Default::default()
    };
    let src = corebpf_gen::generate(&spec, &opts).expect("source");
    assert!(
        src.contains("...["),
        "the cut-short array is not spelled out"
    );
}
