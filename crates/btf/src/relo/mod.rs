//! CO-RE: resolving `bpf_core_relo` records of an object's BTF against target BTF (the
//! running kernel's vmlinux and modules, or BTF files), with libbpf's matching rules and
//! libbpf's debug log lines.
//!
//! ```no_run
//! use std::sync::Arc;
//! use corebpf_btf::{relo::{Relocator, TargetSet}, Btf, BtfExt};
//! # let elf: Vec<u8> = vec![];
//! let local = Btf::from_elf(&elf)?;
//! let ext = BtfExt::from_elf(&elf, &local)?.unwrap_or_default();
//! let targets = TargetSet::kernel()?;
//! let mut relocator = Relocator::new(&targets);
//! for sec in &ext.core_relo {
//!     for (i, relo) in sec.records.iter().enumerate() {
//!         let r = relocator.resolve(&local, relo, i, "prog").map_err(|e| e.to_string());
//!         println!("{r:?}");
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod calc;
#[cfg(test)]
mod fixture;
pub(crate) mod matching;
mod patch;
mod spec;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

pub use calc::Resolution;
pub use patch::{is_poison, patch_insn, POISON_HELPER};
pub use spec::{Accessor, Spec, MAX_SPEC_LEN};

use crate::ext::{CoreRelo, CoreReloKind};
use crate::index::essential_len;
use crate::{Btf, BtfError};

/// Why a relocation could not be computed or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReloError {
    /// The access string does not fit the local type.
    #[error("bad access string \"{access}\": {reason}")]
    BadSpec {
        /// The access string.
        access: String,
        /// What does not fit.
        reason: String,
    },
    /// Reading BTF failed.
    #[error(transparent)]
    Btf(#[from] BtfError),
    /// Nesting deeper than libbpf allows.
    #[error("struct/union/array nesting too deep")]
    TooDeep,
    /// An offset or size overflowed.
    #[error("offset or size overflow")]
    Overflow,
    /// A relocation kind that makes no sense on an array element.
    #[error("relocation <{}> can't be applied to array access", .0.name())]
    ArrayAccess(CoreReloKind),
    /// A bitfield that no 64-bit load covers.
    #[error("bitfield can't be read with a 64-bit load")]
    Bitfield,
    /// An unknown relocation kind.
    #[error("unrecognized CO-RE relocation kind {0}")]
    Unsupported(u32),
    /// The root type is anonymous, so no candidate can be searched by name.
    #[error("target candidate search failed for {0}: anonymous type")]
    AnonymousRoot(String),
    /// Candidates disagree on the field's offset.
    #[error("field offset ambiguity: {0} != {1}")]
    OffsetAmbiguity(u32, u32),
    /// Candidates disagree on the outcome.
    #[error("relocation decision ambiguity: {0} != {1}")]
    DecisionAmbiguity(String, String),
    /// The instruction index is past the function's end.
    #[error("insn #{insn} is past the end of the function ({len} insns)")]
    InsnOutOfRange {
        /// The index.
        insn: usize,
        /// The function's length.
        len: usize,
    },
    /// The instruction does not hold the value the compiler should have put there.
    #[error("unexpected insn #{insn} ({class}) value: got {got}, exp {expected} -> {new}")]
    UnexpectedValue {
        /// The instruction index.
        insn: usize,
        /// Its class as libbpf names it.
        class: String,
        /// What it holds.
        got: String,
        /// What the local BTF says it should hold.
        expected: u64,
        /// What it would be patched to.
        new: u64,
    },
    /// A patched load/store offset would not fit.
    #[error("insn #{insn} (LDX/ST/STX) value too big: {value}")]
    ValueTooBig {
        /// The instruction index.
        insn: usize,
        /// The value.
        value: u64,
    },
    /// The instruction is not one a CO-RE relocation can patch.
    #[error("insn #{insn}: {reason}")]
    UnexpectedInsn {
        /// The instruction index.
        insn: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A relocation that failed, with where and what (`prog 'p': relo #3: <byte_off> ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("prog '{prog}': relo #{relo_idx}: {spec}{sep}{error}", sep = if .spec.is_empty() { "" } else { ": " })]
pub struct ReloFailure {
    /// The function owning the instruction.
    pub prog: String,
    /// The record's index in its section.
    pub relo_idx: usize,
    /// The local spec as libbpf prints it (empty if it could not be parsed).
    pub spec: String,
    /// What went wrong.
    pub error: Box<ReloError>,
}

/// Whether type `local_id` of `local` and `targ_id` of `targ` are compatible by libbpf's
/// `bpf_core_types_are_compat` rules (names ignored; pointers, arrays and function
/// prototypes compared structurally): how libbpf checks a `__ksym` variable's type and a
/// kfunc's prototype against the kernel's.
pub fn types_are_compat(
    local: &Btf,
    local_id: u32,
    targ: &Btf,
    targ_id: u32,
) -> Result<bool, ReloError> {
    matching::types_are_compat(local, local_id, targ, targ_id, matching::MAX_DEPTH)
}

/// The BTF a set of relocations is resolved against: the kernel's vmlinux, then (only when
/// vmlinux has no candidate) its modules; or user-given BTF files, searched in order, with
/// no modules (as libbpf does with `btf_custom_path`).
pub struct TargetSet {
    btfs: Vec<Arc<Btf>>,
    /// Module names still to load lazily (kernel targets only).
    module_names: Vec<String>,
    modules: OnceLock<Vec<Arc<Btf>>>,
}

impl std::fmt::Debug for TargetSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetSet")
            .field(
                "btfs",
                &self
                    .btfs
                    .iter()
                    .map(|b| b.name().to_string())
                    .collect::<Vec<_>>(),
            )
            .field("modules", &self.module_names.len())
            .finish()
    }
}

impl TargetSet {
    /// The running kernel: `/sys/kernel/btf/vmlinux`, and module BTF loaded on first need.
    pub fn kernel() -> Result<TargetSet, BtfError> {
        let vmlinux = Arc::new(Btf::from_sys_fs()?);
        let module_names = Btf::sys_fs_modules().unwrap_or_default();
        Ok(TargetSet {
            btfs: vec![vmlinux],
            module_names,
            modules: OnceLock::new(),
        })
    }

    /// Explicit target BTF (e.g. files given with `--btf`), searched in order.
    pub fn from_btfs(btfs: Vec<Arc<Btf>>) -> TargetSet {
        TargetSet {
            btfs,
            module_names: Vec::new(),
            modules: OnceLock::from(Vec::new()),
        }
    }

    /// The main target BTF (vmlinux or the first file).
    pub fn primary(&self) -> Option<&Arc<Btf>> {
        self.btfs.first()
    }

    fn modules(&self) -> &[Arc<Btf>] {
        self.modules.get_or_init(|| {
            let Some(vmlinux) = self.btfs.first() else {
                return Vec::new();
            };
            self.module_names
                .iter()
                .filter_map(|m| match Btf::from_sys_fs_module(m, vmlinux.clone()) {
                    Ok(b) => Some(Arc::new(b)),
                    Err(e) => {
                        log::warn!("failed to load BTF of module '{m}': {e}");
                        None
                    }
                })
                .collect()
        })
    }
}

/// A candidate target type: which BTF of the target set, and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Index into the searched BTF list (see [`Relocator::candidate_btf`]).
    pub btf: usize,
    /// Type id in that BTF.
    pub id: u32,
}

/// What a resolved relocation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Values to patch (or poison).
    pub res: Resolution,
    /// The local spec as libbpf prints it (empty unless [`Relocator::logging`]).
    pub local_spec: String,
    /// The matching target spec, if a candidate matched (empty unless logging).
    pub target_spec: Option<String>,
    /// The BTF (`vmlinux`, a module) the match came from.
    pub target_btf: Option<String>,
    /// The matched target root type id.
    pub target_root: Option<u32>,
    /// The matched target's raw access indices (anonymous members included).
    pub target_raw: Vec<u32>,
    /// The relocation kind.
    pub kind: CoreReloKind,
}

/// Resolves relocations against a [`TargetSet`], caching candidates per local type (and
/// logging each type's candidates once, as libbpf does per object).
pub struct Relocator<'t> {
    targets: &'t TargetSet,
    cache: HashMap<u32, Vec<Candidate>>,
    lines: Option<Vec<String>>,
}

impl<'t> Relocator<'t> {
    /// A relocator for one object.
    pub fn new(targets: &'t TargetSet) -> Relocator<'t> {
        Relocator {
            targets,
            cache: HashMap::new(),
            lines: None,
        }
    }

    /// Also keeps every log line (for `corebpf relocate` and tests); they always go to the
    /// `log` crate at debug level.
    pub fn record_log(mut self) -> Relocator<'t> {
        self.lines = Some(Vec::new());
        self
    }

    /// The log lines kept so far (with [`Relocator::record_log`]).
    pub fn take_log(&mut self) -> Vec<String> {
        self.lines.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Logs one line in libbpf's words.
    pub fn log(&mut self, line: String) {
        log::debug!("{line}");
        if let Some(lines) = &mut self.lines {
            lines.push(line);
        }
    }

    /// Whether log lines (and spec texts) are wanted at all: formatting them is most of a
    /// relocation's cost.
    pub fn logging(&self) -> bool {
        self.lines.is_some() || log::log_enabled!(log::Level::Debug)
    }

    /// The BTF a [`Candidate`] refers to.
    pub fn candidate_btf(&self, c: Candidate) -> Option<&'t Btf> {
        let n = self.targets.btfs.len();
        if c.btf < n {
            self.targets.btfs.get(c.btf).map(|b| &**b)
        } else {
            self.targets.modules().get(c.btf - n).map(|b| &**b)
        }
    }

    /// Candidates for local type `local_id` (libbpf's `bpf_core_find_cands`): same
    /// essential name, compatible kind, in id order; vmlinux (or the given files) first,
    /// modules only if those have none.
    fn candidates(&mut self, local: &Btf, local_id: u32) -> Result<Vec<Candidate>, ReloError> {
        if let Some(c) = self.cache.get(&local_id) {
            return Ok(c.clone());
        }
        let lt = local.type_by_id(local_id)?;
        let name = lt.name_bytes();
        if name.is_empty() {
            return Err(ReloError::AnonymousRoot(lt.with_id().to_string()));
        }
        let ess = &name[..essential_len(name)];
        let mut found = Vec::new();
        let mut lines = Vec::new();
        let logging = self.logging();
        let search = |btf: &Btf,
                      idx: usize,
                      found: &mut Vec<Candidate>,
                      lines: &mut Vec<String>| {
            let mut ids: Vec<u32> = btf
                .find_by_essential_name(ess)
                .filter(|&id| {
                    btf.type_by_id(id)
                        .is_ok_and(|t| matching::kinds_compat(lt, t))
                })
                .collect();
            ids.sort_unstable();
            for id in ids {
                if let Some(t) = btf.type_by_id(id).ok().filter(|_| logging) {
                    lines.push(format!(
                        "CO-RE relocating [{local_id}] {} {}: found target candidate [{id}] {} {} in [{}]",
                        lt.kind(),
                        lt.name(),
                        t.kind(),
                        t.name(),
                        btf.name()
                    ));
                }
                found.push(Candidate { btf: idx, id });
            }
        };
        for (i, btf) in self.targets.btfs.iter().enumerate() {
            search(btf, i, &mut found, &mut lines);
        }
        if found.is_empty() {
            let n = self.targets.btfs.len();
            for (i, btf) in self.targets.modules().iter().enumerate() {
                search(btf, n + i, &mut found, &mut lines);
            }
        }
        for l in lines {
            self.log(l);
        }
        self.cache.insert(local_id, found.clone());
        Ok(found)
    }

    /// Resolves relocation record `relo` (the `relo_idx`-th of its section) of the function
    /// `prog` whose BTF is `local` (libbpf's `bpf_core_resolve_relo` +
    /// `bpf_core_calc_relo_insn`).
    pub fn resolve(
        &mut self,
        local: &Btf,
        relo: &CoreRelo,
        relo_idx: usize,
        prog: &str,
    ) -> Result<Resolved, ReloFailure> {
        let site = Site { prog, relo_idx };
        let (kind, access) = read_record(local, relo).map_err(|e| site.fail(String::new(), e))?;
        // Candidates are searched (and logged) before the local spec, as libbpf does.
        let cands = self.search_candidates(local, relo.type_id, kind, &site)?;
        let local_spec = Spec::parse(local, relo.type_id, &access, kind)
            .map_err(|e| site.fail(String::new(), e))?;
        let local_text = self.log_local_spec(&site, &local_spec);
        if kind == CoreReloKind::TypeIdLocal {
            let v = local_spec.root_type_id as u64;
            let res = Resolution {
                orig_val: v,
                new_val: v,
                ..Resolution::default()
            };
            return Ok(Resolved::unmatched(res, local_text, kind));
        }
        match self.match_candidates(&site, &local_spec, relo.type_id, &cands)? {
            Some(best) => Ok(best.into_resolved(local_text, kind)),
            None => {
                self.log(format!("{site}: no matching targets found"));
                let res =
                    calc::calc_relo(&local_spec, None).map_err(|e| site.fail_at(&local_spec, e))?;
                Ok(Resolved::unmatched(res, local_text, kind))
            }
        }
    }

    /// The candidates of a relocation's root type (none for `type_id_local`, which never
    /// looks at the target), logging a failed search as libbpf does.
    fn search_candidates(
        &mut self,
        local: &Btf,
        type_id: u32,
        kind: CoreReloKind,
        site: &Site<'_>,
    ) -> Result<Vec<Candidate>, ReloFailure> {
        if kind == CoreReloKind::TypeIdLocal {
            return Ok(Vec::new());
        }
        self.candidates(local, type_id).map_err(|e| {
            let t = local.type_by_id(type_id).ok();
            let what = t.map_or(format!("[{type_id}]"), |t| {
                format!("[{}] {} {}", t.id(), t.kind(), t.name())
            });
            self.log(format!(
                "{site}: target candidate search failed for {what}: -22"
            ));
            site.fail(String::new(), e)
        })
    }

    /// Logs the local spec and returns its text (empty unless logging: formatting is most
    /// of a relocation's cost).
    fn log_local_spec(&mut self, site: &Site<'_>, spec: &Spec<'_>) -> String {
        if !self.logging() {
            return String::new();
        }
        let text = spec.to_string();
        self.log(format!("{site}: {text}"));
        text
    }

    /// Matches the local spec against every candidate, logging each, and returns the
    /// match all matching candidates agree on (`None` if none matched).
    fn match_candidates(
        &mut self,
        site: &Site<'_>,
        local_spec: &Spec<'_>,
        type_id: u32,
        cands: &[Candidate],
    ) -> Result<Option<Best>, ReloFailure> {
        let logging = self.logging();
        let mut best: Option<Best> = None;
        let mut kept = Vec::with_capacity(cands.len());
        for (i, c) in cands.iter().enumerate() {
            let Some(btf) = self.candidate_btf(*c) else {
                continue;
            };
            let (matched, cand) = matching::spec_match(local_spec, btf, c.id)
                .map_err(|e| site.fail_at(local_spec, e))?;
            let cand_text = if logging {
                cand.to_string()
            } else {
                String::new()
            };
            if logging {
                self.log(format!(
                    "{site}: {} candidate #{i} {cand_text}",
                    if matched { "matching" } else { "non-matching" }
                ));
            }
            if !matched {
                continue;
            }
            kept.push(*c);
            let res = calc::calc_relo(local_spec, Some(&cand))
                .map_err(|e| site.fail_at(local_spec, e))?;
            match &best {
                None => best = Some(Best::new(res, &cand, cand_text)),
                Some(b) => {
                    if let Err(e) = b.agrees(&res, cand.bit_offset) {
                        self.log(format!("{site}: {e}"));
                        return Err(site.fail_at(local_spec, e));
                    }
                }
            }
        }
        // Like libbpf, later relocations of this type only consider the candidates that
        // matched this one (when any did).
        if !kept.is_empty() && kept.len() != cands.len() {
            self.cache.insert(type_id, kept);
        }
        Ok(best)
    }
}

/// The relocation kind and access string of a record.
fn read_record(local: &Btf, relo: &CoreRelo) -> Result<(CoreReloKind, String), ReloError> {
    let kind = relo.kind().ok_or(ReloError::Unsupported(relo.kind))?;
    let access = local.str_at(relo.access_str_off)?.to_string();
    Ok((kind, access))
}

/// Which relocation is being resolved: prints as libbpf's log prefix
/// (`prog 'p': relo #3`) and builds its failures.
struct Site<'p> {
    prog: &'p str,
    relo_idx: usize,
}

impl Site<'_> {
    fn fail(&self, spec: String, source: ReloError) -> ReloFailure {
        ReloFailure {
            prog: self.prog.to_string(),
            relo_idx: self.relo_idx,
            spec,
            error: Box::new(source),
        }
    }

    /// A failure once the local spec is known (the error names it).
    fn fail_at(&self, local_spec: &Spec<'_>, source: ReloError) -> ReloFailure {
        self.fail(local_spec.to_string(), source)
    }
}

impl std::fmt::Display for Site<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "prog '{}': relo #{}", self.prog, self.relo_idx)
    }
}

/// The first matching candidate's outcome, which every later matching candidate must
/// agree with.
struct Best {
    res: Resolution,
    bit_offset: u32,
    text: String,
    btf: String,
    root: u32,
    raw: Vec<u32>,
}

impl Best {
    fn new(res: Resolution, cand: &Spec<'_>, text: String) -> Best {
        Best {
            res,
            bit_offset: cand.bit_offset,
            text,
            btf: cand.btf.name().to_string(),
            root: cand.root_type_id,
            raw: cand.raw.clone(),
        }
    }

    /// Whether another matching candidate (its outcome `res`, its field at `bit_offset`)
    /// agrees with this one (libbpf's ambiguity checks).
    fn agrees(&self, res: &Resolution, bit_offset: u32) -> Result<(), ReloError> {
        if bit_offset != self.bit_offset {
            return Err(ReloError::OffsetAmbiguity(bit_offset, self.bit_offset));
        }
        let b = &self.res;
        if res.poison != b.poison
            || (!res.poison && (res.orig_val != b.orig_val || res.new_val != b.new_val))
        {
            let word = |r: &Resolution| if r.poison { "failure" } else { "success" };
            return Err(ReloError::DecisionAmbiguity(
                format!("{} {}", word(res), res.new_val),
                format!("{} {}", word(b), b.new_val),
            ));
        }
        Ok(())
    }

    fn into_resolved(self, local_spec: String, kind: CoreReloKind) -> Resolved {
        Resolved {
            res: self.res,
            local_spec,
            target_spec: Some(self.text),
            target_btf: Some(self.btf),
            target_root: Some(self.root),
            target_raw: self.raw,
            kind,
        }
    }
}

impl Resolved {
    /// An outcome with no target match (`type_id_local`, or no candidate matched).
    fn unmatched(res: Resolution, local_spec: String, kind: CoreReloKind) -> Resolved {
        Resolved {
            res,
            local_spec,
            target_spec: None,
            target_btf: None,
            target_root: None,
            target_raw: Vec::new(),
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::build;
    use super::*;
    use crate::{BtfBuilder, MemberSpec, INT_SIGNED};

    /// Local BTF `struct s { int a; int b; }` and a relocation `kind` of `access` on it.
    fn local(access: &str, kind: CoreReloKind) -> (Btf, CoreRelo) {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let s = b.add_struct(
            "s",
            8,
            &[MemberSpec::new("a", int, 0), MemberSpec::new("b", int, 4)],
        );
        let relo = CoreRelo {
            insn_off: 0,
            type_id: s,
            access_str_off: b.add_string(access),
            kind: kind as u32,
        };
        (build(b), relo)
    }

    /// Target BTF named `vmlinux` holding `struct <name> { <ty> b; }` at each byte offset.
    fn targets(cands: &[(&str, u32, bool)]) -> TargetSet {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let long = b.add_int("long", 8, INT_SIGNED);
        for &(name, off, wide) in cands {
            let ty = if wide { long } else { int };
            b.add_struct(name, 16, &[MemberSpec::new("b", ty, off)]);
        }
        TargetSet::from_btfs(vec![Arc::new(build(b).with_name("vmlinux"))])
    }

    #[test]
    fn candidates_that_disagree_on_the_offset_fail_with_libbpf_lines() {
        let (btf, relo) = local("0:1", CoreReloKind::FieldByteOffset);
        let set = targets(&[("s___x", 4, false), ("s___y", 8, false)]);
        let mut r = Relocator::new(&set).record_log();
        let e = r.resolve(&btf, &relo, 0, "p").unwrap_err();
        assert_eq!(
            e.to_string(),
            "prog 'p': relo #0: <byte_off> [2] struct s.b (0:1 @ offset 4): field offset ambiguity: 64 != 32"
        );
        assert_eq!(
            r.take_log(),
            [
                "CO-RE relocating [2] struct s: found target candidate [3] struct s___x in [vmlinux]",
                "CO-RE relocating [2] struct s: found target candidate [4] struct s___y in [vmlinux]",
                "prog 'p': relo #0: <byte_off> [2] struct s.b (0:1 @ offset 4)",
                "prog 'p': relo #0: matching candidate #0 <byte_off> [3] struct s___x.b (0:0 @ offset 4)",
                "prog 'p': relo #0: matching candidate #1 <byte_off> [4] struct s___y.b (0:0 @ offset 8)",
                "prog 'p': relo #0: field offset ambiguity: 64 != 32",
            ]
        );
    }

    #[test]
    fn candidates_that_disagree_on_the_value_fail() {
        let (btf, relo) = local("0:1", CoreReloKind::FieldByteSize);
        let set = targets(&[("s___x", 4, false), ("s___y", 4, true)]);
        let mut r = Relocator::new(&set).record_log();
        let e = r.resolve(&btf, &relo, 3, "p").unwrap_err();
        assert_eq!(
            e.to_string(),
            "prog 'p': relo #3: <byte_sz> [2] struct s.b (0:1 @ offset 4): relocation decision ambiguity: success 8 != success 4"
        );
        assert_eq!(
            r.take_log().last().map(String::as_str),
            Some("prog 'p': relo #3: relocation decision ambiguity: success 8 != success 4")
        );
    }

    #[test]
    fn agreeing_candidates_resolve_and_later_relocations_keep_only_matching_ones() {
        let (btf, relo) = local("0:1", CoreReloKind::FieldByteOffset);
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        b.add_struct("s___x", 16, &[MemberSpec::new("b", int, 12)]);
        b.add_struct("s___z", 16, &[MemberSpec::new("c", int, 12)]);
        b.add_struct("s___y", 16, &[MemberSpec::new("b", int, 12)]);
        let set = TargetSet::from_btfs(vec![Arc::new(build(b).with_name("vmlinux"))]);
        let mut r = Relocator::new(&set).record_log();
        let got = r.resolve(&btf, &relo, 0, "p").unwrap();
        assert_eq!(
            (got.res.orig_val, got.res.new_val, got.res.poison),
            (4, 12, false)
        );
        assert_eq!(got.target_root, Some(2));
        assert_eq!(got.target_raw, [0, 0]);
        assert_eq!(got.target_btf.as_deref(), Some("vmlinux"));
        assert_eq!(
            got.target_spec.as_deref(),
            Some("<byte_off> [2] struct s___x.b (0:0 @ offset 12)")
        );
        assert_eq!(
            r.take_log()[5],
            "prog 'p': relo #0: non-matching candidate #1 <byte_off> [3] struct s___z (0 @ offset 0)"
        );
        r.resolve(&btf, &relo, 1, "p").unwrap();
        assert_eq!(
            r.take_log(),
            [
                "prog 'p': relo #1: <byte_off> [2] struct s.b (0:1 @ offset 4)",
                "prog 'p': relo #1: matching candidate #0 <byte_off> [2] struct s___x.b (0:0 @ offset 12)",
                "prog 'p': relo #1: matching candidate #1 <byte_off> [4] struct s___y.b (0:0 @ offset 12)",
            ]
        );
    }

    #[test]
    fn no_matching_target_poisons() {
        let (btf, relo) = local("0:1", CoreReloKind::FieldByteOffset);
        let set = targets(&[]);
        let mut r = Relocator::new(&set).record_log();
        let got = r.resolve(&btf, &relo, 0, "p").unwrap();
        assert!(got.res.poison);
        assert_eq!((got.target_spec, got.target_root), (None, None));
        assert_eq!(
            r.take_log(),
            [
                "prog 'p': relo #0: <byte_off> [2] struct s.b (0:1 @ offset 4)",
                "prog 'p': relo #0: no matching targets found",
            ]
        );
    }

    #[test]
    fn anonymous_root_fails_the_candidate_search() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let s = b.add_struct("", 4, &[MemberSpec::new("a", int, 0)]);
        let relo = CoreRelo {
            insn_off: 0,
            type_id: s,
            access_str_off: b.add_string("0:0"),
            kind: CoreReloKind::FieldByteOffset as u32,
        };
        let btf = build(b);
        let set = targets(&[]);
        let mut r = Relocator::new(&set).record_log();
        let e = r.resolve(&btf, &relo, 5, "p").unwrap_err();
        assert_eq!(
            e.to_string(),
            "prog 'p': relo #5: target candidate search failed for [2] struct <anon>: anonymous type"
        );
        assert_eq!(
            r.take_log(),
            // The log line names the type as libbpf does, by its (empty) name.
            ["prog 'p': relo #5: target candidate search failed for [2] struct : -22"]
        );
    }

    #[test]
    fn local_type_id_needs_no_target_and_unknown_kinds_fail() {
        let (btf, relo) = local("0", CoreReloKind::TypeIdLocal);
        let set = targets(&[("s", 4, false)]);
        let mut r = Relocator::new(&set).record_log();
        let got = r.resolve(&btf, &relo, 0, "p").unwrap();
        assert_eq!((got.res.orig_val, got.res.new_val), (2, 2));
        assert_eq!(
            r.take_log(),
            ["prog 'p': relo #0: <local_type_id> [2] struct s"]
        );
        let bad = CoreRelo { kind: 99, ..relo };
        let e = r.resolve(&btf, &bad, 1, "p").unwrap_err();
        assert_eq!(
            e.to_string(),
            "prog 'p': relo #1: unrecognized CO-RE relocation kind 99"
        );
    }
}
