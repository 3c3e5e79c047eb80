//! The load sequence, in libbpf's order: externs, CO-RE, object BTF (sanitized for the
//! running kernel), maps (pinned ones reused, global data written and `.rodata` frozen),
//! programs (linked, map fds filled in, func/line info, attach BTF ids; verified on several
//! threads, see [`programs`]), then the initial slots of prog arrays and maps of maps.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corebpf_btf::relo::{Relocator, TargetSet};
use corebpf_btf::Btf;
use corebpf_obj::core_relo::CoreOutcome;
use corebpf_obj::{
    ExternKind, KsymKind, KsymTarget, MapKind, MapSpec, ObjectSpec, Pinning, SlotTarget,
};
use corebpf_sys::{
    btf_load_token, map_create, map_freeze, map_update_elem, obj_get, probe_map_type_with,
    MapCreateAttr, MapFd, MapType, SysError, Token,
};

use crate::error::{Error, Result};
use crate::kernel::LoadModules;
use crate::map::arena::ArenaGlobals;
use crate::map::Map;
use crate::object::{LoadStats, Object, OpenObject};
use crate::pin::CreatedPins;
use crate::program::Program;
use crate::sanitize::{sanitize, BtfSupport};
use crate::struct_ops::Plan as StructOpsPlan;
use crate::verifier;

mod programs;

pub(crate) fn load(mut open: OpenObject) -> Result<Object> {
    let started = Instant::now();
    let mut kernel = Duration::ZERO;
    open.token = crate::token::prepare(open.opts.token_path.as_deref(), &open.spec.name)?;
    let token = open.token.clone();
    let token = token.as_deref();
    prepare_process_and_arenas(&open)?;
    let targets = Targets::new(open.opts.btf_file.clone());
    let mut modules = LoadModules::new();
    let struct_ops = StructOpsPlan::new(&mut open, &modules)?;
    resolve_externs(&mut open, &targets, &modules)?;
    modules.open_extern_modules(&open.spec)?;
    let (core, core_log) = relocate_core(&mut open, &targets)?;
    check_undefined(&open)?;
    let spec = &open.spec;
    let btf_fd = load_object_btf(spec, token, &mut kernel);
    // Maps this load pins by name are unpinned again if it fails (dropped before `keep`).
    let mut pins = CreatedPins::default();
    let mut maps = create_maps(
        spec,
        btf_fd.as_ref(),
        (&open.opts.pin_root, &mut pins),
        &open.autocreate,
        &struct_ops,
        token,
        &mut kernel,
    )?;
    let ctx = programs::LoadContext {
        open: &open,
        maps: &maps,
        btf_fd: btf_fd.as_ref(),
        core: &core,
        modules: &modules,
        struct_ops: &struct_ops,
    };
    let programs::LoadedPrograms {
        mut programs,
        index_of,
        kernel: programs_kernel,
        verify_wall,
    } = programs::load_programs(&ctx, open.opts.load_threads)?;
    let loaded = |i: usize| index_of.get(&i).map(|&k| &programs[k]);
    timed(&mut kernel, || init_slots(spec, &maps, loaded))?;
    prepare_struct_ops(spec, &struct_ops, &mut maps, loaded)?;
    let maps: Vec<_> = spec
        .maps
        .iter()
        .zip(maps)
        .filter_map(|(s, m)| m.map(|m| (s.name.clone(), s.section.clone(), m)))
        .collect();
    crate::attach::usdt::install(&maps, &mut programs)?;
    pins.keep();
    Ok(Object {
        name: spec.name.clone(),
        maps,
        programs,
        _btf_fd: btf_fd,
        core,
        core_log,
        globals: crate::object::globals_of(spec),
        load_stats: LoadStats {
            // Overlapping program loads are summed in `kernel`; the wall time they took
            // is not userspace time.
            userspace: started
                .elapsed()
                .saturating_sub(kernel)
                .saturating_sub(verify_wall),
            kernel: kernel + programs_kernel,
        },
    })
}

/// The CO-RE targets (the running kernel's BTF, or the file given with
/// [`crate::ObjectBuilder::btf_file`]), read on first need: an object with no CO-RE
/// relocations and no `__ksym` externs never reads `/sys/kernel/btf/vmlinux` (libbpf reads
/// it only when needed too).
struct Targets {
    btf_file: Option<std::path::PathBuf>,
    set: std::sync::OnceLock<Arc<TargetSet>>,
}

impl Targets {
    fn new(btf_file: Option<std::path::PathBuf>) -> Targets {
        Targets {
            btf_file,
            set: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&Arc<TargetSet>> {
        if let Some(t) = self.set.get() {
            return Ok(t);
        }
        let t = match &self.btf_file {
            Some(path) => Arc::new(TargetSet::from_btfs(vec![Arc::new(Btf::from_file(path)?)])),
            None => crate::kernel::kernel_targets()?,
        };
        Ok(self.set.get_or_init(|| t))
    }
}

/// Raises RLIMIT_MEMLOCK where it can, and checks that arenas fit their globals.
fn prepare_process_and_arenas(open: &OpenObject) -> Result<()> {
    // Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. A process that may not raise
    // it (no CAP_SYS_RESOURCE) goes on: the bpf(2) command that fails then says why. With a
    // token (6.9+) there is nothing to raise, as libbpf knows.
    let raised = match open.token {
        Some(_) => Ok(false),
        None => corebpf_sys::bump_memlock_rlimit(),
    };
    if let Err(e) = raised {
        log::debug!("could not raise RLIMIT_MEMLOCK: {e}");
    }
    // libbpf refuses an arena too small for its globals when it opens the object, before
    // any kernel lookup; the pure object crate cannot (it does not know the page size).
    for m in open.spec.maps.iter().filter(|m| m.is_arena()) {
        crate::map::arena::check_fits(m)?;
    }
    Ok(())
}

/// Runs `f`, adding its wall time to `total` (the time spent in the object's own bpf(2)
/// commands, for [`LoadStats`]).
fn timed<T>(total: &mut Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let r = f();
    *total += start.elapsed();
    r
}

/// `__kconfig` values (libbpf's `LINUX_*` from the running kernel, `CONFIG_*` from its config
/// file), `__ksym` ids and addresses from the running kernel.
fn resolve_externs(open: &mut OpenObject, targets: &Targets, modules: &LoadModules) -> Result<()> {
    relax_unused_externs(open);
    if open.spec.externs.iter().any(|e| e.is_kconfig()) {
        let cfg = open.kernel_config()?;
        open.spec.resolve_kconfig(&cfg)?;
    }
    if open.spec.externs.iter().any(|e| !e.is_kconfig()) {
        resolve_ksym_externs(open, targets, modules)?;
    }
    Ok(())
}

/// `__ksym` externs as libbpf resolves them: typed variables and kfuncs in the running
/// kernel's BTF (vmlinux, then its modules; a CO-RE target file given with
/// [`crate::ObjectBuilder::btf_file`] does not count, the kernel checks the ids), typeless
/// symbols in `/proc/kallsyms` (or the text given with `ObjectBuilder::kallsyms`).
fn resolve_ksym_externs(
    open: &mut OpenObject,
    targets: &Targets,
    modules: &LoadModules,
) -> Result<()> {
    let typed = open.spec.externs.iter().any(|e| {
        matches!(
            e.kind,
            ExternKind::Ksym(KsymKind::Var { .. } | KsymKind::Func { .. })
        )
    });
    // Typed ksyms resolve in the running kernel's BTF whatever the CO-RE target is: the
    // target set is read only when untyped ones alone could use it.
    let target_btf = if typed {
        None
    } else {
        targets.get()?.primary().cloned()
    };
    let vmlinux = match target_btf {
        Some(t) => t,
        None => crate::kernel::kernel_btf()?,
    };
    let target = KsymTarget::new(&vmlinux).with_modules(|| modules.list().to_vec());
    let mut target = match &open.opts.kallsyms {
        Some(text) => target.with_kallsyms(text),
        None => target.with_running_kallsyms(),
    };
    open.spec.resolve_ksyms_in(&mut target)?;
    Ok(())
}

/// Externs that no function of the programs being loaded refers to (subprograms count as
/// used) become `__weak`: a kernel lacking them then fails only the programs that need them
/// ("one failing program never hides another"), where libbpf fails the whole object.
fn relax_unused_externs(open: &mut OpenObject) {
    let mut used = vec![false; open.spec.externs.len()];
    for f in &open.spec.functions {
        if f.program.is_some_and(|p| !open.autoload[p]) {
            continue;
        }
        for r in &f.relocs {
            if let corebpf_obj::RelocKind::Extern { ext } = r.kind {
                if let Some(u) = used.get_mut(ext) {
                    *u = true;
                }
            }
        }
    }
    for (e, used) in open.spec.externs.iter_mut().zip(used) {
        if !used && !e.weak {
            log::debug!(
                "extern '{}': used by no program being loaded, treated as weak",
                e.name
            );
            e.weak = true;
        }
    }
}

/// A program being loaded that reaches a symbol nothing defines fails before any map is
/// created (libbpf links before creating maps too), as that program's error naming the
/// symbol. Programs not being loaded may use such symbols.
fn check_undefined(open: &OpenObject) -> Result<()> {
    for (i, p) in open.spec.programs.iter().enumerate() {
        if !open.autoload[i] || p.error.is_some() {
            continue;
        }
        // Other link errors are reported where the program is linked for loading.
        if let Err(e @ corebpf_obj::ObjError::Undefined { .. }) = open.spec.link_program(i) {
            let text = e.to_string();
            let prefix = format!("prog '{}': ", p.name);
            return Err(Error::ProgramSpec {
                prog: p.name.clone(),
                reason: text.strip_prefix(&prefix).unwrap_or(&text).to_string(),
            });
        }
    }
    Ok(())
}

/// CO-RE relocation of every function of the programs that will load.
fn relocate_core(
    open: &mut OpenObject,
    targets: &Targets,
) -> Result<(Vec<CoreOutcome>, Vec<String>)> {
    let has_relos = open
        .spec
        .btf_ext
        .as_ref()
        .is_some_and(|e| e.core_relo.iter().any(|s| !s.records.is_empty()));
    if !has_relos {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut relocator = Relocator::new(targets.get()?).record_log();
    let autoload = open.autoload.clone();
    let outcomes = open.spec.relocate_core(&mut relocator, |p| autoload[p])?;
    Ok((outcomes, relocator.take_log()))
}

/// Loads the object's BTF (sanitized for this kernel). BTF is optional for most programs:
/// like libbpf, a failure is logged and loading goes on without it.
fn load_object_btf(
    spec: &ObjectSpec,
    token: Option<&Token>,
    kernel: &mut Duration,
) -> Option<OwnedFd> {
    let btf = spec.btf.as_ref()?;
    let support = BtfSupport::probe_for_with(btf, token);
    let sanitized = match sanitize(btf, support) {
        Ok(s) => s,
        Err(e) => {
            log::warn!(
                "object '{}': BTF sanitization failed, loading without BTF: {e}",
                spec.name
            );
            return None;
        }
    };
    let bytes = sanitized.as_deref().unwrap_or(btf.raw_bytes());
    match timed(kernel, || {
        btf_load_token(bytes, None, 0, token.map(|t| t.as_fd()))
    }) {
        Ok(fd) => Some(fd),
        Err(e) => {
            log::warn!(
                "object '{}': loading BTF into the kernel failed, continuing without it: {e}",
                spec.name
            );
            None
        }
    }
}

fn map_err<'a>(map: &'a str, what: &'static str) -> impl FnOnce(SysError) -> Error + 'a {
    move |source| Error::Map {
        map: map.to_string(),
        what,
        error: source,
    }
}

/// Creates every map (or reuses a compatible pinned one), writes global data, freezes
/// `.rodata` and `.kconfig`. `None` for maps not created (autocreate off).
fn create_maps(
    spec: &ObjectSpec,
    btf_fd: Option<&OwnedFd>,
    (pin_root, pins): (&std::path::Path, &mut CreatedPins),
    autocreate: &[bool],
    struct_ops: &StructOpsPlan,
    token: Option<&Token>,
    kernel: &mut Duration,
) -> Result<Vec<Option<Map>>> {
    let mut out = Vec::with_capacity(spec.maps.len());
    for (i, (m, &create)) in spec.maps.iter().zip(autocreate).enumerate() {
        if !create {
            log::debug!("map '{}': not created (autocreate off)", m.name);
            out.push(None);
            continue;
        }
        if m.kind == MapKind::StructOps {
            let map = timed(kernel, || {
                new_struct_ops_map(m, i, struct_ops, btf_fd, token)
            })?;
            out.push(Some(map));
            continue;
        }
        // An arena's globals are laid out (and checked to fit) before it exists.
        let arena = if m.is_arena() {
            Some(ArenaGlobals::for_map(spec, m)?)
        } else {
            None
        };
        let pin_path = (m.pinning == Pinning::ByName).then(|| pin_root.join(&m.name));
        if let Some(path) = pin_path.as_ref().filter(|p| p.exists()) {
            let mut map = timed(kernel, || reuse_pinned(m, path))?;
            if let Some(globals) = arena {
                crate::map::arena::set_globals(&mut map, globals);
            }
            log::debug!("map '{}': reused pinned map at {}", m.name, path.display());
            out.push(Some(map));
            continue;
        }
        let map = timed(kernel, || new_map(m, btf_fd, arena, token))?;
        if let Some(path) = &pin_path {
            // pin::pin mounts a missing bpffs at /sys/fs/bpf; a directory on no bpffs is an
            // error that says how to mount one (the kernel would only say EPERM).
            timed(kernel, || crate::pin::pin(map.as_fd(), path)).map_err(|source| Error::Pin {
                what: format!("map '{}': pinning", m.name),
                error: source,
            })?;
            pins.add(path.clone());
            log::debug!("map '{}': pinned at {}", m.name, path.display());
        }
        log::debug!(
            "map '{}': created ({:?}, key {} value {} max {})",
            m.name,
            m.map_type,
            m.key_size,
            m.value_size,
            m.max_entries
        );
        out.push(Some(map));
    }
    Ok(out)
}

/// Creates map `m` and gives it its initial contents: global data written (and frozen for
/// `.rodata`), or for an arena, mapped into this process with its `__arena` globals.
fn new_map(
    m: &MapSpec,
    btf_fd: Option<&OwnedFd>,
    arena: Option<ArenaGlobals>,
    token: Option<&Token>,
) -> Result<Map> {
    let fd = create_map(m, btf_fd, token)?;
    let mfd = MapFd::new(fd).map_err(map_err(&m.name, "reading info"))?;
    if let Some(globals) = arena {
        let mut map = Map::from_map_fd(mfd);
        crate::map::arena::map_created(&mut map, m, globals)?;
        return Ok(map);
    }
    if let Some(data) = m.data.as_ref().filter(|d| !d.is_empty()) {
        map_update_elem(&mfd, &0u32.to_ne_bytes(), data, 0)
            .map_err(map_err(&m.name, "writing initial data"))?;
    }
    if m.freeze {
        map_freeze(mfd.as_fd()).map_err(map_err(&m.name, "freezing"))?;
    }
    Ok(Map::from_map_fd(mfd))
}

/// Creates struct_ops map `m` (index `i`) with the kernel's value type. It stays empty
/// until registered: writing the value is what registers a `.struct_ops` map. The kernel
/// wants the object's BTF with it (though it takes no type id from it).
fn new_struct_ops_map(
    m: &MapSpec,
    i: usize,
    plan: &StructOpsPlan,
    btf_fd: Option<&OwnedFd>,
    token: Option<&Token>,
) -> Result<Map> {
    let err = |reason: &str| Error::StructOps {
        map: m.name.clone(),
        reason: reason.into(),
        error: None,
    };
    let planned = plan
        .maps
        .get(&i)
        .ok_or_else(|| err("not laid out for the kernel"))?;
    let btf_fd = btf_fd.ok_or_else(|| {
        err("the object's BTF did not load into the kernel, and struct_ops maps need it")
    })?;
    let attr = MapCreateAttr {
        map_type: MapType::StructOps,
        key_size: 4,
        value_size: planned.kern.types.value_size,
        max_entries: 1,
        map_flags: m.map_flags,
        name: &m.name,
        btf_fd: Some(btf_fd.as_fd()),
        btf_vmlinux_value_type_id: planned.kern.types.value_type_id,
        value_type_btf_obj_fd: plan.map_module_fd(i),
        token: token.map(|t| t.as_fd()),
        ..Default::default()
    };
    let fd = map_create(&attr).map_err(|e| map_create_error(m, e, token))?;
    let mfd = MapFd::new(fd).map_err(map_err(&m.name, "reading info"))?;
    log::debug!(
        "map '{}': created (struct_ops {}, value {})",
        m.name,
        planned.type_name,
        attr.value_size
    );
    Ok(Map::from_map_fd(mfd))
}

/// Gives each created struct_ops map its value with the fds of its programs, loaded by
/// now (libbpf's `bpf_object_prepare_struct_ops`).
fn prepare_struct_ops<'p>(
    spec: &ObjectSpec,
    plan: &StructOpsPlan,
    maps: &mut [Option<Map>],
    loaded: impl Fn(usize) -> Option<&'p Program> + Copy,
) -> Result<()> {
    for (&i, planned) in &plan.maps {
        let Some(map) = maps.get_mut(i).and_then(Option::as_mut) else {
            continue;
        };
        let value = crate::struct_ops::value_with_fds(spec, planned, loaded).map_err(|reason| {
            Error::StructOps {
                map: spec.maps[i].name.clone(),
                reason,
                error: None,
            }
        })?;
        map.set_struct_ops(value);
    }
    Ok(())
}

/// `max_entries` as the kernel should get it, with libbpf's defaults: a perf event array
/// declared without a size gets one slot per possible CPU, and a ring buffer's size is
/// rounded up to a power-of-two number of pages.
fn effective_max_entries(m: &MapSpec) -> u32 {
    match m.map_type {
        MapType::PerfEventArray if m.max_entries == 0 => {
            corebpf_sys::possible_cpus().map_or(1, |c| c as u32)
        }
        MapType::RingBuf | MapType::UserRingBuf => {
            let page = corebpf_sys::mmap::page_size() as u32;
            m.max_entries
                .max(page)
                .checked_next_power_of_two()
                .unwrap_or(m.max_entries)
        }
        _ => m.max_entries,
    }
}

fn create_attr<'a>(
    m: &'a MapSpec,
    inner: Option<&'a OwnedFd>,
    btf_fd: Option<&'a OwnedFd>,
    token: Option<&'a Token>,
) -> MapCreateAttr<'a> {
    let with_btf = btf_fd.is_some() && m.btf_value_type_id.is_some();
    MapCreateAttr {
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: effective_max_entries(m),
        map_flags: m.map_flags,
        name: &m.name,
        inner_map_fd: inner.map(|f| f.as_fd()),
        numa_node: (m.numa_node != 0).then_some(m.numa_node),
        btf_fd: if with_btf {
            btf_fd.map(|f| f.as_fd())
        } else {
            None
        },
        btf_key_type_id: if with_btf {
            m.btf_key_type_id.unwrap_or(0)
        } else {
            0
        },
        btf_value_type_id: if with_btf {
            m.btf_value_type_id.unwrap_or(0)
        } else {
            0
        },
        map_extra: m.map_extra,
        token: token.map(|t| t.as_fd()),
        ..Default::default()
    }
}

fn create_map(m: &MapSpec, btf_fd: Option<&OwnedFd>, token: Option<&Token>) -> Result<OwnedFd> {
    // A map of maps needs an inner map as a template; it is closed once the outer exists.
    let inner = match &m.inner {
        Some(inner) => Some(create_map(inner, btf_fd, token)?),
        None => None,
    };
    let attr = create_attr(m, inner.as_ref(), btf_fd, token);
    match map_create(&attr) {
        Ok(fd) => Ok(fd),
        // Like libbpf: some kernels refuse a map's BTF (e.g. for certain map types); the map
        // itself does not need it.
        Err(e) if attr.btf_fd.is_some() && !e.is_permission() => {
            log::debug!(
                "map '{}': creation with BTF failed ({e}), retrying without BTF",
                m.name
            );
            let attr = create_attr(m, inner.as_ref(), None, token);
            map_create(&attr).map_err(|e| map_create_error(m, e, token))
        }
        Err(e) => Err(map_create_error(m, e, token)),
    }
}

/// A failed `BPF_MAP_CREATE`: a map type this kernel lacks is named as such (the kernel
/// only says EINVAL).
fn map_create_error(m: &MapSpec, e: SysError, token: Option<&Token>) -> Error {
    // The kernel answers EINVAL for a map type it does not know.
    if e.raw_errno() == Some(libc::EINVAL) && !probe_map_type_with(m.map_type, token) {
        return map_err(&m.name, "creating")(SysError::Unsupported {
            what: m.map_type.kernel_name(),
            reason: format!(
                "this kernel does not support map type {} (Linux {})",
                m.map_type.name(),
                verifier::map_type_since(m.map_type)
            ),
        });
    }
    if m.is_arena() {
        return crate::map::arena::create_error(m, e);
    }
    map_err(&m.name, "creating")(e)
}

fn reuse_pinned(m: &MapSpec, path: &std::path::Path) -> Result<Map> {
    let fd = obj_get(path, 0).map_err(map_err(&m.name, "opening pinned map"))?;
    let mfd = MapFd::new(fd).map_err(map_err(&m.name, "reading pinned map info"))?;
    let map = Map::from_map_fd(mfd);
    let expected = crate::pin::ExpectedMap {
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
        map_flags: m.map_flags,
        map_extra: m.map_extra,
    };
    crate::pin::pinned_map_compatible(&map, &expected).map_err(|e| {
        Error::PinnedMapIncompatible {
            map: m.name.clone(),
            path: path.display().to_string(),
            field: e.field,
            pinned: e.pinned,
            expected: e.expected,
        }
    })?;
    Ok(map)
}

/// Writes initial slots: maps into maps of maps, programs into prog arrays.
fn init_slots<'p>(
    spec: &ObjectSpec,
    maps: &[Option<Map>],
    program: impl Fn(usize) -> Option<&'p Program>,
) -> Result<()> {
    use std::os::fd::AsRawFd;
    for (mi, m) in spec.maps.iter().enumerate() {
        let Some(outer) = maps[mi].as_ref() else {
            continue;
        };
        for slot in &m.init_slots {
            let fd = match &slot.target {
                SlotTarget::Map(t) => maps
                    .get(*t)
                    .and_then(|m| m.as_ref())
                    .map(|m| m.as_fd().as_raw_fd()),
                SlotTarget::Program(p) => match program(*p) {
                    Some(prog) => Some(prog.as_fd().as_raw_fd()),
                    // A program not loaded (autoload off) leaves its slot empty, as libbpf.
                    None => continue,
                },
            };
            let Some(fd) = fd else { continue };
            let what = if m.map_type == MapType::ProgArray {
                "prog array"
            } else {
                "inner map"
            };
            let (key, value) = (slot.index.to_ne_bytes(), (fd as u32).to_ne_bytes());
            map_update_elem(outer.map_fd(), &key, &value, 0).map_err(|error| Error::MapSlot {
                map: m.name.clone(),
                what,
                slot: slot.index,
                error,
            })?;
        }
    }
    Ok(())
}
