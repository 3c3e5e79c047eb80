//! The test executables to run in the guest: the workspace's integration tests, built with
//! `cargo test --no-run --message-format=json`, or executables given with `--bin`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One test executable.
pub struct TestBin {
    /// A short unique name (`<package>/<file name>`), used in the guest and in reports.
    pub name: String,
    /// The executable on the host.
    pub path: PathBuf,
    /// The package's directory on the host (cargo runs tests there; so does the guest).
    pub manifest_dir: PathBuf,
}

/// The packages whose tests talk to the kernel, and so run in every guest by default. The
/// others are kernel-independent (BTF, ELF, CO-RE are pure) or need tools and binaries the
/// guest does not carry (bpftool and clang as oracles, the `corebpf` and example binaries):
/// they run on the host.
pub const VM_PACKAGES: &[&str] = &["corebpf-sys", "corebpf"];

/// Integration tests of those packages that run on the host only. `fault_injection` fails
/// system calls in user space without entering the kernel (it checks corebpf's cleanup
/// paths, which are the same on every kernel) and walks ~2,700 runs: over the guests'
/// time box under TCG.
pub const HOST_ONLY_TESTS: &[&str] = &["fault_injection"];

/// Builds the integration tests of `packages` ([`VM_PACKAGES`] when empty) and returns
/// their executables. With `include_unit`, lib/bin unit-test executables are included too.
pub fn build(packages: &[String], include_unit: bool) -> Result<Vec<TestBin>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    let defaults: Vec<String> = VM_PACKAGES.iter().map(|p| p.to_string()).collect();
    let packages = if packages.is_empty() {
        &defaults[..]
    } else {
        packages
    };
    for p in packages {
        cmd.args(["-p", p]);
    }
    cmd.current_dir(super::host::workspace_root())
        .stderr(Stdio::inherit());
    eprintln!("vm: building test executables: {cmd:?}");
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo test --no-run failed ({})", out.status));
    }
    let mut bins = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if json_str(line, "reason").as_deref() != Some("compiler-artifact") {
            continue;
        }
        let Some(exe) = json_str(line, "executable") else {
            continue;
        };
        // Test harnesses only (not examples, nor the plain binaries built for
        // `CARGO_BIN_EXE_*`): integration tests always, unit tests when asked for.
        let kind = json_raw(line, "kind").unwrap_or_default();
        let profile = json_raw(line, "profile").unwrap_or_default();
        let harness = json_raw(&profile, "test").as_deref() == Some("true");
        if !harness || !(kind.contains("\"test\"") || include_unit) {
            continue;
        }
        let manifest = json_str(line, "manifest_path").unwrap_or_default();
        let manifest_dir = Path::new(&manifest)
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        let pkg = manifest_dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let path = PathBuf::from(exe);
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let test = json_raw(line, "target")
            .and_then(|t| json_str(&t, "name"))
            .unwrap_or_default();
        if HOST_ONLY_TESTS.contains(&test.as_str()) {
            eprintln!("vm: {pkg}/{test} runs on the host only");
            continue;
        }
        bins.push(TestBin {
            name: format!("{pkg}/{file}"),
            path,
            manifest_dir,
        });
    }
    Ok(bins)
}

/// Executables given on the command line; they run in the workspace root's directory.
pub fn from_paths(paths: &[PathBuf]) -> Result<Vec<TestBin>, String> {
    let root = super::host::workspace_root();
    paths
        .iter()
        .map(|p| {
            let path = p
                .canonicalize()
                .map_err(|e| format!("--bin {}: {e}", p.display()))?;
            let file = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Ok(TestBin {
                name: format!("bin/{file}"),
                path,
                manifest_dir: root.clone(),
            })
        })
        .collect()
}

/// The raw JSON text of the first value of `"key":` in `line` (up to the next `,"` or `}`
/// outside brackets): enough for cargo's flat messages, without a JSON dependency.
fn json_raw(line: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    let mut depth = 0i32;
    let mut in_str = false;
    let mut esc = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if esc => esc = false,
            '\\' if in_str => esc = true,
            '"' => in_str = !in_str,
            '[' | '{' if !in_str => depth += 1,
            ']' | '}' if !in_str => {
                depth -= 1;
                if depth < 0 {
                    return Some(rest[..i].to_string());
                }
            }
            ',' if !in_str && depth == 0 => return Some(rest[..i].to_string()),
            _ => {}
        }
    }
    Some(rest.to_string())
}

/// The string value of the first `"key":` in `line`, unescaped; `None` if absent or not a string.
fn json_str(line: &str, key: &str) -> Option<String> {
    let raw = json_raw(line, key)?;
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?).unwrap_or('?'));
            }
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_message_fields() {
        let line = r#"{"reason":"compiler-artifact","package_id":"x","manifest_path":"/w/crates/sys/Cargo.toml","target":{"kind":["test"],"name":"a\"b","test":false},"profile":{"opt_level":"0","test":true},"executable":"/t/deps/a-1","fresh":true}"#;
        assert_eq!(
            json_str(line, "reason").as_deref(),
            Some("compiler-artifact")
        );
        assert_eq!(json_raw(line, "kind").as_deref(), Some(r#"["test"]"#));
        assert_eq!(json_str(line, "name").as_deref(), Some("a\"b"));
        assert_eq!(json_str(line, "executable").as_deref(), Some("/t/deps/a-1"));
        let profile = json_raw(line, "profile").unwrap();
        assert_eq!(json_raw(&profile, "test").as_deref(), Some("true"));
        assert_eq!(json_str(r#"{"executable":null}"#, "executable"), None);
    }
}
