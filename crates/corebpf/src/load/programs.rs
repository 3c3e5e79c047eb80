//! Program loading, in three steps so that verification can run on several threads with
//! results, errors and logs exactly as with one:
//! 1. [`prepare`], in program order on the calling thread: each program linked, its map
//!    fds, module BTF fds and attach target filled in, its func/line info encoded. Every log
//!    line of linking is written here, in order; the first program that cannot be prepared
//!    ends the step (no later program is prepared or loaded).
//! 2. [`verify`]: `BPF_PROG_LOAD` of the prepared programs on a bounded pool of threads
//!    (the verifier runs in the calling thread of the syscall, so N threads verify N
//!    programs at once; helpers start once loading has taken a millisecond, and an object
//!    of short loop-free programs, which verify in microseconds, never starts a thread).
//!    Threads take the programs that may verify slowly first, longest first, so that no
//!    long verification starts last while the other threads sit idle. Nothing is logged
//!    here. Once a program fails, no program after it in program order starts loading;
//!    every program before it still loads (whether one of them fails decides what is
//!    reported).
//! 3. [`report`], in program order: the first failure (a load error explained, or the
//!    preparation error) is returned; otherwise each program is logged as loaded. Fds of
//!    programs loaded after the failure are closed on drop, as are those before it.
//!
//! No program's load depends on another's here: prog-array slots and struct_ops values
//! take program fds after every load, and freplace targets are programs outside the object.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use corebpf_btf::Kind;
use corebpf_obj::core_relo::CoreOutcome;
use corebpf_obj::insn::{class, jmp, pseudo};
use corebpf_obj::{Insn, LinkedProgram, MapRelocKind, ObjectSpec};
use corebpf_sys::consts::{BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS};
use corebpf_sys::{
    probe_feature_with, probe_prog_type_with, prog_load, AttachType, Feature, ProgLoadAttr,
    ProgType, SysError, Token,
};
use nix::errno::Errno;

use crate::error::{Error, Result, VerifierError};
use crate::kernel::LoadModules;
use crate::map::Map;
use crate::object::OpenObject;
use crate::program::Program;
use crate::struct_ops::Plan as StructOpsPlan;
use crate::verifier;

/// What every program's load reads: the object, its created maps, its BTF, the CO-RE
/// outcomes (to explain a verifier error), module BTF fds and the struct_ops plan.
pub(super) struct LoadContext<'a> {
    pub open: &'a OpenObject,
    pub maps: &'a [Option<Map>],
    pub btf_fd: Option<&'a OwnedFd>,
    pub core: &'a [CoreOutcome],
    pub modules: &'a LoadModules,
    pub struct_ops: &'a StructOpsPlan,
}

/// The loaded programs, with where each object program landed and the time spent.
pub(super) struct LoadedPrograms {
    pub programs: Vec<Program>,
    /// Object program index → index in `programs`.
    pub index_of: HashMap<usize, usize>,
    /// Time inside `BPF_PROG_LOAD`, summed over programs (with several threads, more than
    /// the wall time of the loads).
    pub kernel: Duration,
    /// Wall time of step 2, while programs were being loaded.
    pub verify_wall: Duration,
}

/// Loads every autoloaded program of the object, verifying up to `threads` at once
/// (`None`: one per core).
pub(super) fn load_programs(
    ctx: &LoadContext<'_>,
    threads: Option<usize>,
) -> Result<LoadedPrograms> {
    let license = CString::new(ctx.open.spec.license.as_str())
        .map_err(|_| Error::InvalidInput("license contains a NUL byte".into()))?;
    let (prepared, unprepared) = prepare_all(ctx);
    let started = Instant::now();
    let verified = verify(ctx, &license, &prepared, threads);
    let verify_wall = started.elapsed();
    let mut loaded = report(ctx, prepared, verified, unprepared)?;
    loaded.verify_wall = verify_wall;
    Ok(loaded)
}

/// One program ready for `BPF_PROG_LOAD`: everything its attr borrows, owned.
struct Prepared {
    /// Index in the object's programs.
    idx: usize,
    /// Kept to explain a verifier error (line info, CO-RE, callbacks).
    linked: LinkedProgram,
    insns: Vec<u8>,
    func_info: Vec<u8>,
    line_info: Vec<u8>,
    /// Object BTF and func/line info go to the kernel together, or not at all.
    with_info: bool,
    attach_btf_id: u32,
    attach_btf_obj: Option<OwnedFd>,
}

/// Prepares the autoloaded programs in program order, stopping at the first that cannot
/// be prepared (returned second).
fn prepare_all(ctx: &LoadContext<'_>) -> (Vec<Prepared>, Option<Error>) {
    let mut prepared = Vec::new();
    for idx in 0..ctx.open.spec.programs.len() {
        if !ctx.open.autoload[idx] {
            continue;
        }
        match prepare(ctx, idx) {
            Ok(p) => prepared.push(p),
            Err(e) => return (prepared, Some(e)),
        }
    }
    (prepared, None)
}

fn prepare(ctx: &LoadContext<'_>, idx: usize) -> Result<Prepared> {
    let spec = &ctx.open.spec;
    let p = &spec.programs[idx];
    if let Some(e) = &p.error {
        return Err(Error::ProgramSpec {
            prog: p.name.clone(),
            reason: e.to_string(),
        });
    }
    let linked = link_for_load(spec, idx, ctx.maps, ctx.modules)?;
    let insns: Vec<u8> = linked.insns.iter().flat_map(|i| i.to_bytes()).collect();
    let (attach_btf_id, attach_btf_obj) = attach_btf_id(
        &p.name,
        p.prog_type,
        p.expected_attach_type,
        p.attach_target.as_deref(),
        ctx.modules,
    )?;
    // func/line info only make sense with the object's BTF loaded and BTF funcs supported.
    let token = ctx.open.token.as_deref();
    let with_info = ctx.btf_fd.is_some() && probe_feature_with(Feature::BtfFunc, token);
    let (func_info, line_info) = if with_info {
        encode_func_line_info(&linked)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Prepared {
        idx,
        linked,
        insns,
        func_info,
        line_info,
        with_info,
        attach_btf_id,
        attach_btf_obj,
    })
}

impl Prepared {
    /// The `BPF_PROG_LOAD` attr of this program.
    fn attr<'a>(&'a self, ctx: &'a LoadContext<'a>, license: &'a CStr) -> ProgLoadAttr<'a> {
        let spec = &ctx.open.spec;
        let p = &spec.programs[self.idx];
        // A struct_ops program attaches to its member of the kernel's ops struct.
        let ops_target = ctx.struct_ops.prog_target(self.idx);
        ProgLoadAttr {
            prog_type: p.prog_type,
            insns: &self.insns,
            license,
            name: &p.name,
            kern_version: kern_version(spec),
            prog_flags: prog_flags(p),
            expected_attach_type: crate::attach::multi::load_attach_type(p),
            prog_btf_fd: ctx.btf_fd.filter(|_| self.with_info).map(|f| f.as_fd()),
            func_info: &self.func_info,
            func_info_rec_size: if self.func_info.is_empty() { 0 } else { 8 },
            line_info: &self.line_info,
            line_info_rec_size: if self.line_info.is_empty() { 0 } else { 16 },
            attach_btf_id: ops_target.map_or(self.attach_btf_id, |(t, _)| t.attach_btf_id),
            attach_btf_obj_fd: match ops_target {
                Some((_, module)) => module,
                None => self.attach_btf_obj.as_ref().map(|f| f.as_fd()),
            },
            expected_attach_raw: ops_target.map_or(0, |(t, _)| t.member_index),
            fd_array: ctx.modules.fd_array(),
            log_level: ctx.open.opts.log_level,
            token: ctx.open.token.as_deref().map(|t| t.as_fd()),
            ..Default::default()
        }
    }
}

/// What `BPF_PROG_LOAD` answered for one program, and how long it took.
type Verified = (std::result::Result<OwnedFd, SysError>, Duration);

/// Helper threads start only once loading has taken this long: an object whose programs
/// verify in microseconds (most) is loaded without paying for threads.
const HELPERS_AFTER: Duration = Duration::from_millis(1);

/// Loads the prepared programs on up to `threads` threads (the calling one included;
/// `None`: one per core). `None` for a program not attempted because an earlier one failed.
fn verify(
    ctx: &LoadContext<'_>,
    license: &CStr,
    prepared: &[Prepared],
    threads: Option<usize>,
) -> Vec<Option<Verified>> {
    let results: Vec<OnceLock<Verified>> = prepared.iter().map(|_| OnceLock::new()).collect();
    let insns = || prepared.iter().map(|p| p.linked.insns.as_slice());
    let serial = prepared.len() < 2 || threads == Some(1) || !insns().any(may_verify_slowly);
    let order: Vec<usize> = if serial {
        (0..prepared.len()).collect()
    } else {
        slowest_first(insns())
    };
    let next = AtomicUsize::new(0);
    let first_failure = AtomicUsize::new(usize::MAX);
    // Loads the next program in `order` not taken yet; false when there is none left.
    let load_next = || loop {
        let Some(&k) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return false;
        };
        // Every program before the first failure (in program order) is loaded, whatever
        // the order they are taken in: whether one of them fails too decides what is
        // reported. A program after it is not (the first failure only moves earlier, so
        // one skipped here is after the final one too).
        if k > first_failure.load(Ordering::Acquire) {
            continue;
        }
        let start = Instant::now();
        let result = prog_load(&prepared[k].attr(ctx, license), None);
        if result.is_err() {
            first_failure.fetch_min(k, Ordering::AcqRel);
        }
        let _ = results[k].set((result, start.elapsed()));
        return true;
    };
    if serial {
        while load_next() {}
    } else {
        load_with_helpers(&load_next, threads, prepared.len());
    }
    results.into_iter().map(OnceLock::into_inner).collect()
}

/// The order in which several threads take the programs: those that may verify slowly
/// first, then longest first; equal ones in program order. Taking the longest
/// verifications first keeps one from starting last while the other threads run out of
/// work (the longest-processing-time-first rule, with length and loops standing for the
/// verifier's time, which nothing tells in advance).
fn slowest_first<'a>(programs: impl Iterator<Item = &'a [Insn]>) -> Vec<usize> {
    let mut cost: Vec<(bool, usize, usize)> = programs
        .enumerate()
        .map(|(k, insns)| (may_verify_slowly(insns), insns.len(), k))
        .collect();
    // Stable: equal keys keep program order.
    cost.sort_by_key(|&(slow, len, _)| std::cmp::Reverse((slow, len)));
    cost.into_iter().map(|(_, _, k)| k).collect()
}

/// Programs shorter than this, without a backward jump, verify in well under
/// [`HELPERS_AFTER`]: an object of only such programs is loaded without the starter thread
/// of [`load_with_helpers`] (spawning it costs more than verifying them).
const QUICK_INSNS: usize = 1024;

/// Whether the verifier may spend long on these instructions: a loop (a backward jump,
/// `gotol` included) or a long body. A wrong guess only costs speed: quick-looking programs
/// are verified on the calling thread, one after another.
fn may_verify_slowly(insns: &[Insn]) -> bool {
    insns.len() >= QUICK_INSNS
        || insns.iter().any(|i| {
            let gotol = i.class() == class::JMP32 && i.op() == jmp::JA;
            i.is_jump() && if gotol { i.imm < 0 } else { i.off < 0 }
        })
}

/// Runs `load_next` on the calling thread until it returns false, with helper threads
/// (`threads` in all, the caller included, at most one per program; `None`: one per core)
/// once loading has taken [`HELPERS_AFTER`].
///
/// The caller may be inside the kernel's verifier for most of a second on its first
/// program, so the helpers are started by a starter thread spawned up front, which sleeps
/// [`HELPERS_AFTER`] (woken early when the caller runs out of programs), then spawns the
/// others and loads too. An object whose programs verify in microseconds pays one thread
/// spawn; the cores this process may use are counted (cgroup quota files, slower than
/// loading a small object) on the starter, and only when it is needed.
fn load_with_helpers(
    load_next: &(dyn Fn() -> bool + Sync),
    threads: Option<usize>,
    programs: usize,
) {
    let finished = AtomicBool::new(false);
    std::thread::scope(|s| {
        let starter = s.spawn(|| {
            let deadline = Instant::now() + HELPERS_AFTER;
            while !finished.load(Ordering::Acquire) {
                let now = Instant::now();
                if now >= deadline {
                    let threads = threads.unwrap_or_else(|| {
                        std::thread::available_parallelism().map_or(1, |n| n.get())
                    });
                    if threads < 2 {
                        return;
                    }
                    for _ in 2..threads.min(programs) {
                        s.spawn(|| while load_next() {});
                    }
                    while load_next() {}
                    return;
                }
                std::thread::park_timeout(deadline - now);
            }
        });
        while load_next() {}
        finished.store(true, Ordering::Release);
        starter.thread().unpark();
    });
}

/// The outcome in program order: the first failure, or every program loaded.
fn report(
    ctx: &LoadContext<'_>,
    prepared: Vec<Prepared>,
    verified: Vec<Option<Verified>>,
    unprepared: Option<Error>,
) -> Result<LoadedPrograms> {
    let spec = &ctx.open.spec;
    let mut loaded = LoadedPrograms {
        programs: Vec::with_capacity(prepared.len()),
        index_of: HashMap::new(),
        kernel: Duration::ZERO,
        verify_wall: Duration::ZERO,
    };
    for (p, v) in prepared.into_iter().zip(verified) {
        let Some((result, load_time)) = v else {
            unreachable!("a program before the first failure was not attempted")
        };
        let token = ctx.open.token.as_deref();
        let fd = result.map_err(|e| load_error(spec, &p.linked, ctx.core, e, token))?;
        let ps = &spec.programs[p.idx];
        log::debug!(
            "prog '{}': loaded ({} insns, {load_time:?})",
            ps.name,
            p.linked.insns.len(),
        );
        loaded.kernel += load_time;
        loaded.index_of.insert(p.idx, loaded.programs.len());
        loaded.programs.push(Program {
            name: ps.name.clone(),
            section: ps.section.clone(),
            prog_type: ps.prog_type,
            expected_attach_type: ps.expected_attach_type,
            attach_target: ps.attach_target.clone(),
            fd,
            insn_cnt: p.linked.insns.len(),
            load_time,
            usdt: None,
        });
    }
    match unprepared {
        Some(e) => Err(e),
        None => Ok(loaded),
    }
}

/// Program `idx` linked, with the fds of its maps and module ksyms in place.
fn link_for_load(
    spec: &ObjectSpec,
    idx: usize,
    maps: &[Option<Map>],
    modules: &LoadModules,
) -> Result<LinkedProgram> {
    let mut linked = spec.link_program(idx)?;
    fill_map_fds(spec, &mut linked, maps)?;
    modules.fill_ksym_fds(spec, &mut linked);
    Ok(linked)
}

/// The BTF id of a tracing/LSM/iter program's attach target, and for a target in a kernel
/// module an fd of the module's BTF object (`attach_btf_obj_fd`), as libbpf's
/// `find_kernel_btf_id`: vmlinux first, then the modules; `MODULE:NAME` (e.g.
/// `fentry/veth:veth_xmit`) looks only in modules whose name starts with `MODULE`
/// (libbpf compares the prefix), `vmlinux:NAME` in vmlinux first.
fn attach_btf_id(
    prog: &str,
    prog_type: ProgType,
    attach: Option<AttachType>,
    target: Option<&str>,
    modules: &LoadModules,
) -> Result<(u32, Option<OwnedFd>)> {
    let needs = matches!(prog_type, ProgType::Tracing | ProgType::Lsm);
    let Some(attach) = attach.filter(|_| needs) else {
        return Ok((0, None));
    };
    let target = target.ok_or_else(|| Error::ProgramSpec {
        prog: prog.into(),
        reason: "tracing program without an attach target in its section name".into(),
    })?;
    let (module, func) = match target.split_once(':') {
        Some((m, f)) => (Some(m), f),
        None => (None, target),
    };
    let (name, kind) = match attach {
        AttachType::TraceRawTp => (format!("btf_trace_{func}"), Kind::Typedef),
        AttachType::LsmMac | AttachType::LsmCgroup => (format!("bpf_lsm_{func}"), Kind::Func),
        AttachType::TraceIter => (format!("bpf_iter_{func}"), Kind::Func),
        _ => (func.to_string(), Kind::Func),
    };
    let err = |reason: String| Error::ProgramSpec {
        prog: prog.into(),
        reason,
    };
    if module.is_none_or(|m| "vmlinux".starts_with(m)) {
        let vmlinux = crate::kernel::kernel_btf()?;
        if let Some(id) = vmlinux.find_by_name_kind(&name, kind) {
            return Ok((id, None));
        }
    }
    let list = modules.list();
    let searched: Vec<_> = list
        .iter()
        .filter(|m| module.is_none_or(|want| m.name.starts_with(want)))
        .collect();
    if let Some((m, id)) = searched
        .iter()
        .find_map(|m| Some((m, m.btf.find_by_name_kind(&name, kind)?)))
    {
        let fd = crate::kernel::open_module_btf(&m.name, m.btf_obj_id)
            .map_err(|e| err(format!("attach target '{target}': {e}")))?;
        log::debug!(
            "prog '{prog}': attach target '{target}' is [{id}] in module '{}'",
            m.name
        );
        return Ok((id, Some(fd)));
    }
    Err(err(match module {
        Some(m) if searched.is_empty() && !"vmlinux".starts_with(m) => format!(
            "attach target '{target}' not found in the kernel's BTF: no loaded module \
             '{m}' has BTF (is the module loaded?)"
        ),
        _ => format!(
            "attach target '{target}' not found in the kernel's BTF (looked for {kind} \
             '{name}' in vmlinux and {} module BTFs)",
            searched.len()
        ),
    }))
}

fn encode_records<T>(recs: &[T], f: impl Fn(&T) -> Vec<u32>) -> Vec<u8> {
    recs.iter().flat_map(f).flat_map(u32::to_ne_bytes).collect()
}

/// Fills map fds and value offsets into a linked program's `LD_IMM64`s.
fn fill_map_fds(spec: &ObjectSpec, linked: &mut LinkedProgram, maps: &[Option<Map>]) -> Result<()> {
    use std::os::fd::AsRawFd;
    for r in &linked.map_relocs {
        let map = maps
            .get(r.map)
            .and_then(|m| m.as_ref())
            .ok_or_else(|| Error::ProgramSpec {
                prog: spec.programs[linked.program].name.clone(),
                reason: format!(
                    "references map '{}', which was not created (autocreate off)",
                    spec.maps.get(r.map).map_or("?", |m| m.name.as_str())
                ),
            })?;
        let fd = map.as_fd().as_raw_fd();
        let (first, second) = (r.insn_idx, r.insn_idx + 1);
        if second >= linked.insns.len() {
            return Err(Error::InvalidInput(format!(
                "map reference at insn #{first} is truncated"
            )));
        }
        linked.insns[first].imm = fd;
        match r.kind {
            MapRelocKind::Fd => linked.insns[first].src = pseudo::MAP_FD,
            MapRelocKind::Value { offset } => {
                linked.insns[first].src = pseudo::MAP_VALUE;
                // `__arena` globals are placed in the arena by the loader (libbpf adds
                // `arena_data_off` the same way; the kernel reads the offset as a u32).
                let offset = offset.wrapping_add(map.arena_globals_offset() as u32);
                linked.insns[second].imm = offset as i32;
            }
        }
    }
    Ok(())
}

/// A linked program's func_info (8-byte records) and line_info (16-byte records), as
/// `BPF_PROG_LOAD` takes them.
fn encode_func_line_info(linked: &LinkedProgram) -> (Vec<u8>, Vec<u8>) {
    let func_info = encode_records(&linked.func_info, |f| vec![f.insn_off, f.type_id]);
    let line_info = encode_records(&linked.line_info, |l| {
        vec![l.insn_off, l.file_name_off, l.line_off, l.line_col]
    });
    (func_info, line_info)
}

/// `prog_flags` from the SEC name: sleepable (`.s`) and XDP frags.
fn prog_flags(p: &corebpf_obj::ProgramSpec) -> u32 {
    let mut flags = 0;
    if p.sleepable {
        flags |= BPF_F_SLEEPABLE;
    }
    if p.xdp_frags {
        flags |= BPF_F_XDP_HAS_FRAGS;
    }
    flags
}

/// The object's `version` section, or else the running kernel's version (which old
/// kernels check for kprobes), or 0.
fn kern_version(spec: &ObjectSpec) -> u32 {
    spec.kern_version
        .unwrap_or_else(|| crate::kernel::kernel_version().unwrap_or(0))
}

/// A failed `BPF_PROG_LOAD` of `linked`: an unsupported program type when the kernel
/// does not know it, otherwise the verifier's error explained.
fn load_error(
    spec: &ObjectSpec,
    linked: &LinkedProgram,
    core: &[CoreOutcome],
    e: SysError,
    token: Option<&Token>,
) -> Error {
    let p = &spec.programs[linked.program];
    // The kernel answers EINVAL without a log for a program type it does not know.
    let unknown_type = e.raw_errno() == Some(libc::EINVAL) && e.log().is_none();
    if unknown_type && !probe_prog_type_with(p.prog_type, token) {
        return Error::Program {
            prog: p.name.clone(),
            error: SysError::Unsupported {
                what: p.prog_type.kernel_name(),
                reason: format!(
                    "this kernel does not support program type {} (Linux {}), needed by SEC(\"{}\")",
                    p.prog_type.name(),
                    verifier::prog_type_since(p.prog_type),
                    p.section
                ),
            },
        };
    }
    if let Some(e) = attach_type_unsupported(p, &e) {
        return e;
    }
    verifier_error(spec, linked, core, e)
}

/// A failed load of a program whose expected attach type is newer than the running kernel
/// (`fsession` before 7.0): the kernel says only EINVAL, often with an empty or misleading
/// verifier verdict, so name the attach type and the release that added it.
fn attach_type_unsupported(p: &corebpf_obj::ProgramSpec, e: &SysError) -> Option<Error> {
    let at = p.expected_attach_type?;
    let since = verifier::attach_type_since(at).filter(|v| verifier::kernel_older_than(v))?;
    let said = match (e.log().map(verifier::message), e.raw_errno()) {
        (Some(m), _) if !m.is_empty() => m,
        (_, Some(errno)) => format!("{:?} with no verifier verdict", Errno::from_raw(errno)),
        _ => e.to_string(),
    };
    Some(Error::Program {
        prog: p.name.clone(),
        error: SysError::Unsupported {
            what: at.kernel_name(),
            reason: format!(
                "this kernel ({}) does not support attach type {} (Linux {since}), needed by SEC(\"{}\") (the kernel said: {said})",
                crate::kernel::release(),
                at.name(),
                p.section
            ),
        },
    })
}

/// A failed `BPF_PROG_LOAD` explained: the verifier's message, instruction, source line,
/// and what CO-RE did there.
fn verifier_error(
    spec: &ObjectSpec,
    linked: &LinkedProgram,
    core: &[CoreOutcome],
    e: SysError,
) -> Error {
    let prog = spec.programs[linked.program].name.clone();
    let Some(log) = e.log().map(str::to_string) else {
        return Error::Program { prog, error: e };
    };
    let mut message = verifier::message(&log);
    let prog_type = spec.programs[linked.program].prog_type;
    if let Some(why) = verifier::explain_helper(&message, prog_type)
        .or_else(|| verifier::explain_callback(linked, &message))
    {
        message = format!("{message}: {why}");
    }
    let insn = verifier::failing_insn(&log);
    let source_line = match (insn, &spec.btf) {
        (Some(i), Some(btf)) => verifier::source_line(btf, &linked.line_info, i),
        _ => None,
    };
    let core = insn.and_then(|i| verifier::explain_poison(spec, linked, core, i, &message));
    Error::Verifier(Box::new(VerifierError {
        prog,
        object: spec.name.clone(),
        message,
        insn,
        source_line,
        core,
        log,
        source: e,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXIT: Insn = Insn::new(class::JMP | jmp::EXIT, 0, 0, 0, 0);
    const MOV0: Insn = Insn::new(class::ALU64 | corebpf_obj::insn::alu::MOV, 0, 0, 0, 0);

    #[test]
    fn threads_take_the_slowest_looking_programs_first() {
        let back = Insn::new(class::JMP | jmp::JNE, 1, 0, -2, 0);
        let quick = vec![MOV0, EXIT];
        let longer_quick = vec![MOV0, MOV0, MOV0, EXIT];
        let short_loop = vec![MOV0, MOV0, back, EXIT];
        let long_loop = vec![MOV0, MOV0, MOV0, MOV0, back, EXIT];
        let programs = [
            &quick,
            &short_loop,
            &longer_quick,
            &long_loop,
            &short_loop,
            &quick,
        ];
        let order = slowest_first(programs.iter().map(|p| p.as_slice()));
        assert_eq!(order, [3, 1, 4, 2, 0, 5]);
    }

    #[test]
    fn loops_and_long_bodies_may_verify_slowly() {
        let forward = Insn::new(class::JMP | jmp::JEQ, 1, 0, 1, 0);
        assert!(!may_verify_slowly(&[MOV0, forward, MOV0, EXIT]));
        let back = Insn::new(class::JMP | jmp::JNE, 1, 0, -2, 0);
        assert!(may_verify_slowly(&[MOV0, MOV0, back, EXIT]));
        let back32 = Insn::new(class::JMP32 | jmp::JLT, 1, 0, -2, 7);
        assert!(may_verify_slowly(&[MOV0, MOV0, back32, EXIT]));
        // gotol: JMP32 | JA takes its offset in imm; its off field means nothing.
        let gotol_back = Insn::new(class::JMP32 | jmp::JA, 0, 0, 0, -2);
        assert!(may_verify_slowly(&[MOV0, MOV0, gotol_back, EXIT]));
        let gotol_fwd = Insn::new(class::JMP32 | jmp::JA, 0, 0, -5, 1);
        assert!(!may_verify_slowly(&[MOV0, gotol_fwd, MOV0, EXIT]));
        // A call's imm and off are not jump offsets.
        let call = Insn::new(class::JMP | jmp::CALL, 0, 1, -1, -3);
        assert!(!may_verify_slowly(&[MOV0, call, EXIT]));
        let mut long = vec![MOV0; QUICK_INSNS - 1];
        long.push(EXIT);
        assert!(may_verify_slowly(&long));
        long.pop();
        assert!(!may_verify_slowly(&long));
    }
}
