//! `corebpf inspect` and `corebpf load` on the objects libbpf refuses and corebpf accepts
//! (`testdata/bpf/perm/`, clang 14 and clang 19): symbols nothing defines are listed per
//! program and fail only those programs; hidden helpers, static programs and iproute2 maps
//! are shown as such.

mod common;

use common::{corebpf, testdata};
use serde_json::Value;

const CLANGS: [&str; 2] = ["clang14", "clang19"];

fn obj(clang: &str, name: &str) -> String {
    testdata()
        .join("bpf/out")
        .join(clang)
        .join(format!("{name}.bpf.o"))
        .display()
        .to_string()
}

/// The stdout line of `corebpf inspect` starting with `prefix` (after indentation).
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line '{prefix}' in:\n{out}"))
}

#[test]
fn inspect_lists_undefined_symbols_per_program() {
    for clang in CLANGS {
        let r = corebpf(&["inspect", &obj(clang, "perm_undefined"), "--disasm"]);
        assert_eq!(r.code, 0, "{clang}: {}", r.stderr);
        let out = &r.stdout;
        assert!(out.contains("programs: 3"), "{out}");
        assert!(line(out, "asm_const sec").ends_with(" undefined: PERM_CONST"));
        assert!(line(out, "calls_fwd sec").ends_with(" undefined: perm_fwd()"));
        assert!(!line(out, "plain sec").contains("undefined"));
        assert!(
            out.contains("r0 = 0x0 ll  ; undefined 'PERM_CONST'"),
            "{out}"
        );
        assert!(out.contains("; undefined 'perm_fwd'"), "{out}");

        let r = corebpf(&["inspect", &obj(clang, "perm_undefined"), "--json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v = r.json();
        let progs = v["programs"].as_array().unwrap();
        let undefined = |i: usize| progs[i]["undefined"].as_array().unwrap().clone();
        assert_eq!(progs[0]["name"], "asm_const");
        assert_eq!(undefined(0)[0]["symbol"], "PERM_CONST");
        assert_eq!(undefined(0)[0]["call"], false);
        assert_eq!(undefined(0)[0]["function"], "asm_const");
        assert_eq!(undefined(0)[0]["insn"], 0);
        assert_eq!(undefined(1)[0]["symbol"], "perm_fwd");
        assert_eq!(undefined(1)[0]["call"], true);
        assert!(undefined(2).is_empty());
        assert!(progs.iter().all(|p| p["error"] == Value::Null));
    }
}

#[test]
fn inspect_shows_hidden_static_and_iproute2_shapes() {
    for clang in CLANGS {
        let r = corebpf(&["inspect", &obj(clang, "perm_hidden_func")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(line(&r.stdout, "hidden_store sec").contains(" global hidden "));
        assert!(line(&r.stdout, "weak_hidden_store sec").contains(" global hidden "));
        assert!(line(&r.stdout, "global_store sec").contains(" global insns"));
        assert!(line(&r.stdout, ".data.hid (data)").contains(" flags 0x0 "));
        let r = corebpf(&["inspect", &obj(clang, "perm_hidden_func"), "--json"]);
        let v = r.json();
        let f = v["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "hidden_store")
            .unwrap()
            .clone();
        assert_eq!(
            (f["global"].clone(), f["hidden"].clone()),
            (true.into(), true.into())
        );

        let r = corebpf(&["inspect", &obj(clang, "perm_static_prog")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("programs: 4"), "{}", r.stdout);
        assert!(!r.stdout.contains("ERROR"), "{}", r.stdout);

        let r = corebpf(&["inspect", &obj(clang, "perm_iproute2_maps")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(line(&r.stdout, "pinned_counts (legacy)").ends_with("pinning by_name"));
        let outer = line(&r.stdout, "outer (legacy)");
        assert!(
            outer.ends_with("inner array key 4 value 4 max_entries 1 [0]=inner_vals"),
            "{outer}"
        );
    }
}

#[test]
fn load_fails_only_the_programs_using_undefined_symbols() {
    for clang in CLANGS {
        let r = corebpf(&["load", &obj(clang, "perm_undefined")]);
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        let out = &r.stdout;
        assert!(
            out.contains("object 'perm_undefined': 1 of 3 programs loaded"),
            "{out}"
        );
        assert!(line(out, "prog plain:").contains(" loaded in "), "{out}");
        let fwd = line(out, "prog calls_fwd:");
        assert!(
            fwd.contains("FAILED: ") && fwd.contains("calls undefined function 'perm_fwd'"),
            "{fwd}"
        );
        let asm = line(out, "prog asm_const:");
        assert!(asm.contains("loads undefined symbol 'PERM_CONST'"), "{asm}");
        // The object's BTF loads despite the declared-only function: no warning about it.
        assert!(!r.stderr.contains("loading BTF"), "{}", r.stderr);

        let r = corebpf(&["load", &obj(clang, "perm_undefined"), "--prog", "plain"]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }
}
