//! Kernel configuration for `__kconfig` externs: `CONFIG_*` values from `/proc/config.gz`
//! or `/boot/config-$(uname -r)` (or a text given by the caller, for tests and for
//! relocating against another kernel) and `LINUX_KERNEL_VERSION`.

use std::collections::HashMap;
use std::io::Read;

use crate::error::{ObjError, Result};
use crate::externs::{ExternKind, ExternSpec, ExternValue, KconfigType};

/// Parsed kernel configuration and version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    /// `CONFIG_X` → raw value text (`y`, `m`, `"string"`, `100`, `0x10`).
    pub options: HashMap<String, String>,
    /// `KERNEL_VERSION(a, b, c)` of the kernel (`LINUX_KERNEL_VERSION`).
    pub kernel_version: Option<u32>,
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

fn io_err(path: &str, e: std::io::Error) -> ObjError {
    ObjError::Io {
        path: path.to_string(),
        reason: e.to_string(),
    }
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
            kernel_version: None,
        }
    }

    /// Sets `LINUX_KERNEL_VERSION`.
    pub fn with_kernel_version(mut self, version: u32) -> KernelConfig {
        self.kernel_version = Some(version);
        self
    }

    /// The running kernel's configuration: `/proc/config.gz`, else
    /// `/boot/config-<release>`; version from `/proc/sys/kernel/osrelease`.
    pub fn from_system() -> Result<KernelConfig> {
        const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
        let release = std::fs::read_to_string(OSRELEASE).map_err(|e| io_err(OSRELEASE, e))?;
        let release = release.trim();
        let text = match std::fs::File::open("/proc/config.gz") {
            Ok(f) => {
                let mut s = String::new();
                flate2::read::GzDecoder::new(f)
                    .read_to_string(&mut s)
                    .map_err(|e| io_err("/proc/config.gz", e))?;
                s
            }
            Err(_) => {
                let path = format!("/boot/config-{release}");
                std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?
            }
        };
        let mut cfg = KernelConfig::from_text(&text);
        cfg.kernel_version = parse_kernel_release(release);
        Ok(cfg)
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

/// Fills `data` (the `.kconfig` map value) with each kconfig extern's value.
pub(crate) fn fill(externs: &mut [ExternSpec], data: &mut [u8], cfg: &KernelConfig) -> Result<()> {
    for e in externs.iter_mut() {
        let ExternKind::Kconfig {
            ty, size, data_off, ..
        } = e.kind
        else {
            continue;
        };
        let value = if e.name == "LINUX_KERNEL_VERSION" {
            cfg.kernel_version.map(|v| v.to_string())
        } else {
            cfg.options.get(&e.name).cloned()
        };
        let bytes = match value {
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
            None => return Err(kerr(&e.name, "kconfig value not found")),
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
        assert_eq!(parse_kernel_release("5.10.300"), Some(0x050aff));
        let c = KernelConfig::from_text("# CONFIG_A is not set\nCONFIG_B=y\n");
        assert_eq!(c.options.len(), 1);
    }
}
