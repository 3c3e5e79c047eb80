//! Subcommands, one module each, and what they share: exit codes, hex, BTF files.

mod attach;
pub mod btf;
mod btf_c;
mod btf_min;
mod btf_raw;
pub mod compat;
mod dry_run;
pub mod gen;
pub mod inspect;
pub mod link;
pub mod load;
pub mod map;
pub mod prog;
pub mod relocate;
pub mod usdt;

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

use corebpf_btf::Btf;

/// The kernel's own BTF, the default target and `btf dump` input.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// How a subcommand ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked (0).
    Ok = 0,
    /// Something failed: a program did not load, a relocation failed, a syscall failed (1).
    Failed = 1,
    /// The command line asks for something that does not exist or make sense (2).
    Usage = 2,
}

/// A usage error (exit code 2): an unknown program name, a malformed hex string.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for UsageError {}

/// A boxed [`UsageError`].
pub fn usage(msg: impl Into<String>) -> Box<dyn Error> {
    Box::new(UsageError(msg.into()))
}

/// Lowercase hex of `bytes`, no separators.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Hex bytes separated by spaces, as bpftool prints map keys and values.
pub fn hex_spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses hex (`0a0b`, `0a 0b`, `0x0a0b`; whitespace and `:` ignored).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b':')
        .collect();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks(2)
        .map(|p| {
            let t = std::str::from_utf8(p).unwrap_or("??");
            u8::from_str_radix(t, 16).map_err(|_| format!("not hex: '{t}'"))
        })
        .collect()
}

/// Input bytes given as a file path or, when no such file exists, as hex.
pub fn file_or_hex(arg: &str, what: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    let p = Path::new(arg);
    if p.is_file() {
        return std::fs::read(p).map_err(|e| format!("{what}: {}: {e}", p.display()).into());
    }
    parse_hex(arg).map_err(|e| usage(format!("{what}: '{arg}' is neither a file nor hex: {e}")))
}

/// Reads a BTF file: raw BTF, an ELF object with `.BTF`, either of them gzip-compressed
/// (BTF archives ship as `.btf.gz`), or a module's split BTF under `/sys/kernel/btf/`
/// (on top of vmlinux). Named `vmlinux` in CO-RE logs, as libbpf names a custom BTF.
pub fn read_btf(path: &Path) -> Result<Btf, Box<dyn Error>> {
    let in_sysfs = path.parent() == Some(Path::new(corebpf_btf::SYS_BTF_DIR));
    if in_sysfs && path != Path::new(VMLINUX) {
        let module = path.file_name().unwrap_or_default().to_string_lossy();
        let base = std::sync::Arc::new(Btf::from_sys_fs()?);
        return Ok(Btf::from_sys_fs_module(&module, base)?);
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
            .map_err(|e| format!("{}: gunzip: {e}", path.display()))?;
        out
    } else {
        bytes
    };
    let btf = if bytes.starts_with(b"\x7fELF") {
        Btf::from_elf(&bytes)
    } else {
        Btf::from_vec(bytes)
    }
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(btf.with_name("vmlinux"))
}

/// Rows as aligned columns: the first `left` left-aligned, the others right-aligned.
pub(crate) fn columns(rows: &[Vec<String>], left: usize) -> String {
    let cols = rows.first().map_or(0, |r| r.len());
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut o = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, text) in row.iter().enumerate() {
            if c < left {
                let _ = write!(line, "{text:<w$}  ", w = widths[c]);
            } else {
                let _ = write!(line, "{text:>w$}  ", w = widths[c]);
            }
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(parse_hex("0x0a 0B:ff").unwrap(), vec![10, 11, 255]);
        assert_eq!(hex(&[1, 0xab]), "01ab");
        assert_eq!(hex_spaced(&[1, 0xab]), "01 ab");
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
    }
}
