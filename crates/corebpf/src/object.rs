//! [`ObjectBuilder`] → [`OpenObject`] (parsed, adjustable) → [`Object`] (loaded), as
//! libbpf's `bpf_object__open` / `bpf_object__load`.

use std::path::{Path, PathBuf};

use corebpf_btf::Kind;
use corebpf_obj::core_relo::CoreOutcome;
use corebpf_obj::{ExternSpec, KernelConfig, MapKind, ObjectSpec};

use crate::error::{Error, Result};
use crate::map::Map;
use crate::map::Pod;
use crate::program::Program;

/// Options for opening an object, in the builder style:
///
/// ```no_run
/// let mut open = corebpf::ObjectBuilder::new()
///     .btf_file("/tmp/vmlinux-6.1.btf") // CO-RE target other than the running kernel
///     .pin_root("/sys/fs/bpf/myapp")
///     .open_file("prog.bpf.o")?;
/// open.set_global("target_pid", &1234u32.to_ne_bytes())?;
/// open.set_autoload("debug_prog", false)?;
/// let obj = open.load()?;
/// # Ok::<(), corebpf::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ObjectBuilder {
    pub(crate) btf_file: Option<PathBuf>,
    pub(crate) pin_root: PathBuf,
    pub(crate) log_level: u32,
    pub(crate) kconfig: Option<String>,
    pub(crate) kallsyms: Option<String>,
    /// `None`: as many threads as the machine has cores.
    pub(crate) load_threads: Option<usize>,
    pub(crate) token_path: Option<PathBuf>,
}

impl Default for ObjectBuilder {
    fn default() -> Self {
        ObjectBuilder::new()
    }
}

impl ObjectBuilder {
    /// Default options: relocate against the running kernel, pin under `/sys/fs/bpf`.
    pub fn new() -> ObjectBuilder {
        ObjectBuilder {
            btf_file: None,
            pin_root: PathBuf::from("/sys/fs/bpf"),
            log_level: 0,
            kconfig: None,
            kallsyms: None,
            load_threads: None,
            token_path: None,
        }
    }

    /// Relocates CO-RE against this BTF file (raw BTF or an ELF with `.BTF`) instead of the
    /// running kernel's (libbpf's `btf_custom_path`).
    pub fn btf_file(mut self, path: impl Into<PathBuf>) -> ObjectBuilder {
        self.btf_file = Some(path.into());
        self
    }

    /// Directory where `LIBBPF_PIN_BY_NAME` maps are pinned and reused.
    pub fn pin_root(mut self, path: impl Into<PathBuf>) -> ObjectBuilder {
        self.pin_root = path.into();
        self
    }

    /// Verifier log level for every program (0: a log only when loading fails).
    pub fn log_level(mut self, level: u32) -> ObjectBuilder {
        self.log_level = level;
        self
    }

    /// Kernel config text for `CONFIG_*` `__kconfig` externs (default:
    /// `/boot/config-$(uname -r)`, else `/proc/config.gz`; without either, weak ones read 0
    /// and strong ones fail naming both). `LINUX_*` externs never need it.
    pub fn kconfig(mut self, text: impl Into<String>) -> ObjectBuilder {
        self.kconfig = Some(text.into());
        self
    }

    /// `/proc/kallsyms`-format text for typeless `__ksym` externs (default: the real one).
    pub fn kallsyms(mut self, text: impl Into<String>) -> ObjectBuilder {
        self.kallsyms = Some(text.into());
        self
    }

    /// How many programs the verifier checks at once while loading (default: the number of
    /// cores this process may run on; `1` loads them one after another, as libbpf does).
    /// Results, errors and logs are the same for every count: programs are prepared and
    /// reported in program order, and the first program that fails is the error, whatever
    /// thread verified it.
    pub fn load_threads(mut self, n: usize) -> ObjectBuilder {
        self.load_threads = Some(n.max(1));
        self
    }

    /// Loads with a BPF token (Linux 6.9) created from the bpffs mounted at `path` with
    /// `delegate_*` options (libbpf's `bpf_token_path`): every map, program and BTF is
    /// created with it, and so are the feature probes. Loading fails if no token can be
    /// created there. An empty path loads without a token.
    ///
    /// Without this, `LIBBPF_BPF_TOKEN_PATH` ([`crate::TOKEN_PATH_ENV`]) names the bpffs
    /// (empty: no token); without either, a token is used if `/sys/fs/bpf` is a bpffs that
    /// delegates, and otherwise none, as libbpf does.
    pub fn token(mut self, path: impl Into<PathBuf>) -> ObjectBuilder {
        self.token_path = Some(path.into());
        self
    }

    /// Opens (parses) an object file.
    pub fn open_file(self, path: impl AsRef<Path>) -> Result<OpenObject> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            error: source,
        })?;
        let name = corebpf_obj::object_name_from_path(path);
        // A malformed object's error names the file, not only what is wrong inside it.
        self.open_mem(&bytes, &name).map_err(|e| match e {
            Error::Object(error) => Error::ObjectFile {
                path: path.display().to_string(),
                error: Box::new(error),
            },
            other => other,
        })
    }

    /// Opens an object from memory; `name` prefixes its internal map names.
    pub fn open_mem(self, bytes: &[u8], name: &str) -> Result<OpenObject> {
        let spec = corebpf_obj::Object::parse_named(bytes, name)?;
        let autoload = vec![true; spec.programs.len()];
        // `SEC("?.struct_ops")` maps are not created by default.
        let autocreate = spec.maps.iter().map(|m| m.autocreate).collect();
        Ok(OpenObject {
            spec,
            opts: self,
            autoload,
            autocreate,
            token: None,
        })
    }
}

impl ObjectBuilder {
    /// Statically links several object files into one ([`corebpf_obj::linker`], libbpf's
    /// `bpftool gen object` rules) and opens the result, named after the first file. Link
    /// errors (two strong definitions, incompatible declarations, an unresolved extern)
    /// name the symbol and the files.
    pub fn open_files<P: AsRef<Path>>(self, paths: &[P]) -> Result<OpenObject> {
        let linked = corebpf_obj::linker::link_files(paths).map_err(corebpf_obj::ObjError::from)?;
        let name = corebpf_obj::object_name_from_path(paths[0].as_ref());
        self.open_mem(&linked, &name)
    }

    /// Statically links objects in memory, given as `(name, bytes)` (the names are what
    /// link errors call them), and opens the result as `name`.
    pub fn open_many(self, objects: &[(&str, &[u8])], name: &str) -> Result<OpenObject> {
        let linked = corebpf_obj::linker::link(objects).map_err(corebpf_obj::ObjError::from)?;
        self.open_mem(&linked, name)
    }
}

/// A parsed object not yet in the kernel: set globals, map sizes and which programs load.
///
/// `Send` and `Sync`: plain data until [`OpenObject::load`].
#[derive(Debug)]
pub struct OpenObject {
    pub(crate) spec: ObjectSpec,
    pub(crate) opts: ObjectBuilder,
    pub(crate) autoload: Vec<bool>,
    pub(crate) autocreate: Vec<bool>,
    /// The BPF token loading uses, created when loading starts.
    pub(crate) token: Option<std::sync::Arc<corebpf_sys::Token>>,
}

impl OpenObject {
    /// The parsed object.
    pub fn spec(&self) -> &ObjectSpec {
        &self.spec
    }

    fn not_found(&self, what: &'static str, name: &str) -> Error {
        Error::NotFound {
            what,
            name: name.to_string(),
            object: self.spec.name.clone(),
        }
    }

    /// Whether program `name` is loaded by [`OpenObject::load`] (libbpf's
    /// `bpf_program__set_autoload`). All programs load by default.
    pub fn set_autoload(&mut self, name: &str, load: bool) -> Result<()> {
        let i = self
            .spec
            .program_index(name)
            .ok_or_else(|| self.not_found("program", name))?;
        self.autoload[i] = load;
        Ok(())
    }

    /// Loads only the named programs (the others' autoload is turned off).
    pub fn load_only(&mut self, names: &[&str]) -> Result<()> {
        for n in names {
            if self.spec.program_index(n).is_none() {
                return Err(self.not_found("program", n));
            }
        }
        for (i, p) in self.spec.programs.iter().enumerate() {
            self.autoload[i] = names.contains(&p.name.as_str());
        }
        Ok(())
    }

    /// Loads program `name` as `prog_type` instead of the type its section implies
    /// (libbpf's `bpf_program__set_type`), e.g. to run a `SEC("syscall")` program as a
    /// socket filter on a kernel without syscall programs. What the section implied beyond
    /// the type goes too: expected attach type, attach target and the sleepable/frags flags.
    pub fn set_program_type(&mut self, name: &str, prog_type: corebpf_sys::ProgType) -> Result<()> {
        let i = self
            .spec
            .program_index(name)
            .ok_or_else(|| self.not_found("program", name))?;
        let p = &mut self.spec.programs[i];
        p.prog_type = prog_type;
        p.expected_attach_type = None;
        p.attach_target = None;
        p.sleepable = false;
        p.xdp_frags = false;
        Ok(())
    }

    /// Whether map `name` is created by [`OpenObject::load`] (libbpf's
    /// `bpf_map__set_autocreate`), e.g. to leave out a map type the kernel lacks. A loaded
    /// program that references a map not created fails to load, naming it.
    pub fn set_autocreate(&mut self, name: &str, create: bool) -> Result<()> {
        let i = self
            .map_index(name)
            .ok_or_else(|| self.not_found("map", name))?;
        self.autocreate[i] = create;
        Ok(())
    }

    /// The bytes of data member `member` of struct_ops map `map`, to read or change before
    /// load (the scalar part of libbpf's skeleton shadow type): e.g. a
    /// `tcp_congestion_ops`'s `name`, or a scheduler's `flags` or `timeout_ms`.
    ///
    /// ```no_run
    /// # let mut open: corebpf::OpenObject = todo!();
    /// let name = open.struct_ops_data_mut("corebpf_cc", "name")?;
    /// name.fill(0);
    /// name[..6].copy_from_slice(b"cc_two");
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn struct_ops_data_mut(&mut self, map: &str, member: &str) -> Result<&mut [u8]> {
        Ok(self.spec.struct_ops_data_mut(map, member)?)
    }

    /// Points function pointer member `member` of struct_ops map `map` to struct_ops
    /// program `program`, or to nothing (`None`). A program no struct_ops map uses any
    /// more is then not loaded (libbpf turns its autoload off too).
    pub fn set_struct_ops_program(
        &mut self,
        map: &str,
        member: &str,
        program: Option<&str>,
    ) -> Result<()> {
        let new = match program {
            Some(name) => Some(
                self.spec
                    .program_index(name)
                    .ok_or_else(|| self.not_found("program", name))?,
            ),
            None => None,
        };
        let old = self.spec.struct_ops_program(map, member)?;
        self.spec.set_struct_ops_program(map, member, new)?;
        if let Some(old) = old.filter(|&o| Some(o) != new) {
            let used = self
                .spec
                .maps
                .iter()
                .any(|m| m.struct_ops_slots.iter().any(|s| s.program == old));
            if !used {
                self.autoload[old] = false;
            }
        }
        Ok(())
    }

    /// Sets a map's `max_entries` before it is created.
    pub fn set_max_entries(&mut self, map: &str, n: u32) -> Result<()> {
        let i = self
            .map_index(map)
            .ok_or_else(|| self.not_found("map", map))?;
        if self.spec.maps[i].is_internal() {
            return Err(Error::InvalidInput(format!(
                "map '{map}' holds global data; its size is fixed by the object"
            )));
        }
        self.spec.maps[i].max_entries = n;
        Ok(())
    }

    /// A map's index by its name, or by its section for global data (`.rodata`, `.bss`).
    fn map_index(&self, name: &str) -> Option<usize> {
        self.spec.map_index(name).or_else(|| {
            self.spec
                .maps
                .iter()
                .position(|m| m.is_internal() && m.section == name)
        })
    }

    /// The initial bytes of a global data section (`.data`, `.rodata`, `.bss`,
    /// `.data.custom`), to change before load.
    pub fn section_data_mut(&mut self, section: &str) -> Result<&mut [u8]> {
        let i = self
            .spec
            .maps
            .iter()
            .position(|m| matches!(m.kind, MapKind::Data(_)) && m.section == section)
            .ok_or_else(|| self.not_found("data section", section))?;
        let m = &mut self.spec.maps[i];
        let size = m.value_size as usize;
        Ok(m.data.get_or_insert_with(|| vec![0; size]).as_mut_slice())
    }

    /// Sets global variable `name` to a `T` of its size (see [`OpenObject::set_global`]).
    ///
    /// ```no_run
    /// # let mut open: corebpf::OpenObject = todo!();
    /// open.set_global_as("target_pid", &1234u32)?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn set_global_as<T: Pod>(&mut self, name: &str, value: &T) -> Result<()> {
        self.set_global(name, crate::map::pod::as_bytes(value))
    }

    /// Sets global variable `name` (in any data section, `.rodata` included) to `bytes`,
    /// which must have the variable's exact size. This is how a program's `const volatile`
    /// configuration is set before the verifier sees it.
    pub fn set_global(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let btf = self
            .spec
            .btf
            .clone()
            .ok_or_else(|| self.not_found("variable", name))?;
        for sec in btf.types().filter(|t| t.kind() == Kind::Datasec) {
            for v in sec.datasec_vars() {
                let Ok(var) = btf.type_by_id(v.type_id) else {
                    continue;
                };
                if var.kind() != Kind::Var || var.name() != name {
                    continue;
                }
                if bytes.len() != v.size as usize {
                    return Err(Error::InvalidInput(format!(
                        "global '{name}' is {} bytes, {} given",
                        v.size,
                        bytes.len()
                    )));
                }
                let data = self.section_data_mut(sec.name())?;
                let range = v.offset as usize..v.offset as usize + bytes.len();
                let slot = data.get_mut(range).ok_or_else(|| {
                    Error::InvalidInput(format!("global '{name}' lies outside its section"))
                })?;
                slot.copy_from_slice(bytes);
                return Ok(());
            }
        }
        Err(self.not_found("variable", name))
    }

    /// Gives the undefined symbol `name` a value: every `LD_IMM64` of it (inline asm
    /// `r0 = NAME ll`) loads `value`, so the programs using it can load. A symbol nothing in
    /// the object defines otherwise fails exactly the programs that use it. cilium/ebpf
    /// offers the same by rewriting the instruction's constant; libbpf refuses such objects.
    pub fn set_symbol_value(&mut self, name: &str, value: u64) -> Result<()> {
        match self.spec.set_symbol_value(name, value) {
            Ok(_) => Ok(()),
            Err(corebpf_obj::ObjError::NoSuchSymbol(_)) => {
                Err(self.not_found("undefined symbol", name))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Loads BTF, maps and programs into the kernel (see the crate docs for the steps).
    pub fn load(self) -> Result<Object> {
        crate::load::load(self)
    }

    /// The values of the object's `__kconfig` externs, as libbpf's
    /// `bpf_object__resolve_externs` computes them: libbpf's virtual `LINUX_*` externs from
    /// the running kernel, and the kernel config only if a `CONFIG_*` extern needs it (the
    /// given text, else the system's; none found is fine until a strong `CONFIG_*` extern
    /// asks for it).
    pub(crate) fn kernel_config(&self) -> Result<KernelConfig> {
        let externs = &self.spec.externs;
        let mut cfg = if externs.iter().any(ExternSpec::needs_kernel_config) {
            self.base_kernel_config()?
        } else {
            KernelConfig::default()
        };
        cfg.kernel_version = crate::kernel::kernel_version();
        for e in externs.iter().filter(|e| e.is_kconfig()) {
            if let Some(v) = virtual_extern(&e.name, self.token.as_deref()) {
                cfg.options.insert(e.name.clone(), u8::from(v).to_string());
            }
        }
        Ok(cfg)
    }

    /// `CONFIG_*` values: the text given to [`ObjectBuilder::kconfig`], else the running
    /// kernel's config file.
    fn base_kernel_config(&self) -> Result<KernelConfig> {
        Ok(match &self.opts.kconfig {
            Some(text) => KernelConfig::from_text(text),
            None => KernelConfig::from_system()?,
        })
    }
}

/// libbpf's virtual `LINUX_HAS_*` externs, computed from the running kernel (never from
/// its config file); `None` for any other name.
fn virtual_extern(name: &str, token: Option<&corebpf_sys::Token>) -> Option<bool> {
    match name {
        "LINUX_HAS_BPF_COOKIE" => Some(corebpf_sys::probe_feature_with(
            corebpf_sys::Feature::BpfCookie,
            token,
        )),
        "LINUX_HAS_SYSCALL_WRAPPER" => Some(has_syscall_wrapper()),
        _ => None,
    }
}

/// Whether syscalls enter through arch-specific wrappers taking `struct pt_regs *`
/// (`__x64_sys_*` on x86-64, since 4.17): what `BPF_KSYSCALL` needs to know to read
/// arguments. Looked up in the kernel's BTF, then `/proc/kallsyms`.
fn has_syscall_wrapper() -> bool {
    let name = match std::env::consts::ARCH {
        "x86_64" => "__x64_sys_bpf",
        "aarch64" => "__arm64_sys_bpf",
        "s390x" => "__s390x_sys_bpf",
        "riscv64" => "__riscv_sys_bpf",
        _ => return false,
    };
    if let Ok(btf) = crate::kernel::kernel_btf() {
        if btf.find_by_name_kind(name, Kind::Func).is_some() {
            return true;
        }
    }
    std::fs::read_to_string("/proc/kallsyms")
        .map(|k| k.lines().any(|l| l.split_whitespace().nth(2) == Some(name)))
        .unwrap_or(false)
}

/// A loaded object: its maps and programs, alive until dropped.
///
/// `Send` and `Sync`: every method takes `&self` and is a syscall on an fd (which the
/// kernel serialises) or reads what was fixed at load, so threads can share an object,
/// e.g. one attaching while others read maps (`tests/concurrency.rs`).
#[derive(Debug)]
pub struct Object {
    pub(crate) name: String,
    pub(crate) maps: Vec<(String, String, Map)>,
    pub(crate) programs: Vec<Program>,
    pub(crate) _btf_fd: Option<std::os::fd::OwnedFd>,
    pub(crate) core: Vec<CoreOutcome>,
    pub(crate) core_log: Vec<String>,
    pub(crate) globals: Vec<Global>,
    pub(crate) load_stats: LoadStats,
}

/// Where [`OpenObject::load`] spent its time: in the object's own `bpf(2)` commands (BTF
/// load, map creation, initial data, freezing, pinning, program loads — the verifier's
/// work — and prog array / map-of-maps slots), and in userspace around them (extern
/// resolution, CO-RE, BTF sanitization, linking). Parsing happens before, in
/// [`ObjectBuilder::open_file`]; the running kernel's BTF and the feature probes are read
/// once per process and counted on the first load only (as userspace).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Load time outside the object's `bpf(2)` commands.
    pub userspace: std::time::Duration,
    /// Time inside the object's `bpf(2)` commands.
    pub kernel: std::time::Duration,
}

/// Where a global variable lives: its data section and offset.
#[derive(Debug, Clone)]
pub(crate) struct Global {
    pub name: String,
    pub section: String,
    pub offset: u32,
    pub size: u32,
    /// In a section frozen after load (`.rodata`, `.kconfig`).
    pub frozen: bool,
}

/// A global variable read or written as a Rust type of another size.
fn global_size_error<T>(name: &str, size: usize) -> Error {
    Error::InvalidInput(format!(
        "global '{name}' is {size} bytes, {} is {}",
        std::any::type_name::<T>(),
        std::mem::size_of::<T>()
    ))
}

/// Every global variable of an object's data sections, from its BTF DATASECs.
pub(crate) fn globals_of(spec: &ObjectSpec) -> Vec<Global> {
    let Some(btf) = &spec.btf else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for sec in btf.types().filter(|t| t.kind() == Kind::Datasec) {
        let frozen = spec
            .maps
            .iter()
            .any(|m| m.is_internal() && m.section == sec.name() && m.freeze);
        for v in sec.datasec_vars() {
            if let Ok(var) = btf.type_by_id(v.type_id) {
                if var.kind() == Kind::Var {
                    out.push(Global {
                        name: var.name().to_string(),
                        section: sec.name().to_string(),
                        offset: v.offset,
                        size: v.size,
                        frozen,
                    });
                }
            }
        }
    }
    out
}

impl Object {
    fn global(&self, name: &str) -> Result<(&Global, &Map)> {
        let not_found = || Error::NotFound {
            what: "variable",
            name: name.to_string(),
            object: self.name.clone(),
        };
        let g = self
            .globals
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(not_found)?;
        let map = self.map(&g.section).ok_or_else(not_found)?;
        Ok((g, map))
    }

    /// Reads global variable `name` (from `.data`, `.bss`, `.rodata` or a custom section)
    /// as the kernel holds it now.
    pub fn read_global(&self, name: &str) -> Result<Vec<u8>> {
        let (g, map) = self.global(name)?;
        let value = map
            .lookup(&0u32.to_ne_bytes(), 0)?
            .ok_or_else(|| Error::InvalidInput(format!("section {} has no value", g.section)))?;
        value
            .get(g.offset as usize..(g.offset + g.size) as usize)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| Error::InvalidInput(format!("global '{name}' lies outside its section")))
    }

    /// Writes global variable `name` in `.data` or `.bss` (`.rodata` is frozen after load);
    /// `bytes` must have the variable's size.
    pub fn write_global(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let (g, map) = self.global(name)?;
        if g.frozen {
            // The kernel would say EPERM, which reads like a privilege problem.
            return Err(Error::InvalidInput(format!(
                "global '{name}' is in {}, which is frozen after load: set it before load \
                 with OpenObject::set_global",
                g.section
            )));
        }
        if bytes.len() != g.size as usize {
            return Err(Error::InvalidInput(format!(
                "global '{name}' is {} bytes, {} given",
                g.size,
                bytes.len()
            )));
        }
        let key = 0u32.to_ne_bytes();
        let mut value = map
            .lookup(&key, 0)?
            .ok_or_else(|| Error::InvalidInput(format!("section {} has no value", g.section)))?;
        value[g.offset as usize..(g.offset + g.size) as usize].copy_from_slice(bytes);
        map.update(&key, &value, 0)?;
        Ok(())
    }

    /// Reads global variable `name` as a `T`, which must have the variable's size.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let hits: u64 = obj.read_global_as("hits")?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn read_global_as<T: Pod>(&self, name: &str) -> Result<T> {
        let bytes = self.read_global(name)?;
        crate::map::pod::read_exact(&bytes).ok_or_else(|| global_size_error::<T>(name, bytes.len()))
    }

    /// Writes global variable `name` (in `.data`, `.bss` or a custom writable section) from
    /// a `T` of the variable's size.
    pub fn write_global_as<T: Pod>(&self, name: &str, value: &T) -> Result<()> {
        self.write_global(name, crate::map::pod::as_bytes(value))
    }

    /// Opens and loads `path` with default options.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Object> {
        ObjectBuilder::new().open_file(path)?.load()
    }

    /// The object's name (its file name without `.bpf.o`/`.o`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A loaded program by name.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// A loaded program by name, or [`Error::NotFound`] naming it and the object (for `?`).
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let link = obj.try_program("handle_exec")?.attach()?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn try_program(&self, name: &str) -> Result<&Program> {
        self.program(name)
            .ok_or_else(|| self.not_found("program", name))
    }

    /// A map by name (as [`Object::map`]), or [`Error::NotFound`] naming it and the object.
    pub fn try_map(&self, name: &str) -> Result<&Map> {
        self.map(name).ok_or_else(|| self.not_found("map", name))
    }

    fn not_found(&self, what: &'static str, name: &str) -> Error {
        Error::NotFound {
            what,
            name: name.to_string(),
            object: self.name.clone(),
        }
    }

    /// A loaded program by name, mutably.
    pub fn program_mut(&mut self, name: &str) -> Option<&mut Program> {
        self.programs.iter_mut().find(|p| p.name == name)
    }

    /// Every loaded program.
    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    /// Takes a program out of the object (it then lives as long as the caller keeps it).
    pub fn take_program(&mut self, name: &str) -> Option<Program> {
        let i = self.programs.iter().position(|p| p.name == name)?;
        Some(self.programs.remove(i))
    }

    /// A map by name (global data maps also by section name: `.rodata`, `.bss`).
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.maps
            .iter()
            .find(|(n, sec, _)| n == name || sec == name)
            .map(|(_, _, m)| m)
    }

    /// Every map, with its name.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &Map)> {
        self.maps.iter().map(|(n, _, m)| (n.as_str(), m))
    }

    /// Takes a map out of the object.
    pub fn take_map(&mut self, name: &str) -> Option<Map> {
        let i = self
            .maps
            .iter()
            .position(|(n, sec, _)| n == name || sec == name)?;
        Some(self.maps.remove(i).2)
    }

    /// Where loading spent its time: userspace work versus the object's `bpf(2)` commands.
    pub fn load_stats(&self) -> LoadStats {
        self.load_stats
    }

    /// What CO-RE did to each relocated instruction.
    pub fn core_relocations(&self) -> &[CoreOutcome] {
        &self.core
    }

    /// The CO-RE log, in libbpf's line format (also logged at debug level while loading).
    pub fn core_log(&self) -> &[String] {
        &self.core_log
    }
}
