//! "Will this object load on kernel X?" from that kernel's BTF alone (`corebpf compat`):
//! everything an object needs from a kernel, and whether the kernel has it.
//!
//! What is checked, each against the kernel's vmlinux BTF (and its modules' BTF for the
//! running kernel):
//! - CO-RE relocations, exactly as the loader resolves them;
//! - program types, expected attach types and map types: enumerators of the kernel's
//!   `enum bpf_prog_type`, `bpf_attach_type`, `bpf_map_type`;
//! - helpers (calls with `src_reg` 0): enumerators of `enum bpf_func_id`;
//! - `__ksym` kfuncs and variables, as the loader resolves them (typeless symbols need the
//!   kernel's kallsyms: unknown for a BTF file);
//! - attach targets: fentry/fexit/fmod_ret/lsm/iter functions and `tp_btf`/raw tracepoint
//!   typedefs as the loader looks them up, tracepoints (`btf_trace_<name>` or
//!   `trace_event_raw_<name>`), struct_ops types (`struct bpf_struct_ops_<name>`) and
//!   their members;
//! - BTF kinds of the object's BTF the kernel's parser lacks (the loader rewrites them).
//!
//! What BTF cannot tell is "unknown", never a guess: kernel config values (`__kconfig`,
//! whether a program type's implementation was built), whether a helper or kfunc is
//! allowed for a program type (the verifier's per-type tables), kallsyms addresses, the
//! verifier's verdict itself.

mod facts;
mod needs;

use std::sync::Arc;

use corebpf_btf::relo::TargetSet;
use corebpf_btf::Btf;
use corebpf_obj::{ModuleBtf, ObjectSpec};

use facts::KernelFacts;

/// A kernel to check against: its vmlinux BTF, and for the running kernel its modules'
/// BTF and kallsyms.
pub struct Kernel {
    label: String,
    vmlinux: Arc<Btf>,
    modules: Vec<ModuleBtf>,
    running: bool,
    targets: Arc<TargetSet>,
    facts: KernelFacts,
}

impl Kernel {
    /// A kernel known by its BTF (e.g. a file of another kernel), named `label` in reports:
    /// no modules, no kallsyms.
    pub fn from_btf(label: impl Into<String>, vmlinux: Arc<Btf>) -> Kernel {
        Kernel {
            label: label.into(),
            targets: Arc::new(TargetSet::from_btfs(vec![vmlinux.clone()])),
            facts: KernelFacts::new(&vmlinux),
            vmlinux,
            modules: Vec::new(),
            running: false,
        }
    }

    /// The running kernel (`vmlinux`): `/sys/kernel/btf/vmlinux`, its loaded modules' BTF
    /// and `/proc/kallsyms`.
    pub fn running() -> crate::Result<Kernel> {
        let targets = crate::kernel::kernel_targets()?;
        let vmlinux = crate::kernel::kernel_btf()?;
        Ok(Kernel {
            label: "vmlinux".into(),
            facts: KernelFacts::new(&vmlinux),
            modules: crate::kernel::kernel_module_btfs(&vmlinux),
            vmlinux,
            running: true,
            targets,
        })
    }

    /// Its name in reports.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its vmlinux BTF.
    pub fn vmlinux(&self) -> &Arc<Btf> {
        &self.vmlinux
    }
}

/// What an object needs from a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// The program itself: a SEC name corebpf cannot load, a reference nothing defines.
    Program,
    /// A CO-RE relocation.
    Core,
    /// A program type.
    ProgType,
    /// An expected attach type.
    AttachType,
    /// A map type.
    MapType,
    /// A helper function.
    Helper,
    /// A `__ksym` kernel function.
    Kfunc,
    /// A `__ksym` kernel variable or symbol.
    Ksym,
    /// A `__kconfig` value.
    Kconfig,
    /// What a program attaches to: a function, tracepoint or type.
    AttachTarget,
    /// A struct_ops type and its members.
    StructOps,
    /// A BTF kind (or BTF feature) of the object's BTF.
    BtfKind,
}

impl Category {
    /// Short name (`helper`, `map_type`).
    pub fn name(self) -> &'static str {
        match self {
            Category::Program => "program",
            Category::Core => "core",
            Category::ProgType => "prog_type",
            Category::AttachType => "attach_type",
            Category::MapType => "map_type",
            Category::Helper => "helper",
            Category::Kfunc => "kfunc",
            Category::Ksym => "ksym",
            Category::Kconfig => "kconfig",
            Category::AttachTarget => "attach_target",
            Category::StructOps => "struct_ops",
            Category::BtfKind => "btf_kind",
        }
    }
}

/// Whether the kernel has what is needed, with the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// It has it (what was found, e.g. a BTF id; may be empty).
    Yes(String),
    /// It lacks it: why.
    No(String),
    /// It lacks it, and that is tolerated: a `__weak` extern, a poisoned CO-RE
    /// instruction, a fallback, a BTF kind the loader rewrites. What happens instead.
    Tolerated(String),
    /// The kernel's BTF cannot tell: why.
    Unknown(String),
}

impl Status {
    /// `yes`, `no`, `tolerated`, `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Yes(_) => "yes",
            Status::No(_) => "no",
            Status::Tolerated(_) => "tolerated",
            Status::Unknown(_) => "unknown",
        }
    }

    /// The detail or reason.
    pub fn detail(&self) -> &str {
        match self {
            Status::Yes(s) | Status::No(s) | Status::Tolerated(s) | Status::Unknown(s) => s,
        }
    }
}

/// What a missing need breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The whole object (a map the loader cannot create): nothing loads.
    Object,
    /// Loading the programs that need it.
    Load,
    /// Attaching the programs that need it (they load).
    Attach,
    /// Nothing (information).
    None,
}

/// One thing an object needs from a kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// What kind of thing.
    pub category: Category,
    /// Which one (`bpf_ringbuf_output`, `BPF_MAP_TYPE_ARENA`, `fentry do_unlinkat`).
    pub name: String,
    /// The programs needing it (indices into the object's programs); empty: the object.
    pub programs: Vec<usize>,
    /// Whether this kernel has it.
    pub status: Status,
    /// What its absence breaks.
    pub effect: Effect,
}

/// Whether one program loads on a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgVerdict {
    /// It loads (as far as BTF tells: see [`ProgramReport::unknown`]) and can attach.
    Loads,
    /// It loads but cannot attach.
    AttachFails,
    /// It does not load.
    Fails,
}

/// One program's verdict on one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramReport {
    /// Program name.
    pub name: String,
    /// Its SEC name.
    pub section: String,
    /// The verdict.
    pub verdict: ProgVerdict,
    /// Why it fails to load or attach (`<category> <name>: <reason>`), empty if it loads.
    pub reasons: Vec<String>,
    /// What BTF could not decide for it.
    pub unknown: Vec<String>,
}

/// An object's verdict on one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every program loads.
    Loads,
    /// The object loads with these programs' autoload turned off; they fail.
    LoadsWithFailing(Vec<String>),
    /// Nothing loads: the object needs something the kernel lacks (see the reasons).
    DoesNotLoad(Vec<String>),
}

impl Verdict {
    /// `loads`, `loads_with_failing`, `does_not_load`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Loads => "loads",
            Verdict::LoadsWithFailing(_) => "loads_with_failing",
            Verdict::DoesNotLoad(_) => "does_not_load",
        }
    }
}

/// Everything an object needs from one kernel, and the verdicts.
#[derive(Debug, Clone)]
pub struct Report {
    /// The object's name.
    pub object: String,
    /// The kernel's label.
    pub kernel: String,
    /// Every need, in category order (program, CO-RE, types, helpers, externs, targets,
    /// BTF kinds).
    pub needs: Vec<Need>,
    /// Per program, in the object's order.
    pub programs: Vec<ProgramReport>,
    /// The object's verdict.
    pub verdict: Verdict,
}

impl Report {
    /// The needs this kernel lacks and that break something.
    pub fn failing(&self) -> impl Iterator<Item = &Need> {
        self.needs
            .iter()
            .filter(|n| matches!(n.status, Status::No(_)) && n.effect != Effect::None)
    }

    /// Program `name`'s report.
    pub fn program(&self, name: &str) -> Option<&ProgramReport> {
        self.programs.iter().find(|p| p.name == name)
    }
}

/// Checks what `spec` needs against `kernel`: every need, each program's verdict, the
/// object's verdict. Pure: reads BTF only (and, for [`Kernel::running`], kallsyms).
pub fn check(spec: &ObjectSpec, kernel: &Kernel) -> Report {
    let needs = needs::collect(spec, kernel);
    let programs = program_reports(spec, &needs);
    let verdict = object_verdict(&needs, &programs);
    Report {
        object: spec.name.clone(),
        kernel: kernel.label.clone(),
        needs,
        programs,
        verdict,
    }
}

/// `<category> <name>: <detail>`.
fn reason(n: &Need) -> String {
    format!("{} {}: {}", n.category.name(), n.name, n.status.detail())
}

/// Each program's verdict from the needs that name it or the whole object.
fn program_reports(spec: &ObjectSpec, needs: &[Need]) -> Vec<ProgramReport> {
    spec.programs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut r = ProgramReport {
                name: p.name.clone(),
                section: p.section.clone(),
                verdict: ProgVerdict::Loads,
                reasons: Vec::new(),
                unknown: Vec::new(),
            };
            let mut attach = Vec::new();
            for n in needs {
                let object = n.effect == Effect::Object;
                if !object && !n.programs.contains(&i) {
                    continue;
                }
                match (&n.status, n.effect) {
                    (Status::No(_), Effect::Object | Effect::Load) => r.reasons.push(reason(n)),
                    (Status::No(_), Effect::Attach) => attach.push(reason(n)),
                    (Status::Unknown(_), _) => r.unknown.push(reason(n)),
                    _ => {}
                }
            }
            if !r.reasons.is_empty() {
                r.verdict = ProgVerdict::Fails;
            } else if !attach.is_empty() {
                r.verdict = ProgVerdict::AttachFails;
                r.reasons = attach;
            }
            r
        })
        .collect()
}

/// Does not load when an object-wide need is missing (or no program loads), loads with
/// failing programs when some fail.
fn object_verdict(needs: &[Need], programs: &[ProgramReport]) -> Verdict {
    let object: Vec<String> = needs
        .iter()
        .filter(|n| n.effect == Effect::Object && matches!(n.status, Status::No(_)))
        .map(reason)
        .collect();
    if !object.is_empty() {
        return Verdict::DoesNotLoad(object);
    }
    let failing: Vec<String> = programs
        .iter()
        .filter(|p| p.verdict == ProgVerdict::Fails)
        .map(|p| p.name.clone())
        .collect();
    if failing.is_empty() {
        Verdict::Loads
    } else if failing.len() == programs.len() {
        Verdict::DoesNotLoad(vec!["no program loads".into()])
    } else {
        Verdict::LoadsWithFailing(failing)
    }
}
