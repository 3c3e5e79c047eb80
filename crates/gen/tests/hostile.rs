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
