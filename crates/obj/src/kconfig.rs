//! Kernel configuration for `__kconfig` externs: `CONFIG_*` values from
//! `/boot/config-$(uname -r)` or `/proc/config.gz` (or a text given by the caller, for tests
//! and for relocating against another kernel), and libbpf's virtual `LINUX_*` externs, which
//! never need the config file (`LINUX_KERNEL_VERSION` here; the loader adds the others).

use std::collections::HashMap;
use std::io::Read;

use crate::error::{ObjError, Result};
use crate::externs::{ExternKind, ExternSpec, ExternValue, KconfigType};

/// Parsed kernel configuration and version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    /// `CONFIG_X` → raw value text (`y`, `m`, `"string"`, `100`, `0x10`); the loader adds
    /// libbpf's virtual `LINUX_HAS_*` externs here (`0`/`1`).
    pub options: HashMap<String, String>,
    /// `KERNEL_VERSION(a, b, c)` of the kernel (`LINUX_KERNEL_VERSION`).
    pub kernel_version: Option<u32>,
    /// The files tried when no kernel config was found (then `options` holds no `CONFIG_*`,
    /// weak `CONFIG_*` externs read 0 and strong ones fail with
    /// [`ObjError::NoKernelConfig`]); empty when a config was read or given.
    pub not_found: Vec<String>,
}

/// `KERNEL_VERSION(a, b, c)` with `c` clamped to 255, as the kernel's macro.
pub fn kernel_version(a: u32, b: u32, c: u32) -> u32 {
    (a << 16) + (b << 8) + c.min(255)
}

/// Parses a release string (`6.18.0-1-amd64`) into `KERNEL_VERSION(6, 18, 0)`.
pub fn parse_kernel_release(release: &str) -> Option<u32> {
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let a = parts.next()?.parse().ok()?;
    let b = parts.next()?.parse().ok()?;
    let c = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some(kernel_version(a, b, c))
}

/// `KERNEL_VERSION(a, b, c)` of the running kernel as libbpf's `get_kernel_version` finds
/// it: Ubuntu's `/proc/version_signature` (`Ubuntu 5.4.0-12.15-generic 5.4.8`), else the
/// `Debian x.y.z` of `uname -v` (Debian's `uname -r` says `6.1.0-57-amd64` for 6.1.192),
/// else `uname -r`. What `LINUX_KERNEL_VERSION` and a program's `kern_version` get.
pub fn running_kernel_version() -> Option<u32> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    ubuntu_signature_version(&read("/proc/version_signature"))
        .or_else(|| debian_version(&read("/proc/sys/kernel/version")))
        .or_else(|| parse_kernel_release(read(OSRELEASE).trim()))
}

/// The third word of Ubuntu's version signature, `x.y.z` (libbpf's
/// `fscanf("%*s %*s %u.%u.%u")`).
fn ubuntu_signature_version(signature: &str) -> Option<u32> {
    three_numbers(signature.split_whitespace().nth(2)?)
}

/// The `x.y.z` after `Debian ` in `uname -v` (`#1 SMP Debian 6.1.192-2 (2025-01-01)`).
fn debian_version(uname_version: &str) -> Option<u32> {
    let (_, rest) = uname_version.split_once("Debian ")?;
    three_numbers(rest)
}

/// `KERNEL_VERSION` of a leading `x.y.z`; all three numbers are required (as `sscanf`'s 3).
fn three_numbers(text: &str) -> Option<u32> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next()?.parse::<u32>().ok();
    Some(kernel_version(next()?, next()?, next()?))
}

fn io_err(path: &str, e: std::io::Error) -> ObjError {
    ObjError::Io {
        path: path.to_string(),
        reason: e.to_string(),
    }
}

/// The running kernel's release (`uname -r`).
const OSRELEASE: &str = "/proc/sys/kernel/osrelease";

/// Reads a config file, gzipped or plain (as libbpf's `gzopen`). `None` if it cannot be
/// opened: the next candidate is tried.
fn read_config_file(path: &str) -> Option<Result<String>> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            log::debug!("kernel config: cannot open {path}: {e}");
            return None;
        }
    };
    let mut bytes = Vec::new();
    if let Err(e) = f.read_to_end(&mut bytes) {
        return Some(Err(io_err(path, e)));
    }
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut s)
            .map(|_| s)
    } else {
        String::from_utf8(bytes).map_err(std::io::Error::other)
    };
    log::debug!("kernel config: read {path}");
    Some(text.map_err(|e| io_err(path, e)))
}

impl KernelConfig {
    /// Parses a `.config` text (`CONFIG_X=value` lines; comments ignored).
    pub fn from_text(text: &str) -> KernelConfig {
        let options = text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("CONFIG_"))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        KernelConfig {
            options,
            ..KernelConfig::default()
        }
    }

    /// Sets `LINUX_KERNEL_VERSION`.
    pub fn with_kernel_version(mut self, version: u32) -> KernelConfig {
        self.kernel_version = Some(version);
        self
    }

    /// Where the running kernel's config is looked for, in libbpf's order:
    /// `/boot/config-<release>`, then `/proc/config.gz`.
    pub fn system_paths(release: &str) -> [String; 2] {
        [
            format!("/boot/config-{release}"),
            "/proc/config.gz".to_string(),
        ]
    }

    /// The running kernel's configuration: the first of [`KernelConfig::system_paths`] that
    /// opens (gzipped or plain); version from `/proc/sys/kernel/osrelease`. When none opens
    /// (a container without `/boot` and `/proc/config.gz`), the config is empty and
    /// [`KernelConfig::not_found`] lists the paths tried.
    pub fn from_system() -> Result<KernelConfig> {
        let release = std::fs::read_to_string(OSRELEASE).map_err(|e| io_err(OSRELEASE, e))?;
        let release = release.trim();
        let paths = KernelConfig::system_paths(release);
        let mut cfg = match paths.iter().find_map(|p| read_config_file(p)) {
            Some(text) => KernelConfig::from_text(&text?),
            None => {
                log::debug!(
                    "kernel config: none found (tried {}); weak CONFIG_* externs read 0",
                    paths.join(", ")
                );
                KernelConfig {
                    not_found: paths.to_vec(),
                    ..KernelConfig::default()
                }
            }
        };
        cfg.kernel_version = running_kernel_version();
        Ok(cfg)
    }

    /// The value of kconfig extern `name`, if this config has one.
    fn value_of(&self, name: &str) -> Option<String> {
        if name == LINUX_KERNEL_VERSION {
            self.kernel_version.map(|v| v.to_string())
        } else {
            self.options.get(name).cloned()
        }
    }
}

/// libbpf's virtual extern for the running kernel's version (never from the config file).
const LINUX_KERNEL_VERSION: &str = "LINUX_KERNEL_VERSION";

impl ExternSpec {
    /// Whether this is a `CONFIG_*` kconfig extern, whose value comes from the kernel config
    /// file (libbpf's `need_config`); libbpf's virtual `LINUX_*` externs are computed from
    /// the running kernel instead.
    pub fn needs_kernel_config(&self) -> bool {
        self.is_kconfig() && self.name.starts_with("CONFIG_")
    }
}

fn kerr(name: &str, reason: impl Into<String>) -> ObjError {
    ObjError::Extern {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// Encodes `value` for extern `name` of `ty`/`size` (libbpf's `set_kcfg_value_*`).
fn encode(name: &str, ty: KconfigType, size: u32, value: &str) -> Result<Vec<u8>> {
    let size = size as usize;
    let mut out = vec![0u8; size];
    match value {
        "y" | "n" | "m" => {
            let c = value.as_bytes()[0];
            let v = match (ty, c) {
                (KconfigType::Bool, b'm') => {
                    return Err(kerr(
                        name,
                        "value 'm' for a bool (use enum libbpf_tristate)",
                    ))
                }
                (KconfigType::Bool | KconfigType::Tristate, b'y') => 1,
                (KconfigType::Bool | KconfigType::Tristate, b'n') => 0,
                (KconfigType::Tristate, _) => 2,
                (KconfigType::Char, _) => c,
                _ => {
                    return Err(kerr(
                        name,
                        format!("value '{value}' for a non-tristate type"),
                    ))
                }
            };
            out[0] = v;
        }
        v if v.starts_with('"') => {
            if ty != KconfigType::CharArray {
                return Err(kerr(name, "string value for a non-char-array type"));
            }
            let s = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .ok_or_else(|| kerr(name, format!("invalid string value {v}")))?;
            let n = s.len().min(size - 1);
            if n < s.len() {
                log::warn!(
                    "extern (kcfg) '{name}': value '{s}' is too long, truncated to {n} bytes"
                );
            }
            out[..n].copy_from_slice(&s.as_bytes()[..n]);
        }
        v => {
            if !matches!(
                ty,
                KconfigType::Int { .. } | KconfigType::Char | KconfigType::Bool
            ) {
                return Err(kerr(
                    name,
                    format!("numeric value {v} for a non-numeric type"),
                ));
            }
            let n = parse_num(v).ok_or_else(|| kerr(name, format!("invalid value '{v}'")))?;
            let fits = size >= 8 || {
                let bits = size * 8;
                match ty {
                    KconfigType::Int { signed: true } => {
                        let s = n as i64;
                        s >= -(1i64 << (bits - 1)) && s < (1i64 << (bits - 1))
                    }
                    _ => n < (1u64 << bits),
                }
            };
            if !fits {
                return Err(kerr(name, format!("value {v} doesn't fit in {size} bytes")));
            }
            out.copy_from_slice(&n.to_le_bytes()[..size.min(8)]);
        }
    }
    Ok(out)
}

/// `strtoull(v, 0)`-like: decimal, `0x` hex, leading-0 octal, optional `-`.
fn parse_num(v: &str) -> Option<u64> {
    let (neg, v) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v),
    };
    let n = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if v.len() > 1 && v.starts_with('0') {
        u64::from_str_radix(&v[1..], 8).ok()?
    } else {
        v.parse().ok()?
    };
    Some(if neg { n.wrapping_neg() } else { n })
}

/// The error for kconfig extern `e`, which has no value in `cfg` and is not weak.
fn missing(e: &ExternSpec, cfg: &KernelConfig) -> ObjError {
    if e.needs_kernel_config() && !cfg.not_found.is_empty() {
        return ObjError::NoKernelConfig {
            name: e.name.clone(),
            tried: cfg.not_found.clone(),
        };
    }
    kerr(&e.name, "kconfig value not found")
}

/// Fills `data` (the `.kconfig` map value) with each kconfig extern's value.
pub(crate) fn fill(externs: &mut [ExternSpec], data: &mut [u8], cfg: &KernelConfig) -> Result<()> {
    for e in externs.iter_mut() {
        let ExternKind::Kconfig {
            ty, size, data_off, ..
        } = e.kind
        else {
            continue;
        };
        let bytes = match cfg.value_of(&e.name) {
            Some(v) => {
                let b = encode(&e.name, ty, size, &v)?;
                log::debug!("extern (kcfg) '{}': set to {v}", e.name);
                e.resolved = Some(ExternValue::Kconfig);
                b
            }
            None if e.weak => {
                log::debug!("extern (kcfg) '{}': set to 0 (weak)", e.name);
                e.resolved = Some(ExternValue::Missing);
                vec![0; size as usize]
            }
            None => return Err(missing(e, cfg)),
        };
        let start = data_off as usize;
        let dst = data
            .get_mut(start..start + bytes.len())
            .ok_or_else(|| kerr(&e.name, "outside the .kconfig map"))?;
        dst.copy_from_slice(&bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let i32t = KconfigType::Int { signed: true };
        assert_eq!(encode("X", i32t, 4, "100").unwrap(), 100u32.to_le_bytes());
        assert_eq!(encode("X", i32t, 4, "0x10").unwrap(), 16u32.to_le_bytes());
        assert_eq!(encode("X", i32t, 4, "-1").unwrap(), [0xff; 4]);
        assert!(encode("X", KconfigType::Int { signed: false }, 1, "256").is_err());
        assert_eq!(encode("X", KconfigType::Bool, 1, "y").unwrap(), [1]);
        assert!(encode("X", KconfigType::Bool, 1, "m").is_err());
        assert_eq!(
            encode("X", KconfigType::Tristate, 4, "m").unwrap(),
            [2, 0, 0, 0]
        );
        assert_eq!(
            encode("X", KconfigType::CharArray, 4, "\"abcdef\"").unwrap(),
            *b"abc\0"
        );
        assert_eq!(parse_kernel_release("6.18.0-1-amd64"), Some(0x061200));
        assert_eq!(
            ubuntu_signature_version("Ubuntu 5.4.0-12.15-generic 5.4.8\n"),
            Some(0x050408)
        );
        assert_eq!(ubuntu_signature_version("Ubuntu 5.4.0-12.15-generic"), None);
        assert_eq!(
            debian_version("#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2025-11-20)"),
            Some(0x0601c0)
        );
        assert_eq!(debian_version("#1 SMP Debian 5.10.300-1"), Some(0x050aff));
        assert_eq!(debian_version("#1 SMP PREEMPT_DYNAMIC @0"), None);
        assert_eq!(parse_kernel_release("5.10.300"), Some(0x050aff));
        let c = KernelConfig::from_text("# CONFIG_A is not set\nCONFIG_B=y\n");
        assert_eq!(c.options.len(), 1);
    }

    fn kcfg_extern(name: &str, weak: bool, data_off: u32) -> ExternSpec {
        ExternSpec {
            name: name.into(),
            weak,
            btf_id: 1,
            kind: ExternKind::Kconfig {
                ty: KconfigType::Int { signed: true },
                size: 4,
                align: 4,
                data_off,
            },
            resolved: None,
        }
    }

    /// No config file: LINUX_KERNEL_VERSION still resolves, a weak CONFIG_ reads 0, and a
    /// strong CONFIG_ fails naming itself and every path tried.
    #[test]
    fn no_config_file() {
        let cfg = KernelConfig {
            not_found: KernelConfig::system_paths("6.18.0").to_vec(),
            ..KernelConfig::default()
        }
        .with_kernel_version(0x061200);
        let mut externs = vec![
            kcfg_extern("LINUX_KERNEL_VERSION", false, 0),
            kcfg_extern("CONFIG_HZ", true, 4),
        ];
        let mut data = [0xffu8; 8];
        fill(&mut externs, &mut data, &cfg).unwrap();
        assert_eq!(data[..4], 0x061200u32.to_le_bytes());
        assert_eq!(data[4..], [0; 4]);
        assert_eq!(externs[1].resolved, Some(ExternValue::Missing));

        let mut externs = vec![kcfg_extern("CONFIG_X", false, 0)];
        let e = fill(&mut externs, &mut data, &cfg).unwrap_err();
        assert_eq!(
            e.to_string(),
            "extern 'CONFIG_X' (strong) needs the kernel config, and none was found \
             (tried /boot/config-6.18.0, /proc/config.gz)"
        );
        // With a config that lacks the option, the error stays the plain one.
        let cfg = KernelConfig::from_text("CONFIG_A=y\n");
        let e = fill(&mut externs, &mut data, &cfg).unwrap_err();
        assert!(matches!(e, ObjError::Extern { .. }), "{e}");
    }

    #[test]
    fn config_files_plain_or_gzipped() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("corebpf_kconfig_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, "CONFIG_A=y\n").unwrap();
        let gz = dir.join("gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"CONFIG_B=m\n").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        for (path, want) in [(&plain, "CONFIG_A=y"), (&gz, "CONFIG_B=m")] {
            let text = read_config_file(path.to_str().unwrap()).unwrap().unwrap();
            assert_eq!(text.trim(), want);
        }
        assert!(read_config_file(dir.join("none").to_str().unwrap()).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
