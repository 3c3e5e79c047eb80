//! `corebpf load OBJ [--prog NAME]... [--btf FILE] [--pin DIR] [--attach] [--json]`: loads
//! an object into the kernel and reports each program's and map's id, or why a program did
//! not load.

use std::collections::HashSet;
use std::error::Error;
use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use corebpf::{Object, ObjectBuilder, OpenObject};
use serde_json::{json, Value};

use super::{usage, Exit};

/// The long help of `corebpf load` (set on the subcommand in `main.rs`).
pub const LONG_ABOUT: &str = "Load a BPF object into the kernel: CO-RE against the running kernel (or \
        --btf), maps created, programs through the verifier. Reports each program's id, \
        instruction count and load time, and each map's id.\n\n\
        With --prog, only the named programs load (the others' autoload is off, as libbpf's \
        bpf_program__set_autoload). When loading the whole selection fails, each program is \
        then loaded alone, so one failing program never hides another: every failure is \
        reported with the verifier's message and the C source line.\n\n\
        Without --pin or --attach, everything is unloaded when the command exits: it answers \
        \"does this load?\". --attach attaches every program whose SEC name says where \
        (kprobe/, tracepoint/, raw_tp/, tp_btf/, fentry/, lsm/, uprobe/...; XDP, TC, socket \
        and cgroup programs need a target and are skipped) and keeps them attached until \
        SIGINT (Ctrl-C) or SIGTERM, then detaches and exits 0. --pin DIR keeps programs and maps pinned under DIR (a bpffs \
        directory; also where LIBBPF_PIN_BY_NAME maps go). Dots in map names become `_` \
        (bpffs refuses them): .bss of object `foo` is pinned as `foo_bss`.\n\n\
        Exit codes: 0 every program loaded, 1 some program (or the object) failed, 2 usage \
        error (such as an unknown --prog name).";

/// Arguments of `corebpf load`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
        corebpf load prog.bpf.o\n  \
        corebpf load prog.bpf.o --prog handle_exec --prog handle_exit --json\n  \
        corebpf load prog.bpf.o --pin /sys/fs/bpf/myapp\n  \
        corebpf load tracer.bpf.o --attach             # until Ctrl-C\n  \
        corebpf load prog.bpf.o --btf /tmp/6.1.btf     # CO-RE against another kernel's BTF")]
pub struct Args {
    /// The BPF object file.
    pub object: PathBuf,
    /// Load only this program (repeatable).
    #[arg(long = "prog", value_name = "NAME")]
    pub progs: Vec<String>,
    /// CO-RE target BTF instead of the running kernel's.
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,
    /// Pin programs and maps under this bpffs directory.
    #[arg(long, value_name = "DIR")]
    pub pin: Option<PathBuf>,
    /// Attach programs as their SEC() names describe and stay attached until Ctrl-C.
    #[arg(long)]
    pub attach: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Verify programs on at most this many threads (default: one per core; 1 loads
    /// them one after another, as libbpf does).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
}

/// What happened to one program.
struct ProgReport {
    name: String,
    section: String,
    prog_type: String,
    id: Option<u32>,
    insns: Option<usize>,
    load_time_us: Option<u128>,
    pinned: Option<PathBuf>,
    /// Loaded by itself after the whole selection failed (and unloaded again).
    alone: bool,
    /// The error without the verifier log, and the log.
    error: Option<(String, String)>,
}

struct MapReport {
    name: String,
    map_type: String,
    id: u32,
    key_size: usize,
    value_size: usize,
    max_entries: u32,
    pinned: Option<PathBuf>,
}

fn open(args: &Args) -> Result<OpenObject, Box<dyn Error>> {
    let mut b = ObjectBuilder::new();
    if let Some(btf) = &args.btf {
        b = b.btf_file(btf);
    }
    if let Some(dir) = &args.pin {
        b = b.pin_root(dir);
    }
    if let Some(n) = args.threads {
        b = b.load_threads(n as usize);
    }
    Ok(b.open_file(&args.object)?)
}

/// Splits a loader error into its message (with the source line) and the verifier log.
fn split_error(e: &corebpf::Error) -> (String, String) {
    let text = e.to_string();
    match text.split_once("\n  verifier log:") {
        Some((msg, _)) => (
            msg.to_string(),
            e.verifier().map(|v| v.log.clone()).unwrap_or_default(),
        ),
        None => (text, String::new()),
    }
}

/// A program of a loaded object; one the loader left out (a struct_ops program no created
/// map uses, as libbpf) has no id, instruction count or load time.
fn loaded_report(obj: &Object, name: &str, section: &str) -> ProgReport {
    let p = obj.program(name);
    ProgReport {
        name: name.to_string(),
        section: section.to_string(),
        prog_type: p.map_or("struct_ops".to_string(), |p| {
            p.prog_type().name().to_string()
        }),
        id: p.and_then(|p| p.id().ok()),
        insns: p.map(|p| p.insn_count()),
        load_time_us: p.map(|p| p.load_time().as_micros()),
        pinned: None,
        alone: false,
        error: None,
    }
}

fn failed_report(spec: &corebpf_obj::ObjectSpec, name: &str, e: &corebpf::Error) -> ProgReport {
    let i = spec.program_index(name);
    let p = i.map(|i| &spec.programs[i]);
    ProgReport {
        name: name.to_string(),
        section: p.map_or(String::new(), |p| p.section.clone()),
        prog_type: p.map_or(String::new(), |p| p.prog_type.name().to_string()),
        id: None,
        insns: i
            .and_then(|i| spec.link_program(i).ok())
            .map(|l| l.insns.len()),
        load_time_us: None,
        pinned: None,
        alone: false,
        error: Some(split_error(e)),
    }
}

/// Whether a load error is about one program (so loading the others alone may work).
fn is_program_error(e: &corebpf::Error) -> bool {
    use corebpf::Error as E;
    matches!(
        e,
        E::Verifier(_) | E::Program { .. } | E::ProgramSpec { .. } | E::Core(_)
    )
}

/// Runs the command.
pub fn run(args: Args) -> Result<Exit, Box<dyn Error>> {
    if args.attach {
        super::attach::block_signals()?;
    }
    let mut open = open(&args)?;
    let spec = open.spec().clone();
    let selected = select_programs(&args, &spec, &mut open)?;
    if let Some(dir) = &args.pin {
        prepare_pin_dir(dir)?;
    }
    let mut outcome = load_selected(&args, &spec, open, &selected)?;
    if let (Some(obj), Some(dir)) = (&outcome.obj, &args.pin) {
        let by_name = pinned_by_name(&spec);
        pin_all(obj, dir, &by_name, &mut outcome.progs, &mut outcome.maps)?;
    }
    print_report(&args, &spec.name, &outcome)?;
    if let Some((msg, _)) = &outcome.object_error {
        eprintln!("corebpf: {msg}");
        return Ok(Exit::Failed);
    }
    print_program_errors(&outcome.progs);
    let Some(obj) = &outcome.obj else {
        return Ok(Exit::Failed);
    };
    if args.attach {
        super::attach::attach_and_wait(obj, args.json)?;
    }
    Ok(Exit::Ok)
}

/// What loading the selected programs gave.
struct LoadOutcome {
    /// One report per selected program.
    progs: Vec<ProgReport>,
    /// The object's maps, when it loaded.
    maps: Vec<MapReport>,
    /// A failure of the object rather than of one program (message and verifier log).
    object_error: Option<(String, String)>,
    /// The loaded object, when every selected program loaded.
    obj: Option<Object>,
}

/// The programs to load: all of them, or the `--prog` names (which must exist), with
/// the others' autoload turned off.
fn select_programs(
    args: &Args,
    spec: &corebpf_obj::ObjectSpec,
    open: &mut OpenObject,
) -> Result<Vec<String>, Box<dyn Error>> {
    if args.progs.is_empty() {
        return Ok(spec.programs.iter().map(|p| p.name.clone()).collect());
    }
    for n in &args.progs {
        if spec.program_index(n).is_none() {
            let known: Vec<&str> = spec.programs.iter().map(|p| p.name.as_str()).collect();
            return Err(usage(format!(
                "no program named '{n}' in {} (programs: {})",
                args.object.display(),
                known.join(", ")
            )));
        }
    }
    let names: Vec<&str> = args.progs.iter().map(String::as_str).collect();
    open.load_only(&names)?;
    Ok(args.progs.clone())
}

/// The section of program `name`, or "" for a name the object does not have.
fn section_of(spec: &corebpf_obj::ObjectSpec, name: &str) -> String {
    spec.program_index(name)
        .map_or(String::new(), |i| spec.programs[i].section.clone())
}

/// Loads the selection; when a program fails and more than one was selected, loads
/// each alone so every failure is reported.
fn load_selected(
    args: &Args,
    spec: &corebpf_obj::ObjectSpec,
    open: OpenObject,
    selected: &[String],
) -> Result<LoadOutcome, Box<dyn Error>> {
    Ok(match open.load() {
        Ok(obj) => LoadOutcome {
            progs: selected
                .iter()
                .map(|n| loaded_report(&obj, n, &section_of(spec, n)))
                .collect(),
            maps: map_reports(&obj),
            object_error: None,
            obj: Some(obj),
        },
        Err(e) if !is_program_error(&e) => object_failed(spec, selected, &e),
        Err(e) if selected.len() <= 1 => LoadOutcome {
            progs: selected
                .iter()
                .map(|n| failed_report(spec, n, &e))
                .collect(),
            maps: Vec::new(),
            object_error: None,
            obj: None,
        },
        Err(e) => load_each_alone(args, spec, selected, &e)?,
    })
}

/// Maps, BTF, externs: no program can load; say so once, as the object's error.
fn object_failed(
    spec: &corebpf_obj::ObjectSpec,
    selected: &[String],
    e: &corebpf::Error,
) -> LoadOutcome {
    let why = (
        "not loaded: the object failed to load".to_string(),
        String::new(),
    );
    let progs = selected
        .iter()
        .map(|n| ProgReport {
            error: Some(why.clone()),
            ..failed_report(spec, n, e)
        })
        .collect();
    LoadOutcome {
        progs,
        maps: Vec::new(),
        object_error: Some(split_error(e)),
        obj: None,
    }
}

/// Loads each selected program alone (then unloads it) to report every failure, not
/// just the first; `e` is the error of loading them all together.
fn load_each_alone(
    args: &Args,
    spec: &corebpf_obj::ObjectSpec,
    selected: &[String],
    e: &corebpf::Error,
) -> Result<LoadOutcome, Box<dyn Error>> {
    let mut progs = Vec::new();
    for n in selected {
        let mut alone = open(args)?;
        alone.load_only(&[n.as_str()])?;
        progs.push(match alone.load() {
            Ok(obj) => ProgReport {
                alone: true,
                ..loaded_report(&obj, n, &section_of(spec, n))
            },
            Err(e) => failed_report(spec, n, &e),
        });
    }
    // Every program loads alone: the failure is the object's (maps, BTF, slots).
    let object_error = progs
        .iter()
        .all(|p| p.error.is_none())
        .then(|| split_error(e));
    Ok(LoadOutcome {
        progs,
        maps: Vec::new(),
        object_error,
        obj: None,
    })
}

/// The maps pinned by name (`LIBBPF_PIN_BY_NAME`), which the loader pinned already.
fn pinned_by_name(spec: &corebpf_obj::ObjectSpec) -> HashSet<&str> {
    spec.maps
        .iter()
        .filter(|m| m.pinning == corebpf_obj::Pinning::ByName)
        .map(|m| m.name.as_str())
        .collect()
}

/// Prints the report on stdout, as text or JSON.
fn print_report(args: &Args, object: &str, outcome: &LoadOutcome) -> Result<(), Box<dyn Error>> {
    let (progs, maps) = (&outcome.progs, &outcome.maps);
    let object_error = outcome.object_error.as_ref();
    let out = if args.json {
        let v = to_json(object, outcome.obj.is_some(), progs, maps, object_error);
        serde_json::to_string_pretty(&v)? + "\n"
    } else {
        to_text(object, progs, maps, object_error)
    };
    print!("{out}");
    Ok(())
}

/// Each failed program's message and verifier log, on stderr.
fn print_program_errors(progs: &[ProgReport]) {
    for p in progs {
        if let Some((msg, log)) = &p.error {
            eprintln!("corebpf: {msg}");
            if !log.is_empty() {
                eprintln!("  verifier log:");
                for l in log.lines() {
                    eprintln!("    {l}");
                }
            }
        }
    }
}

/// Creates the pin directory (mounting bpffs at /sys/fs/bpf if needed) and checks it is
/// on a bpffs, before anything loads.
fn prepare_pin_dir(dir: &Path) -> Result<(), Box<dyn Error>> {
    if dir.starts_with("/sys/fs/bpf") {
        corebpf::pin::ensure_bpffs()?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !corebpf::pin::is_bpffs(dir)? {
        return Err(format!(
            "{} is not on a BPF filesystem (mount -t bpf bpf <dir>)",
            dir.display()
        )
        .into());
    }
    Ok(())
}

/// Pins every program and map at `dir/<name>` (dots become `_`, as in libbpf);
/// LIBBPF_PIN_BY_NAME maps are already there.
fn pin_all(
    obj: &Object,
    dir: &Path,
    by_name: &HashSet<&str>,
    progs: &mut [ProgReport],
    maps: &mut [MapReport],
) -> Result<(), Box<dyn Error>> {
    for r in progs.iter_mut() {
        if let Some(p) = obj.program(&r.name) {
            let path = dir.join(&r.name);
            corebpf::pin::pin(p.as_fd(), &path)?;
            r.pinned = Some(path);
        }
    }
    for r in maps.iter_mut() {
        // bpffs refuses names with dots: libbpf pins `obj.bss` as `obj_bss`.
        let path = dir.join(r.name.replace('.', "_"));
        if !by_name.contains(r.name.as_str()) {
            if let Some(m) = obj.map(&r.name) {
                m.pin(&path)?;
            }
        }
        r.pinned = Some(path);
    }
    Ok(())
}

fn map_reports(obj: &Object) -> Vec<MapReport> {
    obj.maps()
        .map(|(name, m)| MapReport {
            name: name.to_string(),
            map_type: m
                .map_type()
                .map_or(format!("unknown({})", m.raw_type()), |t| {
                    t.name().to_string()
                }),
            id: m.id(),
            key_size: m.key_size(),
            value_size: m.value_size(),
            max_entries: m.max_entries(),
            pinned: None,
        })
        .collect()
}

fn to_text(
    object: &str,
    progs: &[ProgReport],
    maps: &[MapReport],
    object_error: Option<&(String, String)>,
) -> String {
    let mut o = String::new();
    if let Some((msg, _)) = object_error {
        let _ = writeln!(o, "object '{object}' failed to load: {msg}");
    }
    let loaded = progs
        .iter()
        .filter(|p| p.error.is_none() && p.insns.is_some())
        .count();
    let _ = writeln!(
        o,
        "object '{object}': {loaded} of {} programs loaded",
        progs.len()
    );
    for p in progs {
        let _ = write!(
            o,
            "prog {}: sec '{}' type {}",
            p.name, p.section, p.prog_type
        );
        match &p.error {
            None if p.insns.is_none() => {
                let _ = write!(o, " not loaded: no created struct_ops map uses it");
            }
            None => {
                if let Some(id) = p.id {
                    let _ = write!(o, " id {id}");
                }
                let _ = write!(
                    o,
                    " insns {} loaded in {} us",
                    p.insns.unwrap_or(0),
                    p.load_time_us.unwrap_or(0)
                );
                if p.alone {
                    let _ = write!(o, " (alone, then unloaded: another program failed)");
                }
            }
            Some((msg, _)) => {
                let first = msg.lines().next().unwrap_or_default();
                let _ = write!(o, " FAILED: {first}");
            }
        }
        if let Some(path) = &p.pinned {
            let _ = write!(o, " pinned {}", path.display());
        }
        o.push('\n');
    }
    for m in maps {
        let _ = write!(
            o,
            "map {}: type {} id {} key {} value {} max_entries {}",
            m.name, m.map_type, m.id, m.key_size, m.value_size, m.max_entries
        );
        if let Some(path) = &m.pinned {
            let _ = write!(o, " pinned {}", path.display());
        }
        o.push('\n');
    }
    o
}

fn to_json(
    object: &str,
    ok: bool,
    progs: &[ProgReport],
    maps: &[MapReport],
    object_error: Option<&(String, String)>,
) -> Value {
    let progs: Vec<Value> = progs
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "section": p.section,
                "type": p.prog_type,
                "ok": p.error.is_none(),
                "loaded_alone": p.alone,
                "error": p.error.as_ref().map(|e| &e.0),
                "verifier_log": p.error.as_ref().map(|e| &e.1).filter(|l| !l.is_empty()),
                "id": p.id,
                "insns": p.insns,
                "load_time_us": p.load_time_us,
                "pinned": p.pinned.as_ref().map(|p| p.display().to_string()),
            })
        })
        .collect();
    let maps: Vec<Value> = maps
        .iter()
        .map(|m| {
            json!({
                "name": m.name, "type": m.map_type, "id": m.id, "key_size": m.key_size,
                "value_size": m.value_size, "max_entries": m.max_entries,
                "pinned": m.pinned.as_ref().map(|p| p.display().to_string()),
            })
        })
        .collect();
    json!({
        "object": object,
        "ok": ok,
        "error": object_error.map(|e| &e.0),
        "programs": progs,
        "maps": maps,
    })
}
