//! `corebpf link` against `bpftool gen object` (libbpf's linker; a test-only oracle) on the
//! `testdata/bpf/link/` project, built by clang 14 and 19, inputs in either order:
//! - `corebpf relocate --dump` of both outputs (CO-RE against this kernel's BTF, then
//!   subprogram linking) gives the same instructions; only the local BTF ids in the
//!   relocation log lines may differ (the types are numbered in another order);
//! - `corebpf inspect` shows the same programs, subprograms, maps, data sections, externs
//!   and CO-RE relocation counts; the BTF type count is bpftool's, or lower by the
//!   prototypes libbpf leaves unnamed when a definition precedes its extern (see
//!   DESIGN.md, "Static linking");
//! - libbpf reads our output (`bpftool gen object` relinks it, `bpftool gen skeleton`
//!   opens it);
//! - a conflict is reported naming the symbol and both inputs, exit code 1.

mod common;

use std::path::Path;
use std::process::Command;

use common::{corebpf, testdata, TempDir};

fn object(clang: &str, name: &str) -> String {
    testdata()
        .join("bpf/out/link")
        .join(clang)
        .join(format!("{name}.bpf.o"))
        .display()
        .to_string()
}

/// `bpftool gen object OUT INPUTS...`; `None` (after the skip policy) without bpftool.
fn bpftool_link(out: &Path, inputs: &[String]) -> Option<()> {
    let Ok(run) = Command::new("bpftool")
        .arg("gen")
        .arg("object")
        .arg(out)
        .args(inputs)
        .output()
    else {
        corebpf_testutil::skip("no bpftool (apt-get install bpftool)");
        return None;
    };
    assert!(
        run.status.success(),
        "bpftool: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    Some(())
}

/// Local type ids (`[36]`) in relocation log lines replaced by `[id]`.
fn without_local_ids(dump: &str) -> String {
    dump.lines()
        .map(|l| {
            if !l.trim_start().starts_with("relo #") {
                return l.to_string();
            }
            let mut out = String::new();
            let mut rest = l;
            while let Some(open) = rest.find('[') {
                let close = rest[open..].find(']').map_or(rest.len(), |c| open + c);
                out.push_str(&rest[..open]);
                out.push_str("[id]");
                rest = &rest[(close + 1).min(rest.len())..];
            }
            out.push_str(rest);
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn btf_count(inspect: &str) -> u32 {
    let line = inspect
        .lines()
        .find(|l| l.starts_with("btf: "))
        .expect("btf line");
    line["btf: ".len()..]
        .trim_end_matches(" types")
        .parse()
        .unwrap()
}

#[test]
fn link_matches_bpftool_gen_object() {
    let dir = TempDir::new("link-vs-bpftool");
    // Same file name for both outputs: map names derive from it.
    let (ours, theirs) = (dir.0.join("ours"), dir.0.join("bpftool"));
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&theirs).unwrap();
    let (ours, theirs) = (ours.join("app.bpf.o"), theirs.join("app.bpf.o"));
    for clang in ["clang14", "clang19"] {
        for (order, main_first) in [
            (["link_main", "link_lib"], true),
            (["link_lib", "link_main"], false),
        ] {
            let inputs: Vec<String> = order.iter().map(|n| object(clang, n)).collect();
            let mut args = vec!["link".to_string()];
            args.extend(inputs.iter().cloned());
            args.extend(["-o".to_string(), ours.display().to_string()]);
            let run = corebpf(&args);
            assert_eq!(run.code, 0, "{}", run.stderr);
            if bpftool_link(&theirs, &inputs).is_none() {
                return;
            }
            // libbpf reads our output: its linker takes it as an input, its object
            // parser as a skeleton's object.
            let relinked = dir.0.join("relinked.bpf.o");
            bpftool_link(&relinked, &[ours.display().to_string()]).unwrap();
            let skel = Command::new("bpftool")
                .args(["gen", "skeleton"])
                .arg(&ours)
                .output()
                .unwrap();
            assert!(
                skel.status.success(),
                "{}",
                String::from_utf8_lossy(&skel.stderr)
            );
            let dump = |p: &Path| {
                let r = corebpf(&["relocate", &p.display().to_string(), "--dump"]);
                assert_eq!(r.code, 0, "{}", r.stderr);
                without_local_ids(&r.stdout)
            };
            assert_eq!(
                dump(&ours),
                dump(&theirs),
                "{clang} {order:?}: instructions after CO-RE"
            );
            let inspect = |p: &Path| {
                let r = corebpf(&["inspect", &p.display().to_string()]);
                assert_eq!(r.code, 0, "{}", r.stderr);
                r.stdout
            };
            let (a, b) = (inspect(&ours), inspect(&theirs));
            let strip = |s: &str| -> String {
                s.lines()
                    .filter(|l| !l.starts_with("btf: "))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(strip(&a), strip(&b), "{clang} {order:?}: inspect");
            let (n_ours, n_bpftool) = (btf_count(&a), btf_count(&b));
            if main_first {
                assert_eq!(n_ours, n_bpftool, "{clang} {order:?}: BTF types");
            } else {
                // libbpf keeps link_main's unnamed prototypes of the externs lib_add, bump
                // and lib_hidden (lib_core's has no parameters to name).
                assert_eq!(n_ours + 3, n_bpftool, "{clang} {order:?}: BTF types");
            }
        }
    }
}

#[test]
fn link_conflict_names_symbol_and_inputs() {
    let dir = TempDir::new("link-conflict");
    let out = dir.0.join("x.bpf.o").display().to_string();
    let (lib, dup) = (
        object("clang19", "link_lib"),
        object("clang19", "link_bad_dup"),
    );
    let run = corebpf(&["link", &lib, &dup, "-o", &out]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("symbol 'lib_add' is defined (strong) in both")
            && run.stderr.contains(&lib)
            && run.stderr.contains(&dup),
        "{}",
        run.stderr
    );
    assert!(!Path::new(&out).exists(), "no output on error");
}
