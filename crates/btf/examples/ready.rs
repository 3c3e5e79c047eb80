//! Times "vmlinux ready for lookups" (parse + index + one struct lookup) 400 times and
//! prints min/median/max: the standalone counterpart of `benches/libbpf_ready.c`, for
//! comparing with libbpf outside criterion.
fn main() {
    let mut v = Vec::new();
    for _ in 0..400 {
        let t0 = std::time::Instant::now();
        let btf = corebpf_btf::Btf::from_sys_fs().unwrap();
        assert!(btf
            .find_by_name_kind("task_struct", corebpf_btf::Kind::Struct)
            .is_some());
        v.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "corebpf: min {:.3} median {:.3} max {:.3} ms",
        v[0], v[200], v[399]
    );
}
