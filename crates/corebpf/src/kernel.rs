//! The running kernel's BTF, parsed once per process and shared (the only global state of
//! corebpf), and the CO-RE target set built on it.

use std::sync::{Arc, OnceLock};

use corebpf_btf::relo::TargetSet;
use corebpf_btf::{Btf, BtfError};

static KERNEL: OnceLock<Result<Arc<TargetSet>, BtfError>> = OnceLock::new();

/// The running kernel's CO-RE targets: `/sys/kernel/btf/vmlinux`, plus module BTF loaded
/// when a relocation finds no candidate in vmlinux. Parsed on first use, then shared.
pub fn kernel_targets() -> Result<Arc<TargetSet>, BtfError> {
    KERNEL
        .get_or_init(|| TargetSet::kernel().map(Arc::new))
        .clone()
}

/// The running kernel's vmlinux BTF (shared, parsed once).
pub fn kernel_btf() -> Result<Arc<Btf>, BtfError> {
    let t = kernel_targets()?;
    t.primary().cloned().ok_or_else(|| BtfError::Io {
        path: "/sys/kernel/btf/vmlinux".into(),
        reason: "no kernel BTF".into(),
    })
}
