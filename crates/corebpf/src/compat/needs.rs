//! Collecting what an object needs from a kernel, category by category, each with the
//! kernel's answer.

use corebpf_btf::relo::{Relocator, POISON_HELPER};
use corebpf_btf::Kind;
use corebpf_obj::core_relo::CoreError;
use corebpf_obj::struct_ops::kern::{kern_struct_ops, KernOpsTypes};
use corebpf_obj::{
    ExternKind, ExternValue, KsymKind, KsymOutcome, KsymTarget, MapKind, MapSpec, ObjectSpec,
    RelocKind, POISON_CALL_KFUNC_BASE,
};
use corebpf_sys::{AttachType, ProgType};

use super::facts::{KernelEnum, Support};
use super::{Category, Effect, Kernel, Need, Status};
use crate::verifier::{attach_type_since, map_type_since, prog_type_since};

/// Every need of `spec` on `kernel`, in category order, needs of one name merged.
pub(super) fn collect(spec: &ObjectSpec, kernel: &Kernel) -> Vec<Need> {
    let mut spec = spec.clone();
    let owners = function_owners(&spec);
    let mut out = Needs(Vec::new());
    program_errors(&spec, &mut out);
    externs(&mut spec, kernel, &owners, &mut out);
    core(&mut spec, kernel, &owners, &mut out);
    for (i, p) in spec.programs.iter().enumerate() {
        if p.error.is_none() {
            prog_type(kernel, i, p, &mut out);
            attach_type(kernel, i, p, &mut out);
            attach_target(kernel, i, p, &mut out);
        }
    }
    session_kfuncs(&spec, &mut out);
    map_types(&spec, kernel, &mut out);
    struct_ops(&spec, kernel, &mut out);
    helpers(&spec, kernel, &mut out);
    btf_kinds(&spec, kernel, &mut out);
    struct_ops_load_together(&spec, &mut out);
    out.0
}

/// A session program on a kernel without its session attach type loads, unless it calls
/// a session kfunc the kernel has: the verifier allows those only to session programs.
fn session_kfuncs(spec: &ObjectSpec, out: &mut Needs) {
    let mut add = Vec::new();
    for n in out.0.iter().filter(|n| {
        n.category == Category::AttachType
            && n.effect == Effect::Attach
            && n.name.ends_with("_SESSION")
            && matches!(n.status, Status::No(_))
    }) {
        for k in out.0.iter().filter(|k| {
            k.category == Category::Kfunc
                && k.name.starts_with("bpf_session_")
                && matches!(k.status, Status::Yes(_))
        }) {
            for &p in n.programs.iter().filter(|p| k.programs.contains(p)) {
                let name = format!("{} in {}", k.name, spec.programs[p].name);
                let why = format!(
                    "allowed only to {} programs, which the kernel lacks",
                    n.name
                );
                add.push((name, p, why));
            }
        }
    }
    for (name, p, why) in add {
        out.add(Category::Kfunc, name, &[p], Status::No(why), Effect::Load);
    }
}

/// The programs of a created struct_ops map load together (the loader loads every program
/// such a map uses): one that fails fails the object.
fn struct_ops_load_together(spec: &ObjectSpec, out: &mut Needs) {
    let together: Vec<usize> = spec
        .maps
        .iter()
        .filter(|m| m.kind == MapKind::StructOps && m.autocreate)
        .flat_map(|m| m.struct_ops_slots.iter().map(|s| s.program))
        .collect();
    for n in &mut out.0 {
        if n.effect == Effect::Load
            && matches!(n.status, Status::No(_))
            && n.programs.iter().any(|p| together.contains(p))
        {
            n.effect = Effect::Object;
        }
    }
}

/// The needs so far; [`Needs::add`] merges a need into one of the same name.
struct Needs(Vec<Need>);

impl Needs {
    fn add(
        &mut self,
        category: Category,
        name: String,
        programs: &[usize],
        status: Status,
        effect: Effect,
    ) {
        if let Some(n) = self
            .0
            .iter_mut()
            .find(|n| n.category == category && n.name == name)
        {
            for p in programs {
                if !n.programs.contains(p) {
                    n.programs.push(*p);
                }
            }
            return;
        }
        self.0.push(Need {
            category,
            name,
            programs: programs.to_vec(),
            status,
            effect,
        });
    }
}

/// For each function of the object, the programs whose linked code includes it.
fn function_owners(spec: &ObjectSpec) -> Vec<Vec<usize>> {
    let mut owners = vec![Vec::new(); spec.functions.len()];
    for (i, p) in spec.programs.iter().enumerate() {
        match spec.link_program_allow_undefined(i) {
            Ok(l) => {
                for pl in &l.layout {
                    if let Some(o) = owners.get_mut(pl.function) {
                        o.push(i);
                    }
                }
            }
            Err(_) => {
                if let Some(o) = owners.get_mut(p.function) {
                    o.push(i);
                }
            }
        }
    }
    owners
}

/// Programs corebpf cannot load anywhere (unknown SEC name) or cannot link.
fn program_errors(spec: &ObjectSpec, out: &mut Needs) {
    for (i, p) in spec.programs.iter().enumerate() {
        let error = match &p.error {
            Some(e) => Some(e.to_string()),
            None => spec.link_program(i).err().map(|e| e.to_string()),
        };
        if let Some(e) = error {
            let name = format!("'{}'", p.name);
            out.add(Category::Program, name, &[i], Status::No(e), Effect::Load);
        }
    }
}

/// `__ksym` externs resolved as the loader resolves them, and `__kconfig` values (which
/// only the kernel's config knows).
fn externs(spec: &mut ObjectSpec, kernel: &Kernel, owners: &[Vec<usize>], out: &mut Needs) {
    let mut users = vec![Vec::new(); spec.externs.len()];
    for (fi, f) in spec.functions.iter().enumerate() {
        for r in &f.relocs {
            if let RelocKind::Extern { ext } = r.kind {
                if let Some(u) = users.get_mut(ext) {
                    for p in &owners[fi] {
                        if !u.contains(p) {
                            u.push(*p);
                        }
                    }
                }
            }
        }
    }
    let modules = kernel.modules.clone();
    let target = KsymTarget::new(&kernel.vmlinux).with_modules(move || modules);
    let mut target = if kernel.running {
        target.with_running_kallsyms()
    } else {
        target
    };
    for r in spec.resolve_ksyms_all(&mut target) {
        let e = &spec.externs[r.ext];
        let category = match e.kind {
            ExternKind::Ksym(KsymKind::Func { .. }) => Category::Kfunc,
            _ => Category::Ksym,
        };
        let status = match r.outcome {
            KsymOutcome::Resolved(v) if category == Category::Ksym => {
                var_status(kernel, &e.name, &v)
            }
            KsymOutcome::Resolved(v) if !kernel.facts.kfunc_calls => Status::No(format!(
                "{}, but the kernel cannot call kfuncs (no struct bpf_kfunc_desc: Linux 5.13)",
                resolved_text(&v)
            )),
            KsymOutcome::Resolved(v) => Status::Yes(resolved_text(&v)),
            KsymOutcome::WeakMissing(why) => Status::Tolerated(format!("weak, missing: {why}")),
            KsymOutcome::Unknown => {
                Status::Unknown("a typeless symbol: only that kernel's kallsyms has it".into())
            }
            KsymOutcome::Failed(e) => Status::No(extern_reason(&e)),
        };
        out.add(
            category,
            e.name.clone(),
            &users[r.ext],
            status,
            Effect::Load,
        );
    }
    kconfig(spec, kernel, &users, out);
}

/// A resolved `__ksym` variable: the verifier also needs its address from the kernel's
/// kallsyms, which lists data symbols only with `CONFIG_KALLSYMS_ALL` (read for the
/// running kernel, unknown for a BTF file).
fn var_status(kernel: &Kernel, name: &str, v: &ExternValue) -> Status {
    let found = resolved_text(v);
    if !matches!(v, ExternValue::KsymBtf { .. }) {
        return Status::Yes(found);
    }
    if !kernel.running {
        return Status::Unknown(format!(
            "{found}; the kernel also needs its address in kallsyms (CONFIG_KALLSYMS_ALL)"
        ));
    }
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    if corebpf_obj::kallsyms_lookup(&kallsyms, name).is_some() {
        Status::Yes(found)
    } else {
        Status::No(format!(
            "{found}, but not in /proc/kallsyms, where the verifier looks up its address \
             (CONFIG_KALLSYMS_ALL off, or its module is not loaded)"
        ))
    }
}

fn resolved_text(v: &ExternValue) -> String {
    match v {
        ExternValue::KsymBtf {
            btf_id,
            module: None,
        } => format!("vmlinux [{btf_id}]"),
        ExternValue::KsymBtf {
            btf_id,
            module: Some(m),
        } => format!("module {} [{btf_id}]", m.name),
        ExternValue::KsymAddr(a) => format!("{a:#x}"),
        v => format!("{v:?}"),
    }
}

/// An extern error's reason without the `extern 'NAME': ` it starts with.
fn extern_reason(e: &corebpf_obj::ObjError) -> String {
    match e {
        corebpf_obj::ObjError::Extern { reason, .. } => reason.clone(),
        e => e.to_string(),
    }
}

/// `__kconfig` externs: `CONFIG_*` values come from the kernel's config, which its BTF does
/// not hold; `LINUX_*` values the loader computes.
fn kconfig(spec: &ObjectSpec, kernel: &Kernel, users: &[Vec<usize>], out: &mut Needs) {
    // The running kernel's config file, if any (other kernels': unknown).
    let config = kernel.running.then(corebpf_obj::KernelConfig::from_system);
    for (i, e) in spec.externs.iter().enumerate() {
        if !e.is_kconfig() {
            continue;
        }
        let value = match &config {
            Some(Ok(cfg)) => Some(Ok(cfg.options.get(&e.name))),
            Some(Err(err)) => Some(Err(err.to_string())),
            None => None,
        };
        let status = match value {
            _ if e.name.starts_with("LINUX_") => Status::Yes("computed by the loader".into()),
            Some(Ok(Some(v))) => Status::Yes(v.clone()),
            _ if e.weak => Status::Tolerated("weak: 0 if the kernel's config lacks it".into()),
            Some(Ok(None)) => Status::No("not in the kernel's config".into()),
            Some(Err(err)) => Status::No(format!("needs the kernel's config: {err}")),
            None => Status::Unknown("a kernel config value: that kernel's config decides".into()),
        };
        out.add(
            Category::Kconfig,
            e.name.clone(),
            &users[i],
            status,
            Effect::Load,
        );
    }
}

/// CO-RE relocations resolved exactly as the loader resolves them (all records, failures
/// included).
fn core(spec: &mut ObjectSpec, kernel: &Kernel, owners: &[Vec<usize>], out: &mut Needs) {
    let mut relocator = Relocator::new(&kernel.targets);
    let records = spec.relocate_core_all(&mut relocator, |_| true);
    for r in records {
        let fi = spec.functions.iter().position(|f| f.name == r.function);
        let programs = fi.map(|f| owners[f].clone()).unwrap_or_default();
        let (spec_text, status) = match r.result {
            Ok(o) if o.poisoned => (
                o.local_spec,
                Status::Unknown(
                    "no match: the instruction is poisoned, which the verifier accepts only on \
                     a dead branch (it decides)"
                        .into(),
                ),
            ),
            Ok(o) => (
                o.local_spec,
                Status::Yes(o.target_spec.unwrap_or_else(|| "no match".into())),
            ),
            Err(CoreError::Relocation { failure, .. }) => {
                (failure.spec.clone(), Status::No(failure.error.to_string()))
            }
            Err(e) => (String::new(), Status::No(e.to_string())),
        };
        let name = format!(
            "{} relo #{} insn #{} {}",
            r.section, r.relo_idx, r.insn_idx, spec_text
        );
        out.add(Category::Core, name, &programs, status, Effect::Load);
    }
}

/// Whether the kernel's enum has `kname`; `since` names the release for a missing one.
fn enum_status(e: &KernelEnum, what: &str, kname: &str, since: Option<&str>) -> Status {
    if !e.known() {
        return Status::Unknown(format!("the kernel's BTF has no enum {what}"));
    }
    match e.get(kname) {
        Some(v) => Status::Yes(format!("= {v}")),
        None => Status::No(match since {
            Some(s) => format!("not in the kernel's enum {what} (added in Linux {s})"),
            None => format!("not in the kernel's enum {what}"),
        }),
    }
}

/// `BPF_F_XDP_HAS_FRAGS` (`SEC("xdp.frags")`) came with `bpf_xdp_get_buff_len` (5.18).
fn xdp_frags(kernel: &Kernel, i: usize, out: &mut Needs) {
    let status = match enum_status(
        &kernel.facts.func_ids,
        "bpf_func_id",
        "BPF_FUNC_xdp_get_buff_len",
        Some("5.18"),
    ) {
        Status::No(_) => Status::No(
            "the kernel has no multi-buffer XDP (its bpf_xdp_get_buff_len came with it, 5.18)"
                .into(),
        ),
        s => s,
    };
    out.add(
        Category::ProgType,
        "BPF_F_XDP_HAS_FRAGS".into(),
        &[i],
        status,
        Effect::Load,
    );
}

fn prog_type(kernel: &Kernel, i: usize, p: &corebpf_obj::ProgramSpec, out: &mut Needs) {
    if p.xdp_frags {
        xdp_frags(kernel, i, out);
    }
    let t = p.prog_type;
    let status = enum_status(
        &kernel.facts.prog_types,
        "bpf_prog_type",
        t.kernel_name(),
        Some(prog_type_since(t)),
    );
    out.add(
        Category::ProgType,
        t.kernel_name().into(),
        &[i],
        status,
        Effect::Load,
    );
}

/// The expected attach type. A kprobe program's is not checked at load by kernels that
/// lack it: a multi-probe program then falls back to one probe per target (the loader
/// drops the type), a session program loads and cannot attach.
fn attach_type(kernel: &Kernel, i: usize, p: &corebpf_obj::ProgramSpec, out: &mut Needs) {
    let Some(at) = p.expected_attach_type else {
        return;
    };
    let mut status = enum_status(
        &kernel.facts.attach_types,
        "bpf_attach_type",
        at.kernel_name(),
        attach_type_since(at),
    );
    let mut effect = if checked_at_load(p.prog_type) {
        Effect::Load
    } else {
        Effect::Attach
    };
    if p.prog_type == ProgType::Kprobe && matches!(status, Status::No(_)) {
        let multi = at == AttachType::TraceKprobeMulti
            || (at == AttachType::TraceUprobeMulti && !p.sleepable);
        if multi {
            status = Status::Tolerated(format!(
                "{}: loaded as a plain kprobe, attached one probe per target",
                status.detail()
            ));
            effect = Effect::None;
        }
    }
    out.add(
        Category::AttachType,
        at.kernel_name().into(),
        &[i],
        status,
        effect,
    );
}

/// Whether `BPF_PROG_LOAD` refuses an expected attach type it does not know for programs
/// of type `t` (the kernel's `bpf_prog_load_check_attach` and, for tracing, LSM and
/// struct_ops, the verifier's attach checks); other types keep it for attaching only.
fn checked_at_load(t: ProgType) -> bool {
    matches!(
        t,
        ProgType::CgroupSock
            | ProgType::CgroupSockAddr
            | ProgType::CgroupSkb
            | ProgType::CgroupSockopt
            | ProgType::SkLookup
            | ProgType::SkReuseport
            | ProgType::Tracing
            | ProgType::Lsm
            | ProgType::StructOps
            | ProgType::Ext
            | ProgType::Syscall
            | ProgType::Netfilter
    )
}

/// Map types of the maps the loader creates (and their inner maps).
fn map_types(spec: &ObjectSpec, kernel: &Kernel, out: &mut Needs) {
    for m in spec.maps.iter().filter(|m| m.autocreate) {
        let inner = m.inner.as_deref();
        for (t, whose) in std::iter::once((m.map_type, m)).chain(inner.map(|i| (i.map_type, i))) {
            let status = enum_status(
                &kernel.facts.map_types,
                "bpf_map_type",
                t.kernel_name(),
                Some(map_type_since(t)),
            );
            let status = match status {
                Status::No(r) => Status::No(format!("map '{}': {r}", whose.name)),
                s => s,
            };
            out.add(
                Category::MapType,
                t.kernel_name().into(),
                &[],
                status,
                Effect::Object,
            );
        }
    }
}

/// Helpers called by each linked program (poisoned CO-RE and weak kfunc calls left out:
/// the verifier accepts them on dead branches).
fn helpers(spec: &ObjectSpec, kernel: &Kernel, out: &mut Needs) {
    let ids = &kernel.facts.func_ids;
    for (i, p) in spec.programs.iter().enumerate() {
        if p.error.is_some() {
            continue;
        }
        let Ok(linked) = spec.link_program_allow_undefined(i) else {
            continue;
        };
        let mut seen = Vec::new();
        for insn in linked.insns.iter().filter(|x| x.is_helper_call()) {
            let id = insn.imm;
            if id == POISON_HELPER || id >= POISON_CALL_KFUNC_BASE || seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let name = corebpf_obj::helpers::helper_name(id).unwrap_or_else(|| format!("#{id}"));
            let mut status = helper_status(ids, id);
            if matches!(status, Status::No(_)) && cookie_guarded(spec, &linked, &name) {
                status = Status::Tolerated(format!(
                    "{}; the program reads LINUX_HAS_BPF_COOKIE, 0 here, which guards the \
                     call (usdt.bpf.h): the verifier drops it as dead code",
                    status.detail()
                ));
            }
            out.add(Category::Helper, name, &[i], status, Effect::Load);
        }
    }
}

/// Whether `helper` is `bpf_get_attach_cookie` in a program that reads the
/// `LINUX_HAS_BPF_COOKIE` kconfig extern, which the loader sets from that very helper's
/// presence (libbpf's rule, followed by `usdt.bpf.h`'s guard).
fn cookie_guarded(spec: &ObjectSpec, linked: &corebpf_obj::LinkedProgram, helper: &str) -> bool {
    // `__kconfig` externs are read from the `.kconfig` map.
    helper == "bpf_get_attach_cookie"
        && spec
            .externs
            .iter()
            .any(|e| e.name == "LINUX_HAS_BPF_COOKIE")
        && linked.map_relocs.iter().any(|r| {
            spec.maps
                .get(r.map)
                .is_some_and(|m| m.kind == MapKind::Kconfig)
        })
}

fn helper_status(ids: &KernelEnum, id: i32) -> Status {
    if !ids.known() {
        return Status::Unknown("the kernel's BTF has no enum bpf_func_id".into());
    }
    let value = u64::try_from(id).unwrap_or(u64::MAX);
    match (
        ids.name_of("BPF_FUNC_", value),
        ids.get("__BPF_FUNC_MAX_ID"),
    ) {
        (Some(n), _) => Status::Yes(n.to_string()),
        (None, Some(max)) => Status::No(format!(
            "helper #{id} is not in the kernel's enum bpf_func_id (its helpers end at #{})",
            max.saturating_sub(1)
        )),
        (None, None) => Status::No(format!("helper #{id} is not in enum bpf_func_id")),
    }
}

/// What a program attaches to, looked up as the loader (tracing, LSM, iterators: load
/// fails without it) or the attach call (tracepoints, raw tracepoints, kprobes) does.
fn attach_target(kernel: &Kernel, i: usize, p: &corebpf_obj::ProgramSpec, out: &mut Needs) {
    let Some(target) = p.attach_target.as_deref() else {
        return;
    };
    let (name, status, effect) = match (p.prog_type, p.expected_attach_type) {
        (ProgType::Tracing | ProgType::Lsm, Some(at)) => {
            if at == AttachType::ModifyReturn {
                let status = Status::Unknown(
                    "fmod_ret needs the function on the kernel's error-injection list or \
                     fmodret set, which BTF does not hold"
                        .into(),
                );
                let name = format!("modifiable {target}");
                out.add(Category::AttachTarget, name, &[i], status, Effect::Load);
            }
            btf_target(kernel, at, target)
        }
        (ProgType::Tracepoint, _) => tracepoint(kernel, target),
        (ProgType::RawTracepoint | ProgType::RawTracepointWritable, _) => {
            let name = format!("btf_trace_{target}");
            let status = match kernel.vmlinux.find_by_name_kind(&name, Kind::Typedef) {
                Some(id) => Status::Yes(format!("typedef {name} [{id}]")),
                None => Status::Unknown(format!(
                    "no typedef {name}: the tracepoint may be in a module or lack BTF"
                )),
            };
            (format!("raw_tp {target}"), status, Effect::Attach)
        }
        (ProgType::Kprobe, None) => kprobe(kernel, target),
        _ => return,
    };
    out.add(Category::AttachTarget, name, &[i], status, effect);
}

/// A tracing/LSM/iter target as the loader's `attach_btf_id` finds it: vmlinux (unless
/// `MODULE:` names another), then the modules.
fn btf_target(kernel: &Kernel, at: AttachType, target: &str) -> (String, Status, Effect) {
    let (module, func) = match target.split_once(':') {
        Some((m, f)) => (Some(m), f),
        None => (None, target),
    };
    let (name, kind) = match at {
        AttachType::TraceRawTp => (format!("btf_trace_{func}"), Kind::Typedef),
        AttachType::LsmMac | AttachType::LsmCgroup => (format!("bpf_lsm_{func}"), Kind::Func),
        AttachType::TraceIter => (format!("bpf_iter_{func}"), Kind::Func),
        _ => (func.to_string(), Kind::Func),
    };
    let label = format!("{} {target}", at.name());
    if module.is_none_or(|m| "vmlinux".starts_with(m)) {
        if let Some(id) = kernel.vmlinux.find_by_name_kind(&name, kind) {
            return (
                label,
                Status::Yes(format!("{kind} {name} [{id}]")),
                Effect::Load,
            );
        }
    }
    let found = kernel
        .modules
        .iter()
        .filter(|m| module.is_none_or(|want| m.name.starts_with(want)))
        .find_map(|m| Some((m, m.btf.find_by_name_kind(&name, kind)?)));
    let status = match found {
        Some((m, id)) => Status::Yes(format!("{kind} {name} [{id}] in module {}", m.name)),
        None if module.is_some_and(|m| !"vmlinux".starts_with(m)) && !kernel.running => {
            Status::Unknown(format!("{kind} {name} is in module BTF, not in this file"))
        }
        None => Status::No(format!("no {kind} '{name}' in the kernel's BTF")),
    };
    (label, status, Effect::Load)
}

/// A tracepoint `CATEGORY/NAME`: every trace event has a `btf_trace_<name>` typedef
/// (5.5+), many a `trace_event_raw_<name>` struct; syscall events have neither.
fn tracepoint(kernel: &Kernel, target: &str) -> (String, Status, Effect) {
    let label = format!("tracepoint {target}");
    let event = target.rsplit('/').next().unwrap_or(target);
    let btf = &kernel.vmlinux;
    let typedef = format!("btf_trace_{event}");
    let raw = format!("trace_event_raw_{event}");
    let status = if let Some(id) = btf.find_by_name_kind(&typedef, Kind::Typedef) {
        Status::Yes(format!("typedef {typedef} [{id}]"))
    } else if let Some(id) = btf.find_by_name_kind(&raw, Kind::Struct) {
        Status::Yes(format!("struct {raw} [{id}]"))
    } else {
        Status::Unknown(format!(
            "neither typedef {typedef} nor struct {raw} in the kernel's BTF (syscall \
             events and module tracepoints have none; tracefs decides)"
        ))
    };
    (label, status, Effect::Attach)
}

/// A kprobe's function: BTF lists most kernel functions but not all (kallsyms decides).
fn kprobe(kernel: &Kernel, target: &str) -> (String, Status, Effect) {
    let func = target.split(['+', ' ']).next().unwrap_or(target);
    let status = match kernel.vmlinux.find_by_name_kind(func, Kind::Func) {
        Some(id) => Status::Yes(format!("func {func} [{id}]")),
        None => Status::Unknown(format!(
            "no func '{func}' in the kernel's BTF (kallsyms decides: inlined, renamed and \
             module functions are not in vmlinux BTF)"
        )),
    };
    (format!("kprobe {target}"), status, Effect::Attach)
}

/// struct_ops maps the loader creates: the kernel's `struct bpf_struct_ops_<name>` (in
/// vmlinux, then modules) and the value laid out for it (a non-zero member the kernel
/// lacks fails).
fn struct_ops(spec: &ObjectSpec, kernel: &Kernel, out: &mut Needs) {
    let Some(btf) = spec.btf.as_deref() else {
        return;
    };
    for m in spec
        .maps
        .iter()
        .filter(|m| m.kind == MapKind::StructOps && m.autocreate)
    {
        let type_name = btf
            .type_by_id(m.struct_ops_type_id.unwrap_or(0))
            .map(|t| t.name().to_string())
            .unwrap_or_default();
        let status = struct_ops_status(spec, btf, m, &type_name, kernel);
        let name = format!("{type_name} (map '{}')", m.name);
        out.add(Category::StructOps, name, &[], status, Effect::Object);
        if m.map_flags & corebpf_sys::consts::BPF_F_LINK != 0 {
            // `.struct_ops.link` maps (BPF_F_LINK) came with struct_ops links and their
            // attach type BPF_STRUCT_OPS (6.4; the link type itself is older).
            let at = AttachType::StructOps;
            let status = enum_status(
                &kernel.facts.attach_types,
                "bpf_attach_type",
                at.kernel_name(),
                attach_type_since(at),
            );
            let name = format!("struct_ops link (map '{}')", m.name);
            out.add(Category::StructOps, name, &[], status, Effect::Object);
        }
    }
    struct_ops_programs(spec, out);
}

/// The loader's rule for struct_ops programs: one no map uses is an error, one only maps
/// not created by default (`SEC("?.struct_ops")`) use is not loaded.
fn struct_ops_programs(spec: &ObjectSpec, out: &mut Needs) {
    for (i, p) in spec.programs.iter().enumerate() {
        if p.prog_type != ProgType::StructOps || p.error.is_some() {
            continue;
        }
        let users: Vec<&MapSpec> = spec
            .maps
            .iter()
            .filter(|m| m.struct_ops_slots.iter().any(|s| s.program == i))
            .collect();
        let status = if users.is_empty() {
            Status::No("no struct_ops map uses it (the loader refuses it)".into())
        } else if users.iter().all(|m| !m.autocreate) {
            Status::Tolerated("not loaded: only maps not created by default use it".into())
        } else {
            continue;
        };
        let name = format!("program '{}'", p.name);
        out.add(Category::StructOps, name, &[i], status, Effect::Load);
    }
}

fn struct_ops_status(
    spec: &ObjectSpec,
    btf: &corebpf_btf::Btf,
    m: &MapSpec,
    type_name: &str,
    kernel: &Kernel,
) -> Status {
    let btfs = std::iter::once((&kernel.vmlinux, "vmlinux"))
        .chain(kernel.modules.iter().map(|m| (&m.btf, m.name.as_str())));
    for (kbtf, where_) in btfs {
        match KernOpsTypes::find(kbtf, type_name) {
            Ok(None) => continue,
            Err(e) => return Status::No(e),
            Ok(Some(types)) => {
                return match kern_struct_ops(m, btf, &spec.programs, kbtf, &types, &kernel.label) {
                    Ok(k) if k.dropped.is_empty() => Status::Yes(format!(
                        "struct {type_name} [{}] in {where_}",
                        types.type_id
                    )),
                    Ok(k) => Status::Tolerated(format!(
                        "the kernel lacks members whose programs are then not loaded: {}",
                        k.dropped
                            .iter()
                            .map(|p| spec.programs[*p].name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    Err(e) => Status::No(e.to_string()),
                };
            }
        }
    }
    Status::No(format!(
        "no struct bpf_struct_ops_{} in the kernel's BTF",
        corebpf_obj::struct_ops::kern::essential_name(type_name)
    ))
}

/// BTF kinds (and features) of the object's BTF and whether the kernel's parser takes
/// them; the loader rewrites the ones it does not, so none breaks loading.
fn btf_kinds(spec: &ObjectSpec, kernel: &Kernel, out: &mut Needs) {
    let Some(btf) = spec.btf.as_deref() else {
        return;
    };
    let facts = &kernel.facts;
    let mut used: Vec<(&str, Support)> = Vec::new();
    let mut note = |name: &'static str, s: Support| {
        if !used.iter().any(|(n, _)| *n == name) {
            used.push((name, s));
        }
    };
    for t in btf.types() {
        match t.kind() {
            Kind::Func if t.linkage() == Some(corebpf_btf::Linkage::Global) => {
                note("FUNC (global)", facts.func_global)
            }
            Kind::Var | Kind::Datasec => note("VAR/DATASEC", facts.kind(Kind::Datasec as u32)),
            Kind::Float => note("FLOAT", facts.kind(Kind::Float as u32)),
            Kind::DeclTag => note("DECL_TAG", facts.kind(Kind::DeclTag as u32)),
            Kind::TypeTag => note("TYPE_TAG", facts.kind(Kind::TypeTag as u32)),
            Kind::Enum64 => note("ENUM64", facts.kind(Kind::Enum64 as u32)),
            Kind::Enum if t.kflag() => note("ENUM (signed)", facts.kind(Kind::Enum64 as u32)),
            _ => {}
        }
        if t.kind() == Kind::Datasec && t.name().starts_with('?') {
            note("DATASEC '?' name", Support::Unknown);
        }
    }
    if btf.layout().is_some() {
        note("layout section", facts.layout);
    }
    for (name, s) in used {
        let status = match s {
            Support::Yes => Status::Yes(String::new()),
            Support::No => Status::Tolerated("the kernel lacks it: the loader rewrites it".into()),
            Support::Unknown => Status::Unknown(
                "the kernel's BTF does not tell (the loader probes and rewrites it if needed)"
                    .into(),
            ),
        };
        out.add(Category::BtfKind, name.into(), &[], status, Effect::None);
    }
}
