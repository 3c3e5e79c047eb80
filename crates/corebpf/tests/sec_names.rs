//! One program for every SEC convention (testdata obj_sec_names): each loads on its own, or
//! fails with an error that says why (lockdown, a program type or attach target this kernel
//! lacks, struct_ops not supported yet); the everyday types load everywhere.

use std::path::PathBuf;

use corebpf::ObjectBuilder;

fn object() -> PathBuf {
    std::env::var_os("COREBPF_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")))
        .join("bpf/out/clang19/obj_sec_names.bpf.o")
}

#[test]
fn every_program_loads_alone_or_says_why() {
    let names: Vec<String> = ObjectBuilder::new()
        .open_file(object())
        .unwrap()
        .spec()
        .programs
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let mut loaded = Vec::new();
    for name in &names {
        let mut open = ObjectBuilder::new().open_file(object()).unwrap();
        open.load_only(&[name]).unwrap();
        match open.load() {
            Ok(obj) => {
                assert!(obj.program(name).is_some());
                loaded.push(name.clone());
            }
            Err(e) => {
                let text = e.to_string();
                // The verifier's own verdict counts when it is there (e.g. 5.10's "Only
                // fentry/fexit/fmod_ret and lsm programs can be sleepable").
                let clear = e.is_permission()
                    || e.is_unsupported()
                    || e.verifier().is_some_and(|v| !v.message.is_empty())
                    || text.contains("not supported yet")
                    || text.contains("not found in the kernel's BTF")
                    || text.contains("does not support");
                assert!(clear, "program '{name}': unclear failure: {text}");
            }
        }
    }
    eprintln!(
        "{} of {} programs loaded: {loaded:?}",
        loaded.len(),
        names.len()
    );
    for everyday in [
        "p_socket",
        "p_xdp",
        "p_tc",
        "p_tp",
        "p_tracepoint",
        "p_raw_tp",
        "p_perf_event",
        "p_kprobe",
        "p_cgroup_skb_ingress",
    ] {
        if names.iter().any(|n| n == everyday) {
            assert!(
                loaded.iter().any(|n| n == everyday),
                "{everyday} must load on every kernel"
            );
        }
    }
}
