//! `corebpf btf min OBJ... --btf FULL -o MIN` and `--btf-dir DIR -o OUTDIR`: minimal BTF
//! for the objects' CO-RE relocations (`bpftool gen min_core_btf`), for one kernel or for
//! every kernel of a BTF archive.

use std::error::Error;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};

use corebpf_btf::min::MinBtf;
use corebpf_btf::{Btf, BtfExt};

use super::{read_btf, usage, Exit};

/// The long help of `corebpf btf min`.
pub const LONG_ABOUT: &str = "Write minimal BTF for the CO-RE relocations of BPF objects, as \
    `bpftool gen min_core_btf` does: only the types, members and enum values the \
    relocations touch in a kernel's BTF (kilobytes instead of megabytes), so that a tool can \
    ship one file per kernel for kernels without /sys/kernel/btf/vmlinux. Relocating the \
    objects against it gives the same result as against the full BTF (a `type_id_target` \
    relocation gets the minimal BTF's id of the same type). Load it with \
    `ObjectBuilder::btf_file` or `corebpf relocate --btf`.\n\n\
    With --btf, one kernel: -o is the output file. With --btf-dir, every *.btf and *.btf.gz \
    file under DIR (searched recursively, as BTF archives nest them by distribution and \
    release): -o is a directory that gets the same relative paths, as plain BTF (NAME.btf) \
    or with --gzip NAME.btf.gz; a progress line per kernel (one updating line on a \
    terminal) and the total sizes are printed.";

/// Arguments of `corebpf btf min`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
        corebpf btf min prog.bpf.o --btf 5.10.btf.gz -o 5.10.min.btf\n  \
        corebpf btf min a.bpf.o b.bpf.o --btf-dir btfhub-archive/ -o min-btfs/ --gzip")]
pub struct MinArgs {
    /// BPF objects whose CO-RE relocations decide what is kept.
    #[arg(required = true, value_name = "OBJ")]
    pub objects: Vec<PathBuf>,
    /// The full BTF of one kernel (raw, an ELF object with .BTF, either gzip-compressed).
    #[arg(long, value_name = "FILE", required_unless_present = "btf_dir")]
    pub btf: Option<PathBuf>,
    /// A directory of kernels' BTF files (*.btf, *.btf.gz, searched recursively).
    #[arg(long, value_name = "DIR", conflicts_with = "btf")]
    pub btf_dir: Option<PathBuf>,
    /// The output file (with --btf) or directory (with --btf-dir).
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
    /// With --btf-dir: write NAME.btf.gz instead of NAME.btf.
    #[arg(long, requires = "btf_dir")]
    pub gzip: bool,
}

/// One object's BTF and `.BTF.ext`, read once for every kernel.
struct Object {
    name: String,
    btf: Btf,
    ext: BtfExt,
}

/// Runs `corebpf btf min`.
pub fn run(a: MinArgs) -> Result<Exit, Box<dyn Error>> {
    let objects = read_objects(&a.objects)?;
    match (&a.btf, &a.btf_dir) {
        (Some(full), None) => single(&objects, full, &a.output),
        (None, Some(dir)) => batch(&objects, dir, &a.output, a.gzip),
        _ => Err(usage("give either --btf FILE or --btf-dir DIR")),
    }
}

fn read_objects(paths: &[PathBuf]) -> Result<Vec<Object>, Box<dyn Error>> {
    let mut out = Vec::new();
    for p in paths {
        let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
        let elf = std::fs::read(p).map_err(|e| fail(&e))?;
        let btf = Btf::from_elf(&elf).map_err(|e| fail(&e))?;
        let ext = BtfExt::from_elf(&elf, &btf).map_err(|e| fail(&e))?;
        let ext = ext.unwrap_or_default();
        if ext.core_relo.iter().all(|s| s.records.is_empty()) {
            eprintln!("corebpf: {}: no CO-RE relocations", p.display());
        }
        out.push(Object {
            name: p.display().to_string(),
            btf,
            ext,
        });
    }
    Ok(out)
}

/// Minimal BTF of `full` for `objects`: the bytes, the types kept and the relocations.
fn minimize(full: &Btf, objects: &[Object]) -> Result<(Vec<u8>, usize), Box<dyn Error>> {
    let mut min = MinBtf::new(full);
    for o in objects {
        min.add_object(&o.name, &o.btf, &o.ext)?;
    }
    Ok((min.build()?, min.relocations()))
}

fn single(objects: &[Object], full_path: &Path, out: &Path) -> Result<Exit, Box<dyn Error>> {
    let full = read_btf(full_path)?;
    let (bytes, relocations) = minimize(&full, objects)?;
    std::fs::write(out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    let types = Btf::parse(&bytes)?.type_count() - 1;
    println!(
        "{}: {types} types, {} bytes (full BTF {} bytes) for {relocations} relocations of {} object(s)",
        out.display(),
        bytes.len(),
        full.raw_bytes().len(),
        objects.len()
    );
    Ok(Exit::Ok)
}

/// Every `*.btf` / `*.btf.gz` under `dir`, as paths relative to it, sorted.
fn btf_files(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for e in entries {
            let p = e.map_err(|e| format!("{}: {e}", d.display()))?.path();
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            if p.is_dir() {
                dirs.push(p);
            } else if name.ends_with(".btf") || name.ends_with(".btf.gz") {
                found.push(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Where the minimal BTF of `rel` (relative to the input directory) goes.
fn out_path(out_dir: &Path, rel: &Path, gzip: bool) -> PathBuf {
    let name = rel.to_string_lossy();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let stem = stem.strip_suffix(".btf").unwrap_or(stem);
    out_dir.join(format!("{stem}.btf{}", if gzip { ".gz" } else { "" }))
}

/// Sizes of one kernel of a batch, in bytes.
#[derive(Default)]
struct Sizes {
    /// The full BTF (uncompressed).
    full: usize,
    /// The minimal BTF (uncompressed).
    min: usize,
    /// The file written (the minimal BTF, gzip-compressed with --gzip).
    written: usize,
}

impl Sizes {
    fn add(&mut self, o: &Sizes) {
        self.full += o.full;
        self.min += o.min;
        self.written += o.written;
    }
}

impl std::fmt::Display for Sizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "minimal BTF {} bytes (full {})", self.min, self.full)?;
        if self.written != self.min {
            write!(f, ", {} bytes compressed", self.written)?;
        }
        Ok(())
    }
}

/// One kernel of a batch: its minimal BTF written to `out`.
fn one_kernel(
    objects: &[Object],
    full_path: &Path,
    out: &Path,
    gzip: bool,
) -> Result<Sizes, Box<dyn Error>> {
    let full = read_btf(full_path)?;
    let (bytes, _) = minimize(&full, objects)?;
    let min = bytes.len();
    let bytes = if gzip { gzip_bytes(&bytes)? } else { bytes };
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Sizes {
        full: full.raw_bytes().len(),
        min,
        written: bytes.len(),
    })
}

fn gzip_bytes(bytes: &[u8]) -> Result<Vec<u8>, Box<dyn Error>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    Ok(gz.finish()?)
}

/// Prints progress: one updating line on a terminal, a line per kernel otherwise.
struct Progress {
    tty: bool,
    total: usize,
}

impl Progress {
    fn line(&self, i: usize, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = if self.tty {
            write!(out, "\r\x1b[K[{}/{}] {text}", i + 1, self.total)
        } else {
            writeln!(out, "[{}/{}] {text}", i + 1, self.total)
        };
        let _ = out.flush();
    }

    /// A line that stays (a failure, or the end of the updating line).
    fn keep(&self, text: &str) {
        if self.tty {
            println!("\r\x1b[K{text}");
        } else {
            println!("{text}");
        }
    }
}

fn batch(
    objects: &[Object],
    dir: &Path,
    out_dir: &Path,
    gzip: bool,
) -> Result<Exit, Box<dyn Error>> {
    let files = btf_files(dir)?;
    if files.is_empty() {
        return Err(usage(format!(
            "{}: no *.btf or *.btf.gz files",
            dir.display()
        )));
    }
    let progress = Progress {
        tty: std::io::stdout().is_terminal(),
        total: files.len(),
    };
    let (mut total, mut failed) = (Sizes::default(), 0);
    for (i, rel) in files.iter().enumerate() {
        let out = out_path(out_dir, rel, gzip);
        match one_kernel(objects, &dir.join(rel), &out, gzip) {
            Ok(sizes) => {
                total.add(&sizes);
                progress.line(i, &format!("{}: {sizes}", out.display()));
            }
            Err(e) => {
                failed += 1;
                progress.keep(&format!("{}: FAILED: {e}", dir.join(rel).display()));
            }
        }
    }
    progress.keep(&format!(
        "{} kernel(s) written to {}: {total} in all{}",
        files.len() - failed,
        out_dir.display(),
        if failed > 0 {
            format!("; {failed} failed")
        } else {
            String::new()
        }
    ));
    Ok(if failed > 0 { Exit::Failed } else { Exit::Ok })
}
