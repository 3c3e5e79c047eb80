//! Kernel modules for the guest: find them in an unpacked Debian kernel, decompress them
//! (6.12 and 7.2 ship `.ko.xz`, which busybox `insmod` may not read), and order them by their
//! dependencies. Debian's packages ship no `modules.dep` and the host may lack `modinfo`, so
//! the dependencies come from each module's own `.modinfo` ELF section.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::host::which;

/// Modules the integration tests may need: veth pairs, dummy links, TC (clsact, cls/act_bpf);
/// and module BTF (`crates/corebpf/tests/module_btf.rs`): nf_conntrack's kfuncs, x_tables'
/// per-CPU `xt_recseq`, veth's `veth_xmit` as an fentry target.
pub const DEFAULT_MODULES: &[&str] = &[
    "veth",
    "dummy",
    "sch_ingress",
    "cls_bpf",
    "act_bpf",
    "nf_conntrack",
    "x_tables",
];

/// A module ready for the initramfs.
pub struct Module {
    /// Its name with `_` (as `insmod` reports it).
    pub name: String,
    /// The uncompressed `.ko`.
    pub data: Vec<u8>,
}

/// Module names treat `-` and `_` as the same character.
fn canon(name: &str) -> String {
    name.replace('-', "_")
}

/// Indexes every `*.ko`/`*.ko.xz`/`*.ko.zst` under `dir` by canonical module name.
fn index(dir: &Path, out: &mut BTreeMap<String, PathBuf>) -> Result<(), String> {
    for e in fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
        let p = e
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        if p.is_dir() {
            index(&p, out)?;
            continue;
        }
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
        {
            out.insert(canon(stem), p);
        }
    }
    Ok(())
}

/// Names of modules built into the kernel (from `modules.builtin`), which need no loading.
fn builtins(modules_dir: &Path) -> BTreeSet<String> {
    fs::read_to_string(modules_dir.join("modules.builtin"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.rsplit('/').next())
        .filter_map(|f| f.strip_suffix(".ko"))
        .map(canon)
        .collect()
}

/// Reads a module file, decompressing it with the matching host tool.
fn read_module(path: &Path) -> Result<Vec<u8>, String> {
    let name = path.to_string_lossy();
    let tool: &[&str] = if name.ends_with(".xz") {
        if which("xz").is_some() {
            &["xz", "-dc"]
        } else {
            &["busybox", "xz", "-dc"]
        }
    } else if name.ends_with(".zst") {
        &["zstd", "-dc"]
    } else if name.ends_with(".gz") {
        &["gzip", "-dc"]
    } else {
        return fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
    };
    let out = Command::new(tool[0])
        .args(&tool[1..])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", tool[0]))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed: {}",
            tool.join(" "),
            path.display(),
            out.status
        ));
    }
    Ok(out.stdout)
}

/// The `depends=` list of a module's `.modinfo` section.
fn depends(ko: &[u8]) -> Result<Vec<String>, String> {
    let info = elf_section(ko, ".modinfo").ok_or("no .modinfo section")?;
    let deps = info
        .split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(b"depends="))
        .unwrap_or_default();
    Ok(String::from_utf8_lossy(deps)
        .split(',')
        .filter(|d| !d.is_empty())
        .map(canon)
        .collect())
}

/// The contents of the section `name` of a little-endian ELF64 file.
fn elf_section<'a>(elf: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?));
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let shoff = u64_at(0x28)? as usize;
    let shentsize = u16_at(0x3a)? as usize;
    let shnum = u16_at(0x3c)? as usize;
    let shstrndx = u16_at(0x3e)? as usize;
    let sh = |i: usize| -> Option<(u32, usize, usize)> {
        let b = shoff + i * shentsize;
        let n = u32::from_le_bytes(elf.get(b..b + 4)?.try_into().ok()?);
        Some((n, u64_at(b + 0x18)? as usize, u64_at(b + 0x20)? as usize))
    };
    let (_, stroff, strsize) = sh(shstrndx)?;
    let strtab = elf.get(stroff..stroff + strsize)?;
    (0..shnum).find_map(|i| {
        let (n, off, size) = sh(i)?;
        let rest = strtab.get(n as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        (&rest[..end] == name.as_bytes()).then(|| elf.get(off..off + size))?
    })
}

/// The modules `wanted` and everything they depend on, dependencies first. Built-in modules
/// are left out; a module that is neither built in nor shipped is an error.
pub fn resolve(modules_dir: &Path, wanted: &[String]) -> Result<Vec<Module>, String> {
    let mut files = BTreeMap::new();
    index(modules_dir, &mut files)?;
    let builtin = builtins(modules_dir);
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for w in wanted {
        visit(&canon(w), &files, &builtin, &mut seen, &mut order, 0)?;
    }
    Ok(order)
}

fn visit(
    name: &str,
    files: &BTreeMap<String, PathBuf>,
    builtin: &BTreeSet<String>,
    seen: &mut BTreeSet<String>,
    order: &mut Vec<Module>,
    depth: usize,
) -> Result<(), String> {
    if depth > 32 {
        return Err(format!("module dependency loop at {name}"));
    }
    if builtin.contains(name) || !seen.insert(name.to_string()) {
        return Ok(());
    }
    let path = files
        .get(name)
        .ok_or_else(|| format!("module {name} not found in the kernel"))?;
    let data = read_module(path)?;
    let deps = depends(&data).map_err(|e| format!("{}: {e}", path.display()))?;
    for d in deps {
        visit(&d, files, builtin, seen, order, depth + 1)?;
    }
    order.push(Module {
        name: name.to_string(),
        data,
    });
    Ok(())
}
