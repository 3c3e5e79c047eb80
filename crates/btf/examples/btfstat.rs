//! Parses a BTF file (default: the running kernel's) and prints counts and timings.
use corebpf_btf::{Btf, Kind};
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1);
    for _ in 0..3 {
        let t0 = Instant::now();
        let btf = match &path {
            Some(p) => Btf::from_file(p),
            None => Btf::from_sys_fs(),
        }
        .expect("parse");
        let t1 = Instant::now();
        let n = btf.index().len();
        let t2 = Instant::now();
        let id = btf.find_by_name_kind("task_struct", Kind::Struct);
        println!(
            "types {} named {} parse {:?} index {:?} task_struct {:?}",
            btf.type_count(),
            n,
            t1 - t0,
            t2 - t1,
            id
        );
    }
}
