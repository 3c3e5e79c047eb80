//! CO-RE: applying an object's `bpf_core_relo` records to its functions' instructions,
//! between parsing and linking, as libbpf's `bpf_object__relocate_core` does.
//!
//! The matching rules and the patching live in [`corebpf_btf::relo`]; this module walks the
//! records per ELF section, finds the function each one patches, and logs libbpf's
//! `sec '<sec>': found N CO-RE relocations` line.

use corebpf_btf::relo::{patch_insn, ReloFailure, Relocator, TargetSet};
use corebpf_btf::CoreReloKind;

use crate::ObjectSpec;

/// One applied CO-RE relocation, for reports (`corebpf relocate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreOutcome {
    /// ELF section of the record.
    pub section: String,
    /// Index of the record within its section (libbpf's `relo #N`).
    pub relo_idx: usize,
    /// The function owning the instruction (a program or subprogram).
    pub function: String,
    /// Instruction index within that function.
    pub insn_idx: usize,
    /// Relocation kind.
    pub kind: CoreReloKind,
    /// The local spec as libbpf prints it.
    pub local_spec: String,
    /// The matching target spec, if any candidate matched.
    pub target_spec: Option<String>,
    /// The BTF the target came from (`vmlinux` or a module).
    pub target_btf: Option<String>,
    /// Value computed from the local BTF.
    pub orig_val: u64,
    /// Value patched in.
    pub new_val: u64,
    /// The instruction was poisoned (no target; reachable only on a dead branch).
    pub poisoned: bool,
}

/// Why CO-RE relocation of an object failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// A relocation could not be resolved or applied.
    #[error("{failure}")]
    Relocation {
        /// ELF section of the record.
        section: String,
        /// What failed (names the function, relocation number and spec).
        failure: ReloFailure,
    },
    /// A record points past the end of its function.
    #[error("sec '{section}': relo #{relo_idx}: insn #{insn} is outside function '{function}'")]
    BadInsn {
        /// ELF section.
        section: String,
        /// Record index.
        relo_idx: usize,
        /// The function.
        function: String,
        /// Instruction index within the function.
        insn: usize,
    },
    /// A record's instruction offset is not a multiple of 8.
    #[error(
        "sec '{section}': relo #{relo_idx}: insn offset {byte_off} is not instruction-aligned"
    )]
    Misaligned {
        /// ELF section.
        section: String,
        /// Record index.
        relo_idx: usize,
        /// The byte offset.
        byte_off: u32,
    },
}

/// One record's result from [`ObjectSpec::relocate_core_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreRecord {
    /// ELF section of the record.
    pub section: String,
    /// Index of the record within its section (libbpf's `relo #N`).
    pub relo_idx: usize,
    /// The function owning the instruction (empty if the record points at no function).
    pub function: String,
    /// Instruction index within that function (within the section if there is none).
    pub insn_idx: usize,
    /// Relocation kind, if it is one corebpf knows.
    pub kind: Option<CoreReloKind>,
    /// What relocating it did, or why it failed (the instruction is then left alone).
    pub result: Result<CoreOutcome, CoreError>,
}

impl ObjectSpec {
    /// Applies every CO-RE relocation to the instructions of the functions they belong to.
    /// Records of programs for which `load(program index)` is false are skipped (as libbpf
    /// skips programs with autoload off); subprograms are always relocated. Returns what was
    /// done to each instruction, in record order, or the first failure.
    ///
    /// ```no_run
    /// use corebpf_btf::relo::{Relocator, TargetSet};
    /// let mut spec = corebpf_obj::Object::from_file("prog.bpf.o")?;
    /// let targets = TargetSet::kernel()?;
    /// let mut relocator = Relocator::new(&targets);
    /// for o in spec.relocate_core(&mut relocator, |_| true)? {
    ///     println!("{}: {} -> {}", o.local_spec, o.orig_val, o.new_val);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn relocate_core(
        &mut self,
        relocator: &mut Relocator<'_>,
        load: impl Fn(usize) -> bool,
    ) -> Result<Vec<CoreOutcome>, CoreError> {
        self.relocate_core_all(relocator, load)
            .into_iter()
            .map(|r| r.result)
            .collect()
    }

    /// Like [`ObjectSpec::relocate_core`], but goes on after a failed record and reports
    /// every record (for `corebpf relocate`, which lists all failures).
    pub fn relocate_core_all(
        &mut self,
        relocator: &mut Relocator<'_>,
        load: impl Fn(usize) -> bool,
    ) -> Vec<CoreRecord> {
        let (Some(btf), Some(ext)) = (self.btf.clone(), self.btf_ext.clone()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let index = crate::object::FunctionIndex::new(&self.functions);
        for sec in &ext.core_relo {
            relocator.log(format!(
                "sec '{}': found {} CO-RE relocations",
                sec.sec_name,
                sec.records.len()
            ));
            for (i, relo) in sec.records.iter().enumerate() {
                let mut rec = CoreRecord {
                    section: sec.sec_name.clone(),
                    relo_idx: i,
                    function: String::new(),
                    insn_idx: relo.insn_off as usize / 8,
                    kind: relo.kind(),
                    result: Err(CoreError::Misaligned {
                        section: sec.sec_name.clone(),
                        relo_idx: i,
                        byte_off: relo.insn_off,
                    }),
                };
                if relo.insn_off % 8 != 0 {
                    out.push(rec);
                    continue;
                }
                let Some((fi, insn_idx)) =
                    index.find(&self.functions, &sec.sec_name, relo.insn_off)
                else {
                    // Like libbpf: code of an eliminated weak subprogram keeps its records.
                    relocator.log(format!(
                        "sec '{}': skipping CO-RE relocation #{i} for insn #{} belonging to eliminated weak subprogram",
                        sec.sec_name,
                        relo.insn_off / 8
                    ));
                    continue;
                };
                if let Some(p) = self.functions[fi].program {
                    if !load(p) {
                        continue;
                    }
                }
                rec.function = self.functions[fi].name.clone();
                rec.insn_idx = insn_idx;
                rec.result =
                    self.relocate_one(relocator, &btf, &sec.sec_name, i, relo, fi, insn_idx);
                out.push(rec);
            }
        }
        out
    }

    /// Resolves record `relo` (number `i` of section `section`) and patches instruction
    /// `insn_idx` of function `fi`.
    #[allow(clippy::too_many_arguments)]
    fn relocate_one(
        &mut self,
        relocator: &mut Relocator<'_>,
        btf: &corebpf_btf::Btf,
        section: &str,
        i: usize,
        relo: &corebpf_btf::CoreRelo,
        fi: usize,
        insn_idx: usize,
    ) -> Result<CoreOutcome, CoreError> {
        let name = self.functions[fi].name.clone();
        let failed = |failure: ReloFailure| CoreError::Relocation {
            section: section.to_string(),
            failure,
        };
        let resolved = relocator.resolve(btf, relo, i, &name).map_err(failed)?;
        let f = &mut self.functions[fi];
        if insn_idx >= f.insns.len() {
            return Err(CoreError::BadInsn {
                section: section.to_string(),
                relo_idx: i,
                function: name,
                insn: insn_idx,
            });
        }
        // A patch touches only the instruction and an LD_IMM64's second half: those are
        // saved, and put back if the patch fails, so a failure leaves the function alone.
        let end = (insn_idx + 2).min(f.insns.len());
        let saved: Vec<_> = f.insns[insn_idx..end].to_vec();
        let mut lines = Vec::new();
        let patched = patch_insn(&mut f.insns, insn_idx, &name, i, &resolved.res, &mut |l| {
            lines.push(l)
        });
        for l in lines {
            relocator.log(l);
        }
        if let Err(e) = patched {
            f.insns[insn_idx..end].copy_from_slice(&saved);
            return Err(failed(ReloFailure {
                prog: name,
                relo_idx: i,
                spec: resolved.local_spec,
                error: Box::new(e),
            }));
        }
        Ok(CoreOutcome {
            section: section.to_string(),
            relo_idx: i,
            function: name,
            insn_idx,
            kind: resolved.kind,
            local_spec: resolved.local_spec,
            target_spec: resolved.target_spec,
            target_btf: resolved.target_btf,
            orig_val: resolved.res.orig_val,
            new_val: resolved.res.new_val,
            poisoned: resolved.res.poison,
        })
    }
}

/// The target set for `corebpf relocate --btf FILE` style dry runs: one BTF file.
pub fn target_from_file(path: &std::path::Path) -> Result<TargetSet, corebpf_btf::BtfError> {
    let btf = corebpf_btf::Btf::from_file(path)?;
    Ok(TargetSet::from_btfs(vec![std::sync::Arc::new(btf)]))
}
