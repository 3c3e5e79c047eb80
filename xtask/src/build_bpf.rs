//! `cargo xtask build-bpf`: compile the BPF C corpus with every supported clang.
//!
//! Sources: every `testdata/bpf/**/*.bpf.c`; then the USDT test binaries of `testdata/usdt`
//! (gcc, see `build_usdt.rs`). The examples' BPF C is not here: `examples/build.rs` compiles
//! it with corebpf-build, as a user's crate does.
//! Outputs: `testdata/bpf/out/clang<major>/<name>.bpf.o` for each compiler (default: `clang`
//! and `clang-19`; the static linker's multi-file project `testdata/bpf/link/` goes to
//! `testdata/bpf/out/link/clang<major>/`), stripped of DWARF with `llvm-strip -g` (which keeps `.BTF` and `.BTF.ext`).
//! Sources containing the marker `corebpf-build: target` (the CO-RE families) are compiled a
//! second time with `-DTARGET` into `<name>.target.bpf.o`; that object's `.BTF` is the "target
//! kernel" BTF the tests relocate `<name>.bpf.o` against.
//!
//! Options:
//! - `--clang PATH` (repeatable): use these compilers instead of the defaults;
//! - `--check`: build into a temporary directory and report committed objects that differ;
//! - `--regen-vmlinux`: regenerate `target/bpf-include/vmlinux.h` even if it exists.
//!
//! Builds are reproducible: clang runs from the workspace root on relative paths and with
//! `-ffile-prefix-map=<root>=.`, so no absolute path reaches `.BTF`/`.BTF.ext` strings.
//! Objects that include `vmlinux.h` depend on the BTF of the kernel that generated it; `--check`
//! on another kernel reports them as different, which is expected.
//!
//! `bpftool` is a build-time tool only (to dump `vmlinux.h`); set `COREBPF_VMLINUX_H` to a
//! ready header to build without it. Nothing here is a runtime dependency of the library.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The marker a source carries when it must also be built with `-DTARGET`.
const TARGET_MARKER: &str = "corebpf-build: target";

/// The directory scanned for `*.bpf.c`, relative to the workspace root.
const SOURCE_ROOT: &str = "testdata/bpf";

/// Where every object goes (under `clang<major>/`), relative to the workspace root.
const OUT_ROOT: &str = "testdata/bpf/out";

/// Default compilers: Debian 12's default clang (14) and clang-19.
const DEFAULT_COMPILERS: &[&str] = &["clang", "clang-19"];

struct Options {
    compilers: Vec<String>,
    check: bool,
    regen_vmlinux: bool,
    /// Build only sources whose path contains one of these (`--only`), e.g. to add one
    /// object without rebuilding the vmlinux-dependent ones.
    only: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        compilers: Vec::new(),
        check: false,
        regen_vmlinux: false,
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--clang" => {
                let p = it.next().ok_or("--clang needs a PATH")?;
                opts.compilers.push(p.clone());
            }
            "--check" => opts.check = true,
            "--regen-vmlinux" => opts.regen_vmlinux = true,
            "--only" => {
                let part = it.next().ok_or("--only needs a path fragment")?;
                opts.only.push(part.clone());
            }
            "-h" | "--help" => {
                return Err(
                    "usage: cargo xtask build-bpf [--clang PATH]... [--check] [--regen-vmlinux] [--only PATH-FRAGMENT]..."
                        .into(),
                )
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if opts.compilers.is_empty() {
        opts.compilers = DEFAULT_COMPILERS.iter().map(|s| s.to_string()).collect();
    }
    Ok(opts)
}

/// A compiler with the `llvm-strip` from the same LLVM installation.
struct Compiler {
    clang: String,
    strip: String,
    /// Output subdirectory name: `clang<major>`.
    tag: String,
}

fn workspace_root() -> PathBuf {
    // xtask's manifest dir is <root>/xtask.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}

fn run_cmd(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed ({}):\n{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if !out.stderr.is_empty() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(out.stdout)
}

fn probe_compiler(clang: &str) -> Result<Compiler, String> {
    let v = run_cmd(Command::new(clang).arg("--version"))?;
    let v = String::from_utf8_lossy(&v);
    // "Debian clang version 19.1.7 (...)" / "clang version 14.0.6"
    let major = v
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .and_then(|ver| ver.split('.').next())
        .ok_or_else(|| format!("cannot parse `{clang} --version`: {v}"))?
        .to_string();
    // Prefer llvm-strip from clang's own installation directory, then llvm-strip-<major>.
    let installed = v
        .lines()
        .find_map(|l| l.strip_prefix("InstalledDir: "))
        .map(|d| PathBuf::from(d.trim()).join("llvm-strip"));
    let strip = match installed {
        Some(p) if p.exists() => p.to_string_lossy().into_owned(),
        _ if which(&format!("llvm-strip-{major}")) => format!("llvm-strip-{major}"),
        _ => "llvm-strip".to_string(),
    };
    Ok(Compiler {
        clang: clang.to_string(),
        strip,
        tag: format!("clang{major}"),
    })
}

fn which(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// Produces the `vmlinux.h` used by sources that include it, and returns its directory.
///
/// Order: `$COREBPF_VMLINUX_H` if set (a ready header, copied so the include dir is stable);
/// otherwise corebpf's own C dump of `/sys/kernel/btf/vmlinux` (`corebpf_btf::cdump`, the
/// same code as `corebpf btf dump --format c`): the project builds its corpus with its own
/// BTF dumper, which its tests compare with bpftool's.
fn generate_vmlinux_h(root: &Path, regen: bool) -> Result<PathBuf, String> {
    let dir = root.join("target/bpf-include");
    let out = dir.join("vmlinux.h");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Some(given) = std::env::var_os("COREBPF_VMLINUX_H") {
        fs::copy(&given, &out).map_err(|e| format!("COREBPF_VMLINUX_H={given:?}: {e}"))?;
        return Ok(dir);
    }
    if out.exists() && !regen {
        return Ok(dir);
    }
    eprintln!("generating {} with corebpf's BTF dumper", out.display());
    let btf =
        corebpf_btf::Btf::from_sys_fs().map_err(|e| format!("/sys/kernel/btf/vmlinux: {e}"))?;
    let hdr =
        corebpf_btf::cdump::to_c_header(&btf).map_err(|e| format!("dumping vmlinux.h: {e}"))?;
    fs::write(&out, hdr).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(dir)
}

fn find_sources(dir: &Path, acc: &mut Vec<PathBuf>) -> Result<(), String> {
    let rd = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "out" || n == "target") {
                continue;
            }
            find_sources(&p, acc)?;
        } else if p.to_string_lossy().ends_with(".bpf.c") {
            acc.push(p);
        }
    }
    Ok(())
}

/// Sources under this directory (of `SOURCE_ROOT`) are halves of a multi-file project for
/// the static linker's tests: they go to `out/link/clang<major>/`, not among the standalone
/// objects that corpus-wide tests parse, link and load one by one.
const LINK_DIR: &str = "link";

/// One compile job: a source, whether it is the `-DTARGET` variant, and its object's name.
struct Job {
    src: PathBuf,
    target_variant: bool,
    /// `<name>.bpf.o` or `<name>.target.bpf.o`.
    obj_name: String,
    /// Subdirectory of `OUT_ROOT` above `clang<major>/` (`""` or `"link"`).
    out_sub: &'static str,
}

fn jobs_for(root: &Path) -> Result<Vec<Job>, String> {
    let mut srcs = Vec::new();
    find_sources(&root.join(SOURCE_ROOT), &mut srcs)?;
    let mut jobs = Vec::new();
    for src in srcs {
        let rel = src.strip_prefix(root).unwrap().to_path_buf();
        let name = rel
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".bpf.c")
            .to_string();
        let text = fs::read_to_string(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        let out_sub = if rel.starts_with(Path::new(SOURCE_ROOT).join(LINK_DIR)) {
            LINK_DIR
        } else {
            ""
        };
        jobs.push(Job {
            src: rel.clone(),
            target_variant: false,
            obj_name: format!("{name}.bpf.o"),
            out_sub,
        });
        if text.contains(TARGET_MARKER) {
            jobs.push(Job {
                src: rel,
                target_variant: true,
                obj_name: format!("{name}.target.bpf.o"),
                out_sub,
            });
        }
    }
    Ok(jobs)
}

fn compile(
    root: &Path,
    cc: &Compiler,
    job: &Job,
    inc_vmlinux: &Path,
    out: &Path,
) -> Result<(), String> {
    if let Some(p) = out.parent() {
        fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let mut cmd = Command::new(&cc.clang);
    cmd.current_dir(root)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-D__TARGET_ARCH_x86",
            "-Wall",
            "-Wno-unused-function",
        ])
        .arg(format!("-ffile-prefix-map={}=.", root.display()))
        .arg(format!(
            "-ffile-prefix-map={}=/bpf-include",
            inc_vmlinux.display()
        ))
        .args(["-I", "testdata/include", "-I"])
        .arg(inc_vmlinux);
    // <linux/types.h> includes <asm/types.h>, which Debian keeps in the multiarch directory.
    let multiarch = Path::new("/usr/include/x86_64-linux-gnu");
    if multiarch.is_dir() {
        cmd.arg("-idirafter").arg(multiarch);
    }
    if job.target_variant {
        cmd.arg("-DTARGET");
    }
    cmd.arg("-c").arg(&job.src).arg("-o").arg(out);
    run_cmd(&mut cmd)?;
    run_cmd(Command::new(&cc.strip).arg("-g").arg(out))?;
    Ok(())
}

/// Runs the subcommand with its arguments.
pub fn run(args: &[String]) -> Result<(), String> {
    let opts = parse_args(args)?;
    let root = workspace_root();
    let compilers = opts
        .compilers
        .iter()
        .map(|c| probe_compiler(c))
        .collect::<Result<Vec<_>, _>>()?;
    let inc = generate_vmlinux_h(&root, opts.regen_vmlinux)?;
    let mut jobs = jobs_for(&root)?;
    if !opts.only.is_empty() {
        jobs.retain(|j| {
            let src = j.src.to_string_lossy();
            opts.only.iter().any(|o| src.contains(o.as_str()))
        });
    }

    let tmp = std::env::temp_dir().join(format!("corebpf-build-bpf-{}", std::process::id()));
    let mut differ = Vec::new();
    let mut built = 0;
    for cc in &compilers {
        for job in &jobs {
            // Outputs of testdata/bpf/<sub>/x.bpf.c all go to testdata/bpf/out (link/ aside).
            let rel_out = Path::new(OUT_ROOT).join(job.out_sub).join(&cc.tag);
            let committed = root.join(&rel_out).join(&job.obj_name);
            let dest = if opts.check {
                tmp.join(&rel_out).join(&job.obj_name)
            } else {
                committed.clone()
            };
            compile(&root, cc, job, &inc, &dest)
                .map_err(|e| format!("{} with {}: {e}", job.src.display(), cc.clang))?;
            built += 1;
            if opts.check {
                let same = fs::read(&committed).ok() == fs::read(&dest).ok();
                if !same {
                    differ.push(committed.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
    }
    differ.extend(crate::build_usdt::build(&root, opts.check)?);
    if opts.check {
        let _ = fs::remove_dir_all(&tmp);
        if !differ.is_empty() {
            return Err(format!(
                "{} of {built} objects differ from the committed ones (rerun `cargo xtask build-bpf`):\n  {}",
                differ.len(),
                differ.join("\n  ")
            ));
        }
        eprintln!("all {built} objects match the committed ones");
    } else {
        eprintln!(
            "built {built} objects ({} sources x {} compilers)",
            jobs.len(),
            compilers.len()
        );
    }
    Ok(())
}
