//! CO-RE relocation of a whole object against one target BTF, record by record, that keeps
//! going after a failed relocation (so `corebpf relocate` reports every failure, where the
//! loader stops at the first). The matching, values and patching are
//! [`corebpf_btf::relo`]'s, applied the way [`ObjectSpec::relocate_core`] applies them.

use corebpf_btf::relo::{patch_insn, RawInsn, Relocator, TargetSet};
use corebpf_btf::CoreReloKind;
use corebpf_obj::{Insn, ObjectSpec};

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

/// Every relocation of an object against one target, in record order.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Record sites and their outcomes.
    pub relocations: Vec<(Site, Outcome)>,
    /// The object with every successful relocation applied.
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
}

/// Relocates every record of `spec` (programs and subprograms alike) against `targets`.
pub fn relocate(mut spec: ObjectSpec, targets: &TargetSet) -> DryRun {
    let mut relocator = Relocator::new(targets).record_log();
    let mut relocations = Vec::new();
    let (Some(btf), Some(ext)) = (spec.btf.clone(), spec.btf_ext.clone()) else {
        return DryRun { relocations, spec };
    };
    for sec in &ext.core_relo {
        relocator.log(format!(
            "sec '{}': found {} CO-RE relocations",
            sec.sec_name,
            sec.records.len()
        ));
        for (i, relo) in sec.records.iter().enumerate() {
            let mut site = Site {
                section: sec.sec_name.clone(),
                relo_idx: i,
                function: String::new(),
                insn_idx: relo.insn_off as usize / 8,
                kind: relo.kind(),
                local_spec: String::new(),
            };
            if relo.insn_off % 8 != 0 {
                let msg = format!("insn offset {} is not instruction-aligned", relo.insn_off);
                relocations.push((site, Outcome::Failed(msg)));
                continue;
            }
            // Like libbpf: an eliminated weak subprogram's records are skipped.
            let Some((fi, insn_idx)) = spec.function_at(&sec.sec_name, relo.insn_off) else {
                continue;
            };
            let name = spec.functions[fi].name.clone();
            site.function = name.clone();
            site.insn_idx = insn_idx;
            let resolved = match relocator.resolve(&btf, relo, i, &name) {
                Ok(r) => r,
                Err(f) => {
                    site.local_spec = f.spec.clone();
                    relocations.push((site, Outcome::Failed(f.source.to_string())));
                    continue;
                }
            };
            site.local_spec = resolved.local_spec.clone();
            let f = &mut spec.functions[fi];
            let mut raw: Vec<RawInsn> = f
                .insns
                .iter()
                .map(|i| RawInsn::from_bytes(i.to_bytes()))
                .collect();
            let mut lines = Vec::new();
            let patched = patch_insn(&mut raw, insn_idx, &name, i, &resolved.res, &mut |l| {
                lines.push(l)
            });
            for l in lines {
                relocator.log(l);
            }
            if let Err(e) = patched {
                relocations.push((site, Outcome::Failed(e.to_string())));
                continue;
            }
            // Only the patched instruction (and an LD_IMM64's second half) changed.
            let end = (insn_idx + 2).min(raw.len());
            for (dst, src) in f.insns[insn_idx..end].iter_mut().zip(&raw[insn_idx..end]) {
                *dst = Insn::from_bytes(src.to_bytes());
            }
            let outcome = if resolved.res.poison {
                Outcome::Poisoned
            } else {
                Outcome::Patched {
                    orig: resolved.res.orig_val,
                    new: resolved.res.new_val,
                    target: resolved.target_spec,
                    target_btf: resolved.target_btf,
                }
            };
            relocations.push((site, outcome));
        }
    }
    DryRun { relocations, spec }
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
            let dry = relocate(spec, &targets);
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
