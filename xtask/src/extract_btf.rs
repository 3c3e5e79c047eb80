//! `cargo xtask extract-btf [--kernel VER]... [--timeout SECS]`: write the BTF of Debian's
//! cloud kernels to `testdata/btf/<VER>.btf.gz` (default: every kernel `vm-test` knows).
//!
//! The BTF comes from the running kernel itself: the guest of `vm-test` boots in a mode that
//! copies `/sys/kernel/btf/vmlinux` raw to a third serial port (Debian ships only the
//! compressed `vmlinuz`, so this is simpler than digging `.BTF` out of it). The blob is
//! checked (magic, header and section sizes) and gzipped with a zero mtime, so the same
//! kernel always gives the same file. The package each file came from is printed; record it
//! in `testdata/btf/README.md`.

use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

/// Runs `cargo xtask extract-btf`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut versions = Vec::new();
    let mut timeout = Duration::from_secs(300);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kernel" => versions.push(it.next().ok_or("--kernel needs a version")?.clone()),
            "--timeout" => {
                let v = it.next().ok_or("--timeout needs seconds")?;
                timeout = Duration::from_secs(v.parse().map_err(|_| format!("bad --timeout {v}"))?);
            }
            other => {
                return Err(format!(
                    "unknown argument '{other}'\nusage: cargo xtask extract-btf [--kernel VER]... [--timeout SECS]"
                ))
            }
        }
    }
    if versions.is_empty() {
        versions = crate::vm::kernel_versions()
            .iter()
            .map(|v| v.to_string())
            .collect();
    }
    let dir = crate::vm::workspace_root().join("testdata/btf");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for v in &versions {
        let (k, btf) = crate::vm::kernel_btf(v, timeout)?;
        check_btf(&btf).map_err(|e| format!("kernel {v}: bad BTF: {e}"))?;
        let out = dir.join(format!("{v}.btf.gz"));
        let gz = gzip(&btf).map_err(|e| format!("gzip: {e}"))?;
        std::fs::write(&out, &gz).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        println!(
            "{}: {} bytes of BTF ({} gzipped) from {} {}",
            out.display(),
            btf.len(),
            gz.len(),
            k.package,
            k.package_version
        );
    }
    Ok(())
}

/// Gzips `data` reproducibly (no name, mtime 0).
fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc: GzEncoder<Vec<u8>> = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    enc.write_all(data)?;
    enc.finish()
}

/// Checks the BTF header: magic, version, and that the type and string sections fit exactly.
fn check_btf(b: &[u8]) -> Result<(), String> {
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
    };
    if b.get(..2) != Some(&[0x9f, 0xeb]) {
        return Err("no little-endian BTF magic 0xeb9f".into());
    }
    if b.get(2) != Some(&1) {
        return Err(format!("unknown BTF version {:?}", b.get(2)));
    }
    let hdr_len = u32_at(4).ok_or("short header")? as usize;
    let fields: Vec<usize> = (0..4)
        .map(|i| u32_at(8 + 4 * i).map(|v| v as usize))
        .collect::<Option<_>>()
        .ok_or("short header")?;
    let (type_off, type_len, str_off, str_len) = (fields[0], fields[1], fields[2], fields[3]);
    let end = hdr_len + (type_off + type_len).max(str_off + str_len);
    if end != b.len() {
        return Err(format!(
            "sections end at {end} but the blob has {} bytes",
            b.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btf_header_checks() {
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for v in [24u32, 0, 4, 4, 2] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[0; 6]);
        assert_eq!(check_btf(&b), Ok(()));
        b.push(0);
        assert!(check_btf(&b).is_err());
        assert!(check_btf(b"\x7fELF").is_err());
    }

    #[test]
    fn gzip_is_reproducible() {
        assert_eq!(gzip(b"abc").unwrap(), gzip(b"abc").unwrap());
    }
}
