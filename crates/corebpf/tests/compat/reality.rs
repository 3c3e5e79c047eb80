//! compat's predictions against the running kernel: each testdata program loaded alone.

use std::fmt::Write as _;

use corebpf::compat::{self, Kernel, ProgVerdict};

use super::{corpus, testdata};

/// One program's prediction and outcome.
struct Case {
    object: String,
    program: String,
    predicted_loads: bool,
    /// What compat could not decide for it.
    unknown: Vec<String>,
    reasons: Vec<String>,
    /// The load error, if it failed.
    error: Option<String>,
}

/// Loads program `prog` of object file `name` alone.
fn load_alone(name: &str, prog: &str) -> Result<(), String> {
    let path = testdata().join("bpf/out/clang19").join(name);
    let mut open = corebpf::ObjectBuilder::new()
        .open_file(&path)
        .map_err(|e| e.to_string())?;
    open.load_only(&[prog]).map_err(|e| e.to_string())?;
    open.load().map(drop).map_err(|e| format!("{e:#}"))
}

/// Why compat and the kernel may disagree on a case, or `None` if they should not.
/// Each entry is a fact BTF cannot tell (see `corebpf::compat`'s docs).
fn known_exception(c: &Case) -> Option<&'static str> {
    let err = c.error.as_deref().unwrap_or("");
    let obj = c.object.as_str();
    if c.predicted_loads && obj.starts_with("bad_") {
        return Some(
            "a deliberately broken object: the verifier (or a poisoned CO-RE \
                     instruction it reaches) refuses it, which compat does not model",
        );
    }
    let core_unknown = c.unknown.iter().any(|u| u.starts_with("core "));
    if c.predicted_loads && err.contains("was poisoned by CO-RE") && core_unknown {
        return Some(
            "a poisoned CO-RE instruction on a live path: compat reports poisoned \
                     instructions as unknown (only the verifier knows which branches are dead)",
        );
    }
    // Verifier verdicts, which compat does not model.
    let verifier = [(
        "perm_hidden_func.bpf.o",
        "global_call",
        "the verifier refuses a call of a global function with a map value that may be NULL",
    )];
    if let Some((_, _, why)) = verifier
        .iter()
        .find(|(o, p, _)| *o == obj && *p == c.program)
    {
        return Some(why);
    }
    let fmod_ret_unknown = c.unknown.iter().any(|u| u.contains("modifiable"));
    if c.predicted_loads && err.contains("is not modifiable") && fmod_ret_unknown {
        return Some(
            "the fmod_ret target is not on the kernel's error-injection list or \
                     fmodret set (compat reports that as unknown: BTF does not hold them)",
        );
    }
    if c.predicted_loads && err.contains("can be sleepable") {
        return Some(
            "sleepable uprobes (the .s forms) came in 6.0/6.1, which no type or \
                     enumerator in BTF tells",
        );
    }
    if c.predicted_loads && err.contains("EPERM") && err.contains("lockdown") {
        return Some("kernel lockdown (this host) refuses the program type; no BTF says so");
    }
    None
}

fn run_cases() -> Vec<Case> {
    let kernel = Kernel::running().expect("the running kernel's BTF");
    let mut cases = Vec::new();
    for (name, spec) in corpus() {
        let report = compat::check(&spec, &kernel);
        for p in &report.programs {
            let predicted_loads = p.verdict != ProgVerdict::Fails;
            let error = load_alone(&name, &p.name).err();
            cases.push(Case {
                object: name.clone(),
                program: p.name.clone(),
                predicted_loads,
                unknown: p.unknown.clone(),
                reasons: p.reasons.clone(),
                error,
            });
        }
    }
    cases
}

/// Every program compat says loads does load, every one it says fails does fail; the
/// disagreements are the known exceptions above.
#[test]
fn compat_predicts_what_loads_on_the_running_kernel() {
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        corebpf_testutil::skip("no /sys/kernel/btf/vmlinux");
        return;
    }
    let cases = run_cases();
    let mut unexplained = String::new();
    let mut explained = String::new();
    let (mut agree, mut fails) = (0, 0);
    for c in &cases {
        let loaded = c.error.is_none();
        fails += usize::from(!loaded);
        if loaded == c.predicted_loads {
            agree += 1;
            continue;
        }
        let line = format!(
            "{}: prog '{}': compat said {} ({}), the kernel: {}\n",
            c.object,
            c.program,
            if c.predicted_loads { "loads" } else { "fails" },
            c.reasons.join("; "),
            c.error.as_deref().unwrap_or("loaded")
        );
        match known_exception(c) {
            Some(why) => {
                let _ = writeln!(explained, "{line}    known: {why}");
            }
            None => unexplained.push_str(&line),
        }
    }
    eprintln!(
        "compat vs reality: {} programs, {agree} agree, {fails} failed to load; known \
         exceptions:\n{explained}",
        cases.len()
    );
    assert!(
        unexplained.is_empty(),
        "unexplained disagreements:\n{unexplained}"
    );
    assert!(cases.len() > 100, "{}", cases.len());
}
