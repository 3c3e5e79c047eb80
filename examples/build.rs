//! Builds each example's BPF C the way a user's crate does (see the README's "Your first
//! tool"): corebpf-build compiles `<example>/<name>.bpf.c` against a `vmlinux.h` of this
//! kernel's BTF and writes its skeleton, `OUT_DIR/<name>.skel.rs`, which the example's
//! `main.rs` includes.

/// Each example's BPF source and the C types its Rust side decodes from a ring or perf
/// buffer (no map or global reaches them, so the skeleton generates them only when asked).
const SOURCES: &[(&str, &[&str])] = &[
    ("execsnoop/execsnoop.bpf.c", &["event"]),
    ("hello/hello.bpf.c", &["data_t"]),
    ("sockex1/sockex1.bpf.c", &[]),
    ("xdp_ip_only/xdp_ip_only.bpf.c", &[]),
    ("disksnoop/disksnoop.bpf.c", &["event"]),
    ("tcp_cc/tcp_cc.bpf.c", &[]),
    ("usdt/usdt.bpf.c", &["event"]),
];

fn main() {
    for (source, types) in SOURCES {
        let build = corebpf_build::BpfBuild::new().source(source).skeleton();
        types
            .iter()
            .fold(build, |b, t| b.skeleton_type(t))
            .compile()
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
