//! `cargo xtask vm-test`: run the workspace's integration tests in QEMU guests booting
//! Debian's cloud kernels 5.10 (bullseye), 6.1 and 6.12 (bookworm), and on request 7.2 (sid),
//! under TCG by default.
//!
//! ```text
//! cargo xtask vm-test [--kernel 5.10|6.1|6.12|7.2]... [--smoke] [-p PACKAGE]... [--bin PATH]...
//!                     [--unit] [--module NAME]... [--timeout SECS] [--memory SIZE] [--kvm]
//!                     [--quiet] [--keep-initrd] [-- TEST_ARGS...]
//! ```
//!
//! - `--kernel`: the kernels to boot (default: all but 7.2, oldest first); each one runs even
//!   if an earlier one failed, and the command fails if any did.
//! - `--smoke`: only the built-in checks (BTF, kprobe PMU, a kprobe event, bpffs, cgroup2,
//!   a veth pair); nothing is built.
//! - `-p/--package`: build the integration tests of these packages only (default: the
//!   kernel-facing ones, [`bins::VM_PACKAGES`]).
//! - `--bin PATH`: run these executables instead of building anything.
//! - `--unit`: also run the lib/bin unit-test executables (default: `tests/*.rs` only).
//! - `--module NAME`: load this kernel module too (the defaults are in [`modules::DEFAULT_MODULES`]).
//! - `--timeout SECS`: per kernel, default 600 (the guest is killed then and the kernel fails).
//! - `--kvm`: use KVM (stock kernels fail under this host's `/dev/kvm`: TCG is the default).
//! - `--quiet`: print the guest console only for a kernel that failed.
//! - `--keep-initrd`: keep `run/<version>/initrd.cpio` (removed after the boot by default).
//! - `TEST_ARGS` go to every test executable, after `--test-threads=1`.
//!
//! Each test executable runs as root with its package directory (as on the host) as working
//! directory and these environment variables:
//! - `COREBPF_TESTDATA=/testdata`: the workspace's `testdata/`. Tests should locate data with
//!   `std::env::var("COREBPF_TESTDATA")`, falling back to
//!   `concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")` (which also resolves in the guest,
//!   where `<workspace>/testdata` is a link to `/testdata`);
//! - `COREBPF_VM=1`: set only in the guest;
//! - `CARGO_MANIFEST_DIR`: the package directory, as `cargo test` sets it.
//!
//! Downloads and per-run files live in `<workspace>/target/vm-cache` (or `$COREBPF_VM_CACHE`),
//! under the default `target/` whatever `CARGO_TARGET_DIR` says, so CI's cache of `target/`
//! keeps them: see [`kernel`] for the kernel cache (about 75 MB per kernel); `run/<version>/`
//! holds the last run's `console.log` and `status` (and `initrd.cpio` with `--keep-initrd`).
//! Host tools missing from the machine are installed with apt (see [`host::HOST_PACKAGES`]).
//!
//! Timing under TCG on 2 cores: a kernel boots to `/init` in 2.5-4.5 s and the smoke checks
//! end 0.5-1 s later; CPU-heavy tests run 8-10x slower than on the host, so keep the suite lean.

mod bins;
mod cpio;
mod host;
mod initramfs;
mod kernel;
mod modules;
mod qemu;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bins::TestBin;
use initramfs::Mode;
use kernel::Kernel;

pub use host::{ensure_packages, workspace_root};

/// The kernel versions the harness can boot, oldest first.
pub fn kernel_versions() -> Vec<&'static str> {
    kernel::KERNELS.iter().map(|k| k.version).collect()
}

/// The kernel versions `vm-test` boots when no `--kernel` is given, oldest first.
fn default_kernel_versions() -> Vec<&'static str> {
    kernel::KERNELS
        .iter()
        .filter(|k| k.default)
        .map(|k| k.version)
        .collect()
}

/// Parsed command line.
struct Options {
    kernels: Vec<String>,
    smoke: bool,
    packages: Vec<String>,
    bins: Vec<PathBuf>,
    unit: bool,
    modules: Vec<String>,
    timeout: Duration,
    memory: String,
    kvm: bool,
    quiet: bool,
    keep_initrd: bool,
    test_args: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        kernels: Vec::new(),
        smoke: false,
        packages: Vec::new(),
        bins: Vec::new(),
        unit: false,
        modules: modules::DEFAULT_MODULES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        timeout: Duration::from_secs(600),
        memory: "3G".into(),
        kvm: false,
        quiet: false,
        keep_initrd: false,
        test_args: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs {what}"))
        };
        match a.as_str() {
            "--kernel" => {
                let v = value("a version")?;
                kernel::spec(&v)?;
                o.kernels.push(v);
            }
            "--smoke" => o.smoke = true,
            "-p" | "--package" => o.packages.push(value("a package")?),
            "--bin" => o.bins.push(value("a PATH")?.into()),
            "--unit" => o.unit = true,
            "--module" => o.modules.push(value("a module name")?),
            "--timeout" => {
                let v = value("seconds")?;
                let s: u64 = v
                    .parse()
                    .map_err(|_| format!("--timeout: bad number '{v}'"))?;
                o.timeout = Duration::from_secs(s);
            }
            "--memory" => o.memory = value("a size")?,
            "--kvm" => o.kvm = true,
            "--quiet" => o.quiet = true,
            "--keep-initrd" => o.keep_initrd = true,
            "--" => {
                o.test_args = it.by_ref().cloned().collect();
            }
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument '{other}'\n{}", usage())),
        }
    }
    if o.kernels.is_empty() {
        o.kernels = default_kernel_versions()
            .iter()
            .map(|v| v.to_string())
            .collect();
    }
    Ok(o)
}

fn usage() -> String {
    "usage: cargo xtask vm-test [--kernel 5.10|6.1|6.12|7.2]... [--smoke] [-p PACKAGE]... \
     [--bin PATH]... [--unit] [--module NAME]... [--timeout SECS] [--memory SIZE] [--kvm] \
     [--quiet] [--keep-initrd] [-- TEST_ARGS...]"
        .into()
}

/// Runs `cargo xtask vm-test`.
pub fn run(args: &[String]) -> Result<(), String> {
    let o = parse_args(args)?;
    host::ensure_packages(host::HOST_PACKAGES)?;
    let bins = if o.smoke {
        Vec::new()
    } else if !o.bins.is_empty() {
        bins::from_paths(&o.bins)?
    } else {
        bins::build(&o.packages, o.unit)?
    };
    let mode = if o.smoke { Mode::Smoke } else { Mode::Test };
    if mode == Mode::Test {
        if bins.is_empty() {
            eprintln!("vm: no test executables were built: the guests run the smoke checks only");
        }
        for b in &bins {
            eprintln!("vm: test executable {} ({})", b.name, b.path.display());
        }
    }
    let mut results = Vec::new();
    for v in &o.kernels {
        let r = run_kernel(v, &o, mode, &bins);
        if let Err(e) = &r {
            eprintln!("vm: kernel {v}: FAILED: {e}");
        }
        results.push((v.clone(), r));
    }
    eprintln!("\nvm-test summary ({}):", if o.kvm { "KVM" } else { "TCG" });
    let mut failed = 0;
    for (v, r) in &results {
        match r {
            Ok(line) => eprintln!("  {v:<5} ok      {line}"),
            Err(e) => {
                failed += 1;
                eprintln!("  {v:<5} FAILED  {e}");
            }
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {} kernels failed", results.len()));
    }
    Ok(())
}

/// Fetches, boots and checks one kernel; returns a one-line report.
fn run_kernel(version: &str, o: &Options, mode: Mode, bins: &[TestBin]) -> Result<String, String> {
    let k = kernel::fetch(version)?;
    eprintln!("vm: kernel {version}: {} {}", k.package, k.package_version);
    let mods = modules::resolve(&k.modules_dir, &o.modules)?;
    let workdir = host::cache_dir().join("run").join(version);
    std::fs::create_dir_all(&workdir)
        .map_err(|e| format!("cannot create {}: {e}", workdir.display()))?;
    let initrd = workdir.join("initrd.cpio");
    let t = Instant::now();
    initramfs::build(&initrd, mode, &mods, bins, &o.test_args)?;
    eprintln!(
        "vm: kernel {version}: initramfs of {} MB built in {:.1} s",
        std::fs::metadata(&initrd).map_or(0, |m| m.len()) >> 20,
        t.elapsed().as_secs_f64()
    );
    let out = boot(&k, &initrd, &workdir, o, false);
    if !o.keep_initrd {
        // Tens of MB per kernel that CI would otherwise cache with target/.
        let _ = std::fs::remove_file(&initrd);
    }
    let out = out?;
    let report = check(&out, bins);
    let times = format!(
        "boot {} s, wall {:.1} s ({} {})",
        out.boot_time
            .map_or("?".into(), |t| format!("{:.1}", t.as_secs_f64())),
        out.wall.as_secs_f64(),
        k.package,
        k.package_version
    );
    eprintln!("vm: kernel {version}: {times}");
    if report.is_err() && o.quiet {
        let log = std::fs::read_to_string(&out.console_log).unwrap_or_default();
        eprintln!("vm: kernel {version}: guest console:\n{log}");
    }
    let passed = report?;
    Ok(format!("{passed}; {times}"))
}

/// Boots `k` with `initrd` and the options' limits.
fn boot(
    k: &Kernel,
    initrd: &std::path::Path,
    workdir: &std::path::Path,
    o: &Options,
    data_port: bool,
) -> Result<qemu::Outcome, String> {
    qemu::boot(&qemu::Boot {
        label: k.version,
        kernel: &k.vmlinuz,
        initrd,
        workdir,
        timeout: o.timeout,
        kvm: o.kvm,
        memory: &o.memory,
        data_port,
        echo: !o.quiet,
    })
}

/// Reads the guest's status lines: every smoke check, module and test must have passed and
/// the guest must have reached its end. Returns a summary of what passed.
fn check(out: &qemu::Outcome, bins: &[TestBin]) -> Result<String, String> {
    let mut problems = Vec::new();
    if out.timed_out {
        // The first executable without a result is the one that hung (or none had started).
        let hung = bins.iter().find(|b| {
            !out.status
                .iter()
                .any(|l| l.starts_with(&format!("test {} ", b.name)))
        });
        problems.push(format!(
            "timed out after {:.0} s {} (qemu killed)",
            out.wall.as_secs_f64(),
            hung.map_or("before the end".to_string(), |b| format!(
                "in or before {}",
                b.name
            ))
        ));
    }
    if !out.status.iter().any(|l| l.starts_with("boot ")) {
        problems.push("the guest never reached /init".to_string());
    }
    let (mut smoke_ok, mut tests_ok) = (0, 0);
    for l in &out.status {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["smoke", "ok", _] => smoke_ok += 1,
            ["smoke", "fail", name] => problems.push(format!("smoke check {name} failed")),
            ["module", "fail", name] => problems.push(format!("insmod {name} failed")),
            ["mount", "fail", fs] => problems.push(format!("mounting {fs} failed")),
            ["test", name, "0"] => {
                let _ = name;
                tests_ok += 1
            }
            ["test", name, rc] => problems.push(format!("{name} exited with {rc}")),
            _ => {}
        }
    }
    for b in bins {
        let prefix = format!("test {} ", b.name);
        if !out.status.iter().any(|l| l.starts_with(&prefix)) && !out.timed_out {
            problems.push(format!("{} did not report (guest stopped early?)", b.name));
        }
    }
    match out.done() {
        Some(_) => {}
        None if out.timed_out => {}
        None => problems.push(format!(
            "the guest stopped before its end (qemu: {}; see {})",
            out.qemu_status.map_or("killed".into(), |s| s.to_string()),
            out.console_log.display()
        )),
    }
    if problems.is_empty() && out.done() != Some(0) {
        problems.push(format!("the guest reported status {:?}", out.done()));
    }
    if problems.is_empty() {
        let tests = if bins.is_empty() {
            String::new()
        } else {
            format!(", {tests_ok}/{} test executables", bins.len())
        };
        Ok(format!("passed: {smoke_ok} smoke checks{tests}"))
    } else {
        Err(problems.join("; "))
    }
}

/// Boots kernel `version` and returns it with the raw bytes of its `/sys/kernel/btf/vmlinux`
/// (for `cargo xtask extract-btf`).
pub fn kernel_btf(version: &str, timeout: Duration) -> Result<(Kernel, Vec<u8>), String> {
    host::ensure_packages(host::HOST_PACKAGES)?;
    let k = kernel::fetch(version)?;
    eprintln!("vm: kernel {version}: {} {}", k.package, k.package_version);
    let workdir = host::cache_dir().join("run").join(format!("{version}-btf"));
    std::fs::create_dir_all(&workdir)
        .map_err(|e| format!("cannot create {}: {e}", workdir.display()))?;
    let initrd = workdir.join("initrd.cpio");
    initramfs::build(&initrd, Mode::Btf, &[], &[], &[])?;
    let o = parse_args(&["--timeout".into(), timeout.as_secs().to_string()])?;
    let out = boot(&k, &initrd, &workdir, &o, true);
    let _ = std::fs::remove_file(&initrd);
    let out = out?;
    check(&out, &[])?;
    let size: usize = out
        .status
        .iter()
        .find_map(|l| l.strip_prefix("btf ")?.trim().parse().ok())
        .ok_or("the guest reported no BTF size")?;
    let path = out.data.as_ref().ok_or("no data port")?;
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if data.len() != size {
        return Err(format!(
            "got {} bytes of BTF, the guest sent {size}",
            data.len()
        ));
    }
    Ok((k, data))
}
