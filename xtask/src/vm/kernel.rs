//! Debian kernels: which package each supported version comes from, fetching it with
//! `apt-get download` and unpacking it with `dpkg -x`, both cached.
//!
//! Cache layout (under [`super::host::cache_dir`]):
//! - `debs/`: where `apt-get download` puts a package, removed once unpacked;
//! - `kernels/<package>_<version>/`: their unpacked trees (`boot/vmlinuz-*` and
//!   `lib/modules/<release>/`, or for a split kernel package `usr/lib/modules/<release>/` with
//!   the `vmlinuz` in it);
//! - `apt-<suite>/`: a private apt configuration (sources list, lists, cache) for a kernel the
//!   host's suite does not ship (5.10 from bullseye, 7.2 from sid), so the host's own sources
//!   are left alone.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use super::host::{cache_dir, run_output, run_status};

/// A kernel version the harness knows how to fetch.
pub struct KernelSpec {
    /// The name used on the command line and for `testdata/btf/<version>.btf.gz`.
    pub version: &'static str,
    /// The metapackage whose dependency names the concrete kernel package.
    meta: &'static str,
    /// `None` for the host's own apt configuration (bookworm), or the suite of a private one.
    suite: Option<&'static str>,
    /// Whether `cargo xtask vm-test` boots it when no `--kernel` is given.
    pub default: bool,
}

/// Supported kernels, oldest first.
pub const KERNELS: &[KernelSpec] = &[
    KernelSpec {
        version: "5.10",
        meta: "linux-image-cloud-amd64",
        suite: Some("bullseye"),
        default: true,
    },
    KernelSpec {
        version: "6.1",
        meta: "linux-image-cloud-amd64",
        suite: None,
        default: true,
    },
    KernelSpec {
        version: "6.12",
        meta: "linux-image-6.12-cloud-amd64",
        suite: None,
        default: true,
    },
    // Debian's newest kernel, whose BTF has the 24-bit vlen / 7-bit kind `info` layout (and
    // split packages, see `Resolved::parts`). Opt-in for vm-test (`--kernel 7.2`): the
    // default run stays within CI's time.
    KernelSpec {
        version: "7.2",
        meta: "linux-image-cloud-amd64",
        suite: Some("sid"),
        default: false,
    },
];

/// Looks up a supported kernel by version.
pub fn spec(version: &str) -> Result<&'static KernelSpec, String> {
    KERNELS
        .iter()
        .find(|k| k.version == version)
        .ok_or_else(|| {
            let known: Vec<&str> = KERNELS.iter().map(|k| k.version).collect();
            format!("unknown kernel '{version}' (known: {})", known.join(", "))
        })
}

/// A fetched and unpacked kernel.
pub struct Kernel {
    /// The version as given on the command line (`6.1`).
    pub version: &'static str,
    /// The concrete Debian package (`linux-image-6.1.0-56-cloud-amd64`).
    pub package: String,
    /// Its Debian version (`6.1.192-2`).
    pub package_version: String,
    /// The kernel image.
    pub vmlinuz: PathBuf,
    /// `lib/modules/<release>` of the unpacked package.
    pub modules_dir: PathBuf,
}

/// Extra apt options that point apt at the private configuration for `suite`, after writing
/// its sources list and running `apt-get update` on it when its lists are missing or a day old.
fn apt_options(suite: Option<&str>) -> Result<Vec<String>, String> {
    // apt-get download as root otherwise warns that `_apt` cannot write into the cache.
    let mut opts = vec!["-o".to_string(), "APT::Sandbox::User=root".to_string()];
    let Some(suite) = suite else { return Ok(opts) };
    let dir = cache_dir().join(format!("apt-{suite}"));
    let lists = dir.join("lists");
    let cache = dir.join("cache");
    for d in [lists.join("partial"), cache.join("archives/partial")] {
        fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let sources = dir.join("sources.list");
    let mut text = format!("deb http://deb.debian.org/debian {suite} main\n");
    // Unstable gets no security suite (fixes land in it directly): asking for one fails.
    if !matches!(suite, "sid" | "unstable") {
        text.push_str(&format!(
            "deb http://deb.debian.org/debian-security {suite}-security main\n"
        ));
    }
    fs::write(&sources, text).map_err(|e| format!("cannot write {}: {e}", sources.display()))?;
    for (k, v) in [
        ("Dir::Etc::sourcelist", sources.display().to_string()),
        ("Dir::Etc::sourceparts", "-".to_string()),
        ("Dir::State::Lists", lists.display().to_string()),
        ("Dir::Cache", cache.display().to_string()),
    ] {
        opts.push("-o".into());
        opts.push(format!("{k}={v}"));
    }
    // Our own stamp: Debian's container images turn apt's pkgcache.bin off.
    let stamp = dir.join("updated");
    let fresh = fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .map(|t| {
            SystemTime::now().duration_since(t).unwrap_or_default() < Duration::from_secs(86400)
        })
        .unwrap_or(false);
    if !fresh {
        eprintln!(
            "vm: apt-get update for {suite} (private lists under {})",
            dir.display()
        );
        match run_output(Command::new("apt-get").args(&opts).arg("update")) {
            Ok(_) => fs::write(&stamp, b"")
                .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?,
            // Old lists still name a package that may be in the cache already.
            Err(e) if stamp.exists() => eprintln!("vm: warning: {e}; using the old {suite} lists"),
            Err(e) => return Err(e),
        }
    }
    Ok(opts)
}

/// A concrete kernel package and the packages that make up its files.
struct Resolved {
    /// The `linux-image-<release>` package.
    package: String,
    /// Its candidate version.
    version: String,
    /// The `(name, version)` of every package to unpack: the image package itself, then the
    /// `linux-binary-<release>`, `linux-modules-<release>` and `linux-base-<release>` it depends on
    /// where Debian splits the kernel (sid, since 7.x), whose image package holds no files.
    parts: Vec<(String, String)>,
}

/// Resolves `spec`'s metapackage to the concrete kernel package, its candidate version and the
/// packages its files come in.
fn resolve(spec: &KernelSpec, opts: &[String]) -> Result<Resolved, String> {
    let deps = run_output(
        Command::new("apt-cache")
            .args(opts)
            .args(["depends", spec.meta]),
    )?;
    let package = deps
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-cloud-amd64"))
        .ok_or_else(|| format!("{} has no linux-image-*-cloud-amd64 dependency", spec.meta))?
        .to_string();
    // sid's metapackage moves on to the next series: never boot that under this version's name.
    if !package.starts_with(&format!("linux-image-{}.", spec.version)) {
        return Err(format!(
            "{} now depends on {package}, not a {} kernel",
            spec.meta, spec.version
        ));
    }
    let show = run_output(Command::new("apt-cache").args(opts).args([
        "show",
        "--no-all-versions",
        &package,
    ]))?;
    let field = |name: &str| {
        show.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .map(str::trim)
    };
    let version = field("Version")
        .ok_or_else(|| format!("apt-cache show {package} printed no Version"))?
        .to_string();
    let mut parts = vec![(package.clone(), version.clone())];
    parts.extend(split_parts(
        &package,
        &version,
        field("Depends").unwrap_or(""),
    ));
    Ok(Resolved {
        package,
        version,
        parts,
    })
}

/// The packages of the same kernel release that the image package `package` depends on
/// (`linux-binary-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)`, ...), from its `Depends` field, with
/// the version each is pinned to (`version` if it is not pinned).
fn split_parts(package: &str, version: &str, depends: &str) -> Vec<(String, String)> {
    let Some(release) = package.strip_prefix("linux-image-") else {
        return Vec::new();
    };
    let suffix = format!("-{release}");
    depends
        .split(',')
        .map(str::trim)
        // Alternatives (`a | b`) are never a part of the kernel itself.
        .filter(|d| !d.contains('|'))
        .filter_map(|d| {
            let (name, constraint) = d.split_once(' ').unwrap_or((d, ""));
            let pinned = constraint
                .trim()
                .strip_prefix("(=")
                .and_then(|v| v.strip_suffix(')'))
                .map_or(version, str::trim);
            (name.starts_with("linux-") && name.ends_with(&suffix))
                .then(|| (name.to_string(), pinned.to_string()))
        })
        .collect()
}

/// Fetches (if not cached) and unpacks (if not already) the kernel `version`.
///
/// When apt cannot say or fetch the current package (no network), an already unpacked
/// package of the same series in the cache is used instead, with a warning.
pub fn fetch(version: &str) -> Result<Kernel, String> {
    let spec = spec(version)?;
    fetch_current(spec)
        .or_else(|e| {
            // Stale lists name a package the archive no longer has, and a fresh machine may
            // have no lists at all: update them and try once more.
            eprintln!("vm: {e}; updating the package lists and retrying");
            update(spec.suite)?;
            fetch_current(spec)
        })
        .or_else(|e| {
            let cached = cached(spec).ok_or(e.clone())?;
            eprintln!("vm: warning: {e}; using cached {}", cached.display());
            unpacked(spec, &cached)
        })
}

/// Runs `apt-get update` for the host's sources, or forces it for a private `suite`.
fn update(suite: Option<&str>) -> Result<(), String> {
    match suite {
        None => run_output(Command::new("apt-get").arg("update")).map(|_| ()),
        Some(s) => {
            let _ = fs::remove_file(cache_dir().join(format!("apt-{s}")).join("updated"));
            apt_options(Some(s)).map(|_| ())
        }
    }
}

/// The newest (by name) unpacked package of `spec`'s series in the cache.
fn cached(spec: &KernelSpec) -> Option<PathBuf> {
    let prefix = format!("linux-image-{}.", spec.version);
    let mut dirs: Vec<PathBuf> = fs::read_dir(cache_dir().join("kernels"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(".unpacked").exists())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Describes an unpacked package tree named `<package>_<version>`.
fn unpacked(spec: &KernelSpec, tree: &Path) -> Result<Kernel, String> {
    let name = tree
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let (package, package_version) = name.split_once('_').unwrap_or((&name, "?"));
    let modules_dir = find_one(&tree.join("lib/modules"), "")
        .or_else(|_| find_one(&tree.join("usr/lib/modules"), ""))?;
    // Split kernel packages (sid, since 7.x) ship the image beside the modules and leave
    // `/boot` to the install hooks.
    let beside = modules_dir.join("vmlinuz");
    let vmlinuz = if beside.is_file() {
        beside
    } else {
        find_one(&tree.join("boot"), "vmlinuz-")?
    };
    Ok(Kernel {
        version: spec.version,
        package: package.to_string(),
        package_version: package_version.to_string(),
        vmlinuz,
        modules_dir,
    })
}

fn fetch_current(spec: &'static KernelSpec) -> Result<Kernel, String> {
    let opts = apt_options(spec.suite)?;
    let r = resolve(spec, &opts)?;
    let tree = cache_dir()
        .join("kernels")
        .join(format!("{}_{}", r.package, r.version));
    let done = tree.join(".unpacked");
    if !done.exists() {
        let _ = fs::remove_dir_all(&tree);
        fs::create_dir_all(&tree).map_err(|e| format!("cannot create {}: {e}", tree.display()))?;
        for (package, version) in &r.parts {
            let deb = download(package, version, &opts)?;
            eprintln!("vm: unpacking {}", deb.display());
            run_status(Command::new("dpkg").arg("-x").arg(&deb).arg(&tree))?;
            // The unpacked tree is all that is used again: don't keep (and cache) both.
            let _ = fs::remove_file(&deb);
        }
        fs::write(&done, b"").map_err(|e| format!("cannot write {}: {e}", done.display()))?;
    }
    unpacked(spec, &tree)
}

/// Downloads `package` at `version` into the cache's `debs/` (unless it is there already) and
/// returns the path of the `.deb`.
fn download(package: &str, version: &str, opts: &[String]) -> Result<PathBuf, String> {
    let debs = cache_dir().join("debs");
    fs::create_dir_all(&debs).map_err(|e| format!("cannot create {}: {e}", debs.display()))?;
    // apt names the file with the epoch's ':' escaped; kernel packages have no epoch.
    let file = format!("{package}_{}_amd64.deb", version.replace(':', "%3a"));
    let deb = debs.join(file);
    if !deb.exists() {
        eprintln!("vm: downloading {package} {version}");
        let pin = format!("{package}={version}");
        run_status(
            Command::new("apt-get")
                .current_dir(&debs)
                .args(opts)
                .args(["download", "-q", &pin]),
        )?;
        if !deb.exists() {
            return Err(format!(
                "apt-get download did not produce {}",
                deb.display()
            ));
        }
    }
    Ok(deb)
}

/// The single entry of `dir` whose name starts with `prefix`.
fn find_one(dir: &Path, prefix: &str) -> Result<PathBuf, String> {
    let mut found = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
        let e = e.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if e.file_name().to_string_lossy().starts_with(prefix) {
            found.push(e.path());
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(format!(
            "expected one '{prefix}*' in {}, found {n}",
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_parts_are_the_same_release() {
        let depends = "dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, \
            linux-base-7.2.13+deb14-cloud-amd64 (= 7.2.13-1), \
            linux-binary-7.2.13+deb14-cloud-amd64 (= 7.2.13-1), \
            linux-modules-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)";
        let parts = split_parts("linux-image-7.2.13+deb14-cloud-amd64", "7.2.13-1", depends);
        let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "linux-base-7.2.13+deb14-cloud-amd64",
                "linux-binary-7.2.13+deb14-cloud-amd64",
                "linux-modules-7.2.13+deb14-cloud-amd64"
            ]
        );
        assert!(parts.iter().all(|(_, v)| v == "7.2.13-1"));
        // A whole kernel package (bookworm's) depends on nothing of its own release.
        let whole =
            "kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool";
        assert!(split_parts("linux-image-6.1.0-56-cloud-amd64", "6.1.192-2", whole).is_empty());
    }
}
