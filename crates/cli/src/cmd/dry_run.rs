//! CO-RE relocation of a whole object against one target BTF for `corebpf relocate`: every
//! record's outcome, failures included (the loader stops at the first), from
//! [`ObjectSpec::relocate_core_all`]; and every `__ksym` extern (kfuncs, kernel variables)
//! resolved against that kernel, from [`ObjectSpec::resolve_ksyms_all`].

use corebpf_btf::relo::{Relocator, TargetSet};
use corebpf_btf::CoreReloKind;
use corebpf_obj::core_relo::CoreError;
use corebpf_obj::{ExternKind, KsymKind, KsymOutcome, KsymTarget, ObjectSpec};

/// Where a relocation record points: the same for every target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// ELF section of the record.
    pub section: String,
    /// Index of the record in its section (libbpf's `relo #N`).
    pub relo_idx: usize,
    /// Function owning the instruction (program or subprogram).
    pub function: String,
    /// Instruction index within that function.
    pub insn_idx: usize,
    /// Relocation kind, if the record's kind is known.
    pub kind: Option<CoreReloKind>,
    /// The local spec as libbpf prints it (empty if it could not be parsed).
    pub local_spec: String,
}

/// What one target made of a relocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Patched from `orig` to `new`; `target` is the matched spec (none: no candidate
    /// matched, as for an existence check that comes out 0).
    Patched {
        /// Value from the local BTF.
        orig: u64,
        /// Value patched in.
        new: u64,
        /// The matched target spec.
        target: Option<String>,
        /// The BTF it was found in (`vmlinux`, a module).
        target_btf: Option<String>,
    },
    /// No target: the instruction was replaced by an invalid call (fine on a dead branch).
    Poisoned,
    /// The relocation could not be resolved or applied: loading would fail.
    Failed(String),
}

/// A `__ksym` extern: the same for every target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternSite {
    /// Symbol name.
    pub name: String,
    /// `kfunc`, `var` (a typed kernel variable) or `typeless` (an address from kallsyms).
    pub kind: &'static str,
    /// `__weak`: missing is not a failure.
    pub weak: bool,
}

/// Every relocation and `__ksym` extern of an object against one target, in record and
/// extern order.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Record sites and their outcomes.
    pub relocations: Vec<(Site, Outcome)>,
    /// `.ksyms` externs and what this target made of them.
    pub externs: Vec<(ExternSite, KsymOutcome)>,
    /// The object with every successful relocation applied and its externs resolved.
    pub spec: ObjectSpec,
}

impl DryRun {
    /// Counts of (patched, poisoned, failed).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for (_, o) in &self.relocations {
            match o {
                Outcome::Patched { .. } => c.0 += 1,
                Outcome::Poisoned => c.1 += 1,
                Outcome::Failed(_) => c.2 += 1,
            }
        }
        c
    }

    /// Counts of externs (resolved, weak and missing, unknown address, failed).
    pub fn extern_counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for (_, o) in &self.externs {
            match o {
                KsymOutcome::Resolved(_) => c.0 += 1,
                KsymOutcome::WeakMissing(_) => c.1 += 1,
                KsymOutcome::Unknown => c.2 += 1,
                KsymOutcome::Failed(_) => c.3 += 1,
            }
        }
        c
    }

    /// Whether loading on this target would fail: a relocation or a strong extern failed.
    pub fn fails(&self) -> bool {
        self.counts().2 > 0 || self.extern_counts().3 > 0
    }
}

/// Resolves the `.ksyms` externs of `spec` against `target` (libbpf's rules): what each
/// came to, the values written into `spec.externs` for linking.
fn resolve_externs(
    spec: &mut ObjectSpec,
    target: &mut KsymTarget<'_>,
) -> Vec<(ExternSite, KsymOutcome)> {
    let resolutions = spec.resolve_ksyms_all(target);
    resolutions
        .into_iter()
        .map(|r| {
            let e = &spec.externs[r.ext];
            let kind = match e.kind {
                ExternKind::Ksym(KsymKind::Func { .. }) => "kfunc",
                ExternKind::Ksym(KsymKind::Var { .. }) => "var",
                _ => "typeless",
            };
            let site = ExternSite {
                name: e.name.clone(),
                kind,
                weak: e.weak,
            };
            (site, r.outcome)
        })
        .collect()
}

/// Relocates every record of `spec` (programs and subprograms alike) against `targets` and
/// resolves its `__ksym` externs against `ksyms` (the same kernel).
pub fn relocate(mut spec: ObjectSpec, targets: &TargetSet, ksyms: &mut KsymTarget<'_>) -> DryRun {
    let externs = resolve_externs(&mut spec, ksyms);
    let mut relocator = Relocator::new(targets).record_log();
    let relocations = spec
        .relocate_core_all(&mut relocator, |_| true)
        .into_iter()
        .map(|r| {
            let mut site = Site {
                section: r.section,
                relo_idx: r.relo_idx,
                function: r.function,
                insn_idx: r.insn_idx,
                kind: r.kind,
                local_spec: String::new(),
            };
            let outcome = match r.result {
                Ok(o) => {
                    site.local_spec = o.local_spec;
                    if o.poisoned {
                        Outcome::Poisoned
                    } else {
                        Outcome::Patched {
                            orig: o.orig_val,
                            new: o.new_val,
                            target: o.target_spec,
                            target_btf: o.target_btf,
                        }
                    }
                }
                Err(CoreError::Relocation { failure, .. }) => {
                    site.local_spec = failure.spec.clone();
                    Outcome::Failed(failure.error.to_string())
                }
                Err(e) => Outcome::Failed(e.to_string()),
            };
            (site, outcome)
        })
        .collect();
    DryRun {
        relocations,
        externs,
        spec,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn testdata(p: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/bpf/out/clang19")
            .join(p)
    }

    /// The dry run patches exactly what the loader's `relocate_core` patches.
    #[test]
    fn same_as_relocate_core() {
        let mut checked = 0;
        for e in std::fs::read_dir(testdata("")).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("core_")
                || name.contains(".target.")
                || name == "core_tracing.bpf.o"
            {
                continue;
            }
            let target = testdata(&name.replace(".bpf.o", ".target.bpf.o"));
            let spec = corebpf_obj::Object::from_file(&p).unwrap();
            let targets = corebpf_obj::core_relo::target_from_file(&target).unwrap();
            let mut expected = spec.clone();
            let mut r = Relocator::new(&targets).record_log();
            let outcomes = expected.relocate_core(&mut r, |_| true).unwrap();
            let primary = targets.primary().unwrap().clone();
            let dry = relocate(spec, &targets, &mut KsymTarget::new(&primary));
            assert_eq!(dry.counts().2, 0, "{name}");
            assert_eq!(dry.relocations.len(), outcomes.len(), "{name}");
            for ((site, o), want) in dry.relocations.iter().zip(&outcomes) {
                assert_eq!(site.local_spec, want.local_spec, "{name}");
                assert_eq!(site.insn_idx, want.insn_idx, "{name}");
                match o {
                    Outcome::Poisoned => assert!(want.poisoned),
                    Outcome::Patched { new, target, .. } => {
                        assert_eq!(*new, want.new_val, "{name}");
                        assert_eq!(target, &want.target_spec, "{name}");
                    }
                    Outcome::Failed(e) => panic!("{name}: {e}"),
                }
            }
            for (a, b) in dry.spec.functions.iter().zip(&expected.functions) {
                assert_eq!(a.insns, b.insns, "{name}: {}", a.name);
            }
            checked += 1;
        }
        assert!(checked >= 10, "{checked}");
    }
}
