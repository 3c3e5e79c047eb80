//! A user's first tool, exactly as the README shows it (its code blocks are read from
//! README.md): a crate outside this workspace with a
//! `build.rs` of a few lines, a BPF C file (a ring buffer of events, a `.rodata` filter, a
//! hash map and a per-CPU array), and Rust that uses the generated skeleton with no
//! `unsafe`. The test builds it with cargo, runs it as root, and checks what it printed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The code blocks of the README's "Your first tool" section, in order: `Cargo.toml`'s
/// dependencies, `build.rs`, the BPF C, `src/main.rs`.
fn readme_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let section = readme
        .split("## Your first tool")
        .nth(1)
        .expect("README has a 'Your first tool' section");
    let section = section.split("\n## ").next().unwrap();
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```") {
        let body = &rest[open + 3..];
        let body = &body[body.find('\n').unwrap() + 1..];
        let close = body.find("```").unwrap();
        blocks.push(body[..close].to_string());
        rest = &body[close + 3..];
    }
    assert_eq!(blocks.len(), 4, "toml, build.rs, C, main.rs");
    blocks
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes the crate into `dir`, with the workspace's lock file so the same dependency
/// versions are used (and found offline).
/// The README's dependencies are those of a published crate; here they point at this
/// workspace.
fn write_crate(dir: &Path, blocks: &[String]) {
    let root = workspace_root().canonicalize().unwrap();
    let deps = blocks[0]
        .replace(
            "corebpf = \"0.1\"",
            &format!(
                "corebpf = {{ path = \"{}/crates/corebpf\" }}",
                root.display()
            ),
        )
        .replace(
            "corebpf-build = \"0.1\"",
            &format!(
                "corebpf-build = {{ path = \"{}/crates/build\" }}",
                root.display()
            ),
        );
    assert!(!deps.contains("\"0.1\""), "{deps}");
    let manifest = format!(
        "[package]\nname = \"first-tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n{deps}\n\
         [workspace]\n"
    );
    std::fs::create_dir_all(dir.join("src/bpf")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("build.rs"), &blocks[1]).unwrap();
    std::fs::write(dir.join("src/bpf/tool.bpf.c"), &blocks[2]).unwrap();
    std::fs::write(dir.join("src/main.rs"), &blocks[3]).unwrap();
}

#[test]
fn a_new_crate_builds_loads_and_decodes_its_events() {
    let blocks = readme_blocks();
    assert!(
        !blocks[3].contains("unsafe"),
        "the user's code needs no unsafe"
    );
    let dir = std::env::temp_dir().join(format!("corebpf-first-tool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_crate(&dir, &blocks);
    // A target directory that outlives the test, so reruns build only the tool.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("first-tool");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["run", "--quiet", "--offline"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "cargo run failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<&str> = stdout.lines().filter(|l| l.starts_with("event ")).collect();
    assert_eq!(events.len(), 5, "{stdout}");
    let mut last = 0;
    for (i, l) in events.iter().enumerate() {
        assert!(l.contains(&format!(" seq {} ", i + 1)), "{l}");
        let ts: u64 = l.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(ts > last, "timestamps increase: {l}");
        last = ts;
    }
    assert!(stdout.contains("per_pid 5\n"), "{stdout}");
    assert!(stdout.contains("total 5\n"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
