//! A user's first tool, as the README shows it: a crate outside this workspace with a
//! `build.rs` of a few lines, a BPF C file (a ring buffer of events, a `.rodata` filter, a
//! hash map and a per-CPU array), and Rust that uses the generated skeleton with no
//! `unsafe`. The test builds it with cargo, runs it as root, and checks what it printed.

use std::path::{Path, PathBuf};
use std::process::Command;

const BUILD_RS: &str = r#"fn main() {
    corebpf_build::BpfBuild::new()
        .source("src/bpf/tool.bpf.c")
        .skeleton()
        .skeleton_type("event")
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
}
"#;

const TOOL_BPF_C: &str = r#"// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct event {
	__u32 pid;
	__u32 seq;
	__u64 ts;
};
/* So that clang describes struct event in the object's BTF, for the skeleton. */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} per_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} total SEC(".maps");

const volatile __u32 target_pid = 0;

SEC("tp/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32, zero = 0;
	__u64 one = 1, *count, *t;
	struct event *e;

	if (pid != target_pid)
		return 0;
	t = bpf_map_lookup_elem(&total, &zero);
	if (!t)
		return 0;
	*t += 1;
	count = bpf_map_lookup_elem(&per_pid, &pid);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&per_pid, &pid, &one, BPF_ANY);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->seq = *t;
	e->ts = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
	return 0;
}
"#;

const MAIN_RS: &str = r#"include!(concat!(env!("OUT_DIR"), "/tool.skel.rs"));

use corebpf::ringbuf::RingBuf;
use tool::{event, Bytes, OpenToolSkel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pid = std::process::id();
    let mut open = OpenToolSkel::open()?;
    open.globals().set_target_pid(pid)?; // .rodata: the verifier sees it
    let skel = open.load()?;
    let _links = skel.attach_all()?;
    for _ in 0..5 {
        let _ = std::process::id(); // getpid(2)
    }
    let mut events = RingBuf::new(skel.maps().events())?;
    events.consume(|b: &[u8]| {
        let e = event::from_bytes(b).expect("an event");
        println!("event pid {} seq {} ts {}", e.pid, e.seq, e.ts);
    })?;
    let count = skel.maps().per_pid().lookup(&pid.to_bytes(), 0)?;
    let count = count.and_then(|v| u64::from_bytes(&v)).unwrap_or(0);
    println!("per_pid {count}");
    let total = skel.maps().total().as_percpu_array::<u64>()?;
    println!("total {}", total.get(0, 0)?.iter().sum::<u64>());
    Ok(())
}
"#;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes the crate into `dir`, with the workspace's lock file so the same dependency
/// versions are used (and found offline).
fn write_crate(dir: &Path) {
    let root = workspace_root().canonicalize().unwrap();
    let manifest = format!(
        "[package]\nname = \"first-tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\ncorebpf = {{ path = \"{0}/crates/corebpf\" }}\n\n\
         [build-dependencies]\ncorebpf-build = {{ path = \"{0}/crates/build\" }}\n\n\
         [workspace]\n",
        root.display()
    );
    std::fs::create_dir_all(dir.join("src/bpf")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("build.rs"), BUILD_RS).unwrap();
    std::fs::write(dir.join("src/bpf/tool.bpf.c"), TOOL_BPF_C).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN_RS).unwrap();
}

#[test]
fn a_new_crate_builds_loads_and_decodes_its_events() {
    assert!(
        !MAIN_RS.contains("unsafe"),
        "the user's code needs no unsafe"
    );
    let dir = std::env::temp_dir().join(format!("corebpf-first-tool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_crate(&dir);
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
