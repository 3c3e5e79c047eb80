//! The kernel's BTF is read only when an object needs it (CO-RE, ksyms, BTF-attached
//! programs, struct_ops): an object without any of them loads and runs without it; and
//! the BTF feature probes run only for the kinds the object's BTF holds. One test in its
//! own executable, so nothing else in the process read or probed anything first.

use corebpf::sys::{probed_feature, Feature};
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
    assert!(
        !vmlinux_mapped(),
        "nothing of this process maps the kernel's BTF"
    );
    // Its BTF has functions and data sections, nothing newer: only those were probed.
    assert_eq!(probed_feature(Feature::BtfFunc), Some(true));
    assert_eq!(probed_feature(Feature::BtfDatasec), Some(true));
    for unused in [
        Feature::BtfFloat,
        Feature::BtfDeclTag,
        Feature::BtfTypeTag,
        Feature::BtfEnum64,
        Feature::BtfLayout,
        Feature::BtfQmarkDatasec,
    ] {
        assert_eq!(probed_feature(unused), None, "{unused:?} was probed");
    }
    drop(obj);
    // A CO-RE object reads it.
    let _obj = ObjectBuilder::new()
        .open_file(testdata.join("bpf/out/clang19/core_tracing.bpf.o"))
        .unwrap()
        .load();
    assert!(kernel_btf_loaded(), "CO-RE needs the kernel's BTF");
    // Since 6.16 the kernel's BTF is mapped, not copied, and stays mapped while cached:
    // the mapping check above could have seen it.
    let mmapable = corebpf::obj::running_kernel_version()
        .is_some_and(|v| v >= corebpf::obj::kernel_version(6, 16, 0));
    assert_eq!(
        vmlinux_mapped(),
        mmapable,
        "/proc/self/maps after a CO-RE load"
    );
}

/// Whether this process maps `/sys/kernel/btf/vmlinux` (a check independent of corebpf's
/// own flag: any reader that mmaps the file shows up).
fn vmlinux_mapped() -> bool {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .contains("/sys/kernel/btf/vmlinux")
}
