//! The kernel's BTF is read only when an object needs it (CO-RE, ksyms, BTF-attached
//! programs, struct_ops): an object without any of them loads and runs without it. One
//! test in its own executable, so nothing else in the process read it first.

use corebpf::{kernel_btf_loaded, ObjectBuilder};

#[test]
fn objects_without_core_never_read_the_kernel_btf() {
    let testdata = corebpf_testutil::testdata();
    assert!(!kernel_btf_loaded());
    // A tracepoint program with no CO-RE relocations and no externs: loads, attaches and
    // reads nothing of the kernel's BTF.
    let obj = ObjectBuilder::new()
        .open_file(testdata.join("bpf/out/clang19/tp_ctx_too_big.bpf.o"))
        .unwrap()
        .load()
        .unwrap();
    assert!(obj.program("read_too_far").is_some());
    assert!(
        !kernel_btf_loaded(),
        "loaded without reading /sys/kernel/btf/vmlinux"
    );
    drop(obj);
    // A CO-RE object reads it.
    let _obj = ObjectBuilder::new()
        .open_file(testdata.join("bpf/out/clang19/core_tracing.bpf.o"))
        .unwrap()
        .load();
    assert!(kernel_btf_loaded(), "CO-RE needs the kernel's BTF");
}
