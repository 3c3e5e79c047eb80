//! Compile BPF C from a `build.rs`, for corebpf (the role libbpf-cargo's `SkeletonBuilder`
//! compile step and bpf2go play elsewhere).
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     let objs = corebpf_build::BpfBuild::new()
//!         .source("src/bpf/tracer.bpf.c")
//!         .compile()
//!         .unwrap_or_else(|e| panic!("{e}"));
//!     // OUT_DIR/tracer.bpf.o: include_bytes!(concat!(env!("OUT_DIR"), "/tracer.bpf.o"))
//!     let _ = objs;
//! }
//! ```
//!
//! What it does for each source:
//! 1. finds clang (`$BPF_CLANG`, `$CLANG`, `clang`, else the newest `clang-N` on `PATH`);
//! 2. writes `vmlinux.h` with corebpf's own C dump of the running kernel's BTF (or a BTF
//!    file, or an existing header), regenerated only when the BTF changes;
//! 3. compiles with `-O2 -g -target bpf -D__TARGET_ARCH_<arch>` (the arch of cargo's
//!    target, which `bpf_tracing.h` needs), the `vmlinux.h` directory, the system's
//!    multiarch include directory and yours on the include path;
//! 4. strips DWARF with the same LLVM's `llvm-strip -g` (`.BTF` and `.BTF.ext`, which the
//!    loader needs, stay; a typical object shrinks from hundreds of KB to tens);
//! 5. prints `cargo:rerun-if-changed` for the source and every header clang read, and
//!    `cargo:rerun-if-env-changed` for the variables above;
//! 6. with [`BpfBuild::skeleton`], writes `<stem>.skel.rs` next to each object: the
//!    `corebpf-gen` skeleton (typed structs, maps, programs and globals, the object
//!    embedded), to `include!` in the crate;
//! 7. with [`BpfBuild::link`], statically links the objects into one (several C files, one
//!    BPF program set: `extern` functions, variables and maps resolved across them).
//!
//! ```no_run
//! // build.rs: compile and generate the skeleton, naming the ring buffer's event type.
//! corebpf_build::BpfBuild::new()
//!     .source("src/bpf/tool.bpf.c")
//!     .skeleton()
//!     .skeleton_type("event")
//!     .compile()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! // src/main.rs: include!(concat!(env!("OUT_DIR"), "/tool.skel.rs"));
//! //              use tool::{Bytes, OpenToolSkel};
//! ```
//!
//! A failed compilation returns [`BuildError::Compile`] with clang's diagnostics. libbpf's
//! BPF-side headers (`<bpf/bpf_helpers.h>`, from Debian's `libbpf-dev`) must be installed
//! or given with [`BpfBuild::include`]; without them the error says so.

// The crate docs show a whole build.rs, `fn main` included.
#![allow(clippy::needless_doctest_main)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod depfile;
pub mod tools;
pub mod vmlinux;

pub use vmlinux::Vmlinux;

/// Why a BPF build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No clang was found.
    #[error(
        "no clang found: install clang (Debian: apt-get install clang llvm libbpf-dev), or \
         set BPF_CLANG to its path"
    )]
    NoClang,
    /// libbpf's BPF-side headers are missing.
    #[error(
        "<bpf/bpf_helpers.h> not found: install libbpf's headers (Debian/Ubuntu: libbpf-dev, \
         Fedora: libbpf-devel) or add their directory with BpfBuild::include"
    )]
    NoLibbpfHeaders,
    /// Cargo's target architecture has no `__TARGET_ARCH_*` for `bpf_tracing.h`.
    #[error("no BPF __TARGET_ARCH for target architecture '{0}'")]
    UnknownArch(String),
    /// Neither `OUT_DIR` (cargo sets it for build scripts) nor an output directory.
    #[error("no output directory: run from build.rs (OUT_DIR) or call BpfBuild::out_dir")]
    NoOutDir,
    /// Reading or writing a file failed.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The kernel BTF for `vmlinux.h` could not be read or dumped.
    #[error("vmlinux.h: {0}")]
    Btf(corebpf_btf::BtfError),
    /// The skeleton of an object could not be generated.
    #[error("{object}: skeleton: {reason}")]
    Skeleton {
        /// The object.
        object: String,
        /// Why (the object does not parse, a type cannot be expressed in Rust).
        reason: String,
    },
    /// A tool could not be run.
    #[error("running {tool}: {error}")]
    Run {
        /// The tool.
        tool: String,
        /// Why.
        error: std::io::Error,
    },
    /// Linking the objects ([`BpfBuild::link`]) failed: two strong definitions of a symbol,
    /// declarations that do not match, an extern nothing defines.
    #[error("{0}")]
    Link(corebpf_obj::LinkError),
    /// clang (or llvm-strip) failed on a source: its command line and diagnostics.
    #[error("{source_file}: {tool} failed:\n{command}\n{diagnostics}")]
    Compile {
        /// The BPF C source.
        source_file: String,
        /// `clang` or `llvm-strip`.
        tool: String,
        /// The command line.
        command: String,
        /// What the tool printed.
        diagnostics: String,
    },
}

/// A BPF C build: sources, include directories, defines, where `vmlinux.h` comes from.
#[derive(Debug, Clone)]
pub struct BpfBuild {
    sources: Vec<PathBuf>,
    includes: Vec<PathBuf>,
    defines: Vec<String>,
    flags: Vec<String>,
    clang: Option<PathBuf>,
    vmlinux: Vmlinux,
    out_dir: Option<PathBuf>,
    strip: bool,
    cargo: bool,
    skeleton: bool,
    skeleton_types: Vec<String>,
    /// Link every object into `<name>.bpf.o`.
    link: Option<String>,
}

impl Default for BpfBuild {
    fn default() -> Self {
        BpfBuild::new()
    }
}

impl BpfBuild {
    /// A build with no sources yet: `vmlinux.h` from the running kernel, stripped output,
    /// cargo directives printed.
    pub fn new() -> BpfBuild {
        BpfBuild {
            sources: Vec::new(),
            includes: Vec::new(),
            defines: Vec::new(),
            flags: Vec::new(),
            clang: None,
            vmlinux: Vmlinux::RunningKernel,
            out_dir: None,
            strip: true,
            cargo: true,
            skeleton: false,
            skeleton_types: Vec::new(),
            link: None,
        }
    }

    /// Adds a BPF C source (`x.bpf.c` gives `x.bpf.o`, `x.c` gives `x.o`).
    pub fn source(mut self, path: impl Into<PathBuf>) -> Self {
        self.sources.push(path.into());
        self
    }

    /// Adds an include directory.
    pub fn include(mut self, dir: impl Into<PathBuf>) -> Self {
        self.includes.push(dir.into());
        self
    }

    /// Adds `-DNAME=VALUE` (or `-DNAME` for an empty value).
    pub fn define(mut self, name: &str, value: &str) -> Self {
        self.defines.push(if value.is_empty() {
            format!("-D{name}")
        } else {
            format!("-D{name}={value}")
        });
        self
    }

    /// Adds a raw clang flag (e.g. `-fms-extensions`, which 7.x kernels' `vmlinux.h`
    /// needs for the named structs it embeds anonymously).
    pub fn flag(mut self, flag: &str) -> Self {
        self.flags.push(flag.into());
        self
    }

    /// Uses this clang.
    pub fn clang(mut self, path: impl Into<PathBuf>) -> Self {
        self.clang = Some(path.into());
        self
    }

    /// Where `vmlinux.h` comes from (default: the running kernel).
    pub fn vmlinux(mut self, source: Vmlinux) -> Self {
        self.vmlinux = source;
        self
    }

    /// Writes objects here instead of `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Keeps DWARF in the objects (default: stripped, `.BTF`/`.BTF.ext` kept).
    pub fn keep_debug_info(mut self) -> Self {
        self.strip = false;
        self
    }

    /// Also writes each object's skeleton, `<stem>.skel.rs` (module `<stem>`, types
    /// `Open<Stem>Skel` and `<Stem>Skel`), next to it.
    pub fn skeleton(mut self) -> Self {
        self.skeleton = true;
        self
    }

    /// Generates this C type in the skeletons even if no map or global reaches it (a ring
    /// buffer's or perf buffer's event struct, as bpf2go's `-type`).
    pub fn skeleton_type(mut self, name: &str) -> Self {
        self.skeleton_types.push(name.into());
        self
    }

    /// Statically links every compiled object into one, `<name>.bpf.o` (with
    /// `corebpf_obj::linker`, as `bpftool gen object`): for a program split over several C
    /// files (shared subprograms, maps and globals defined in one file and declared
    /// `extern` in the others). [`BpfBuild::compile`] then returns only the linked
    /// object, and [`BpfBuild::skeleton`] generates `<name>.skel.rs` for it alone.
    pub fn link(mut self, name: &str) -> Self {
        self.link = Some(name.into());
        self
    }

    /// Prints no `cargo:` directives (outside a build script).
    pub fn quiet(mut self) -> Self {
        self.cargo = false;
        self
    }

    /// Compiles every source; returns the objects' paths, in source order.
    pub fn compile(&self) -> Result<Vec<PathBuf>, BuildError> {
        let out_dir = self
            .out_dir
            .clone()
            .or_else(|| std::env::var_os("OUT_DIR").map(PathBuf::from))
            .ok_or(BuildError::NoOutDir)?;
        let clang = match &self.clang {
            Some(c) => c.clone(),
            None => tools::find_clang()?,
        };
        if !tools::has_libbpf_headers(&self.includes) {
            return Err(BuildError::NoLibbpfHeaders);
        }
        self.watch_env();
        let vmlinux_dir = vmlinux::prepare(&self.vmlinux, &out_dir.join("corebpf-include"))?;
        let args = self.common_args(vmlinux_dir)?;
        let objs = self
            .sources
            .iter()
            .map(|src| self.compile_one(&clang, &args, src, &out_dir))
            .collect::<Result<Vec<_>, _>>()?;
        match &self.link {
            Some(name) => Ok(vec![self.link_objects(&objs, name, &out_dir)?]),
            None => Ok(objs),
        }
    }

    /// Links `objs` into `out_dir/<name>.bpf.o` (and its skeleton, if asked for).
    fn link_objects(
        &self,
        objs: &[PathBuf],
        name: &str,
        out_dir: &Path,
    ) -> Result<PathBuf, BuildError> {
        let linked = corebpf_obj::linker::link_files(objs).map_err(BuildError::Link)?;
        let out = out_dir.join(format!("{name}.bpf.o"));
        std::fs::write(&out, linked).map_err(|e| BuildError::Io(out.display().to_string(), e))?;
        if self.skeleton {
            self.write_skeleton(&out, &format!("{name}.bpf"))?;
        }
        Ok(out)
    }

    /// The flags every source gets.
    fn common_args(&self, vmlinux_dir: Option<PathBuf>) -> Result<Vec<String>, BuildError> {
        let mut args: Vec<String> = ["-O2", "-g", "-target", "bpf", "-Wall"]
            .map(String::from)
            .to_vec();
        args.push(tools::target_arch_define()?);
        args.extend(self.defines.iter().cloned());
        let includes = vmlinux_dir.iter().chain(&self.includes);
        args.extend(includes.map(|d| format!("-I{}", d.display())));
        if let Some(m) = tools::multiarch_include() {
            args.push("-idirafter".into());
            args.push(m.display().to_string());
        }
        args.extend(self.flags.iter().cloned());
        Ok(args)
    }

    /// Compiles `src` into `out_dir`, strips it, and tells cargo what it read.
    fn compile_one(
        &self,
        clang: &Path,
        args: &[String],
        src: &Path,
        out_dir: &Path,
    ) -> Result<PathBuf, BuildError> {
        let name = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name.strip_suffix(".c").unwrap_or(&name);
        let obj = out_dir.join(format!("{stem}.o"));
        let dep = out_dir.join(format!("{stem}.d"));
        let mut cmd = Command::new(clang);
        cmd.args(args).arg("-MD").arg("-MF").arg(&dep);
        cmd.arg("-c").arg(src).arg("-o").arg(&obj);
        run(&mut cmd, src, "clang")?;
        if self.strip {
            self.strip_debug(clang, &obj, src)?;
        }
        if self.skeleton && self.link.is_none() {
            self.write_skeleton(&obj, stem)?;
        }
        if self.cargo {
            println!("cargo:rerun-if-changed={}", src.display());
            let text = std::fs::read_to_string(&dep).unwrap_or_default();
            for p in depfile::prerequisites(&text) {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
        Ok(obj)
    }

    /// `llvm-strip -g` on `obj`; without an llvm-strip the object keeps its DWARF (it
    /// loads the same, only bigger) and cargo prints a warning.
    fn strip_debug(&self, clang: &Path, obj: &Path, src: &Path) -> Result<(), BuildError> {
        let Some(strip) = tools::find_strip(clang) else {
            if self.cargo {
                println!(
                    "cargo:warning=no llvm-strip found: {} keeps its DWARF debug info",
                    obj.display()
                );
            }
            return Ok(());
        };
        run(Command::new(&strip).arg("-g").arg(obj), src, "llvm-strip")
    }

    /// Writes `<stem>.skel.rs` (stem without `.bpf`) for object `obj`.
    fn write_skeleton(&self, obj: &Path, stem: &str) -> Result<(), BuildError> {
        let err = |reason: String| BuildError::Skeleton {
            object: obj.display().to_string(),
            reason,
        };
        let name = stem.strip_suffix(".bpf").unwrap_or(stem);
        let spec = corebpf_obj::ObjectSpec::from_file(obj).map_err(|e| err(e.to_string()))?;
        let abs = std::fs::canonicalize(obj).map_err(|e| err(e.to_string()))?;
        let opts = corebpf_gen::Options {
            name: Some(name.to_string()),
            object_path: abs.display().to_string(),
            types: self.skeleton_types.clone(),
        };
        let text = corebpf_gen::generate(&spec, &opts).map_err(|e| err(e.to_string()))?;
        let out = obj.with_file_name(format!("{name}.skel.rs"));
        std::fs::write(&out, text).map_err(|e| BuildError::Io(out.display().to_string(), e))
    }

    /// Rebuilds when the variables that pick the tools change.
    fn watch_env(&self) {
        if self.cargo {
            for v in ["BPF_CLANG", "CLANG", "LLVM_STRIP"] {
                println!("cargo:rerun-if-env-changed={v}");
            }
        }
    }
}

/// Runs `cmd` for `src`, turning a failure into [`BuildError::Compile`] with its output.
fn run(cmd: &mut Command, src: &Path, tool: &str) -> Result<(), BuildError> {
    let out = cmd.output().map_err(|error| BuildError::Run {
        tool: format!("{cmd:?}"),
        error,
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(BuildError::Compile {
        source_file: src.display().to_string(),
        tool: tool.into(),
        command: format!("{cmd:?}"),
        diagnostics: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
