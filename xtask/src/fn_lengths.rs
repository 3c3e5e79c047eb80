//! `cargo xtask fn-lengths [--max N] [--list]`: the house rule that no library function is
//! longer than `N` lines (80 by default), checked on rustfmt-formatted sources.
//!
//! A function is a line whose code starts with `fn` (after `pub`, `pub(crate)`, `const`,
//! `unsafe`, `async` or `extern "C"`) and runs to the first later line that holds only `}` at
//! the same indentation (rustfmt closes every item that way). Library code is `src/` of each
//! crate under `crates/`; `#[cfg(test)]` modules are left out, as are tests, benches and
//! examples. A function's length counts its signature, body and closing brace.

use std::fs;
use std::path::{Path, PathBuf};

use crate::vm::workspace_root;

/// One function longer than the limit.
struct Long {
    file: PathBuf,
    line: usize,
    name: String,
    lines: usize,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut max = 80usize;
    let mut list = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--max" => {
                max = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--max takes a number of lines")?;
            }
            "--list" => list = true,
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    let root = workspace_root();
    let mut files = Vec::new();
    for krate in read_dir_sorted(&root.join("crates"))? {
        collect_rs(&krate.join("src"), &mut files)?;
    }
    let mut long = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        for (line, name, lines) in functions(&text) {
            if lines > max {
                let file = f.strip_prefix(&root).unwrap_or(f).to_path_buf();
                long.push(Long {
                    file,
                    line,
                    name,
                    lines,
                });
            }
        }
    }
    long.sort_by_key(|l| std::cmp::Reverse(l.lines));
    for l in &long {
        println!("{:4} {}:{} {}", l.lines, l.file.display(), l.line, l.name);
    }
    if long.is_empty() || list {
        println!(
            "{} library functions over {max} lines in {} files",
            long.len(),
            files.len()
        );
        Ok(())
    } else {
        Err(format!(
            "{} library functions are over {max} lines: split them into named steps",
            long.len()
        ))
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    Ok(out)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if !dir.is_dir() {
        return Ok(());
    }
    for p in read_dir_sorted(dir)? {
        if p.is_dir() {
            collect_rs(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    Ok(())
}

/// `(first line, name, length)` of each function outside `#[cfg(test)]` items.
fn functions(text: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = indent_of(line);
        if line.trim() == "#[cfg(test)]" {
            // Skip the test item: to its closing brace at this indentation.
            i = closing(&lines, i + 1, indent).map_or(lines.len(), |end| end + 1);
            continue;
        }
        if let Some(name) = fn_name(line.trim_start()) {
            if let Some(end) = closing(&lines, i, indent) {
                out.push((i + 1, name, end - i + 1));
            }
        }
        i += 1;
    }
    out
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The index of the first line from `from` that is `}` at `indent`, unless the item ends
/// with `;` on its own first line (a declaration without a body).
fn closing(lines: &[&str], from: usize, indent: usize) -> Option<usize> {
    let first = lines.get(from)?.trim_end();
    if first.ends_with(';') || first.ends_with('}') && first.contains('{') {
        return None;
    }
    (from..lines.len()).find(|&j| {
        let l = lines[j];
        indent_of(l) == indent && l.trim_end().trim_start().starts_with('}')
    })
}

fn fn_name(code: &str) -> Option<String> {
    let mut rest = code;
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
        "extern \"C\" ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let name = rest.strip_prefix("fn ")?;
    let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(name[..end].to_string())
}
