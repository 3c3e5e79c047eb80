//! The running kernel's BTF, parsed once per process and shared (the only global state of
//! corebpf), the CO-RE target set built on it, and its modules' BTF objects (for `__ksym`
//! externs, kfuncs and attach targets in modules).

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, OnceLock};

use corebpf_btf::relo::TargetSet;
use corebpf_btf::{Btf, BtfError};
use corebpf_obj::{ExternValue, LinkedProgram, ModuleBtf, ObjError, ObjectSpec};

use crate::error::{Error, Result};

static KERNEL: OnceLock<Result<Arc<TargetSet>, BtfError>> = OnceLock::new();

/// The running kernel's release (`uname -r`), for messages; empty if it cannot be read.
pub(crate) fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_default()
}

/// `KERNEL_VERSION(a, b, c)` of the running kernel's release, if it can be read. (What
/// version checks compare; `LINUX_KERNEL_VERSION` follows libbpf's Debian/Ubuntu rule.)
pub(crate) fn release_version() -> Option<u32> {
    corebpf_obj::parse_kernel_release(&release())
}

/// The running kernel's version by libbpf's rule (Ubuntu's signature, Debian's `uname -v`,
/// else `uname -r`; see [`corebpf_obj::running_kernel_version`]): three /proc reads,
/// done once per process, not for every program that takes a `kern_version`.
pub(crate) fn kernel_version() -> Option<u32> {
    static VERSION: OnceLock<Option<u32>> = OnceLock::new();
    *VERSION.get_or_init(corebpf_obj::running_kernel_version)
}

/// The running kernel's CO-RE targets: `/sys/kernel/btf/vmlinux`, plus module BTF loaded
/// when a relocation finds no candidate in vmlinux. Parsed on first use, then shared.
pub fn kernel_targets() -> std::result::Result<Arc<TargetSet>, BtfError> {
    KERNEL
        .get_or_init(|| TargetSet::kernel().map(Arc::new))
        .clone()
}

/// Whether this process has read the running kernel's BTF yet. Loading an object reads it
/// only when the object needs it: CO-RE relocations, `__ksym` externs, BTF-attached
/// programs (fentry, tp_btf, lsm, iter) or struct_ops maps.
pub fn kernel_btf_loaded() -> bool {
    KERNEL.get().is_some()
}

/// The running kernel's vmlinux BTF (shared, parsed once).
pub fn kernel_btf() -> std::result::Result<Arc<Btf>, BtfError> {
    let t = kernel_targets()?;
    t.primary().cloned().ok_or_else(|| BtfError::Io {
        path: "/sys/kernel/btf/vmlinux".into(),
        reason: "no kernel BTF".into(),
    })
}

/// The running kernel's module BTF objects, `(name, id)` in id order, as libbpf's
/// `load_module_btfs` walks them (`BPF_BTF_GET_NEXT_ID`, kernel BTF other than
/// `vmlinux`). Empty when BTF objects cannot be listed (no privileges, or a kernel before
/// 5.11, whose BTF objects have no names): then modules are found in sysfs alone.
pub fn module_btf_objects() -> Vec<(String, u32)> {
    let ids = match corebpf_sys::all_ids(corebpf_sys::ObjKind::Btf) {
        Ok(ids) => ids,
        Err(e) => {
            log::debug!("cannot list BTF objects ({e}): module BTF object ids unknown");
            return Vec::new();
        }
    };
    ids.into_iter()
        .filter_map(|id| {
            // A BTF object may go away between listing and opening (a module unloaded).
            let fd = corebpf_sys::btf_get_fd_by_id(id).ok()?;
            let (info, name) = corebpf_sys::btf_info_named(fd.as_fd()).ok()?;
            (info.kernel_btf != 0 && name != "vmlinux" && !name.is_empty()).then_some((name, id))
        })
        .collect()
}

/// The running kernel's module BTF, for `__ksym` externs and attach targets vmlinux lacks:
/// every module in `/sys/kernel/btf`, with its BTF object id where
/// [`module_btf_objects`] knows it, in id order (libbpf's search order), then the others
/// by name. A module whose BTF does not parse is left out with a warning.
pub fn kernel_module_btfs(vmlinux: &Arc<Btf>) -> Vec<ModuleBtf> {
    let names = Btf::sys_fs_modules().unwrap_or_default();
    let ids: std::collections::HashMap<String, u32> = module_btf_objects().into_iter().collect();
    let mut out: Vec<ModuleBtf> = names
        .into_iter()
        .filter_map(
            |name| match Btf::from_sys_fs_module(&name, vmlinux.clone()) {
                Ok(btf) => Some(ModuleBtf {
                    btf_obj_id: ids.get(&name).copied().unwrap_or(0),
                    name,
                    btf: Arc::new(btf),
                }),
                Err(e) => {
                    log::warn!("failed to load BTF of module '{name}': {e}");
                    None
                }
            },
        )
        .collect();
    out.sort_by_key(|m| (m.btf_obj_id == 0, m.btf_obj_id));
    out
}

/// Opens module `name`'s BTF object by its id, checking that the id still names that
/// module (it may have been unloaded and another object given the id).
pub(crate) fn open_module_btf(name: &str, id: u32) -> std::result::Result<OwnedFd, String> {
    if id == 0 {
        return Err(format!(
            "the BTF object id of module '{name}' is unknown (listing BTF objects needs \
             CAP_SYS_ADMIN and Linux 5.11)"
        ));
    }
    let fd = corebpf_sys::btf_get_fd_by_id(id)
        .map_err(|e| format!("opening BTF object #{id} of module '{name}': {e}"))?;
    match corebpf_sys::btf_info_named(fd.as_fd()) {
        Ok((_, n)) if n == name => Ok(fd),
        Ok((_, n)) => Err(format!(
            "BTF object #{id} is '{n}', no longer module '{name}' (module reloaded?)"
        )),
        Err(e) => Err(format!("reading BTF object #{id} of module '{name}': {e}")),
    }
}

/// Kernel module BTF for one object load: the modules' BTF (parsed on first need, like
/// libbpf's `load_module_btfs`), and fds of the module BTF objects the object's externs
/// resolved into, laid out as the object's `fd_array` (index 0 unused, then one per module
/// of a kfunc, libbpf's order).
pub(crate) struct LoadModules {
    list: OnceLock<Vec<ModuleBtf>>,
    /// Fds of the module BTF objects the externs use, by BTF object id.
    fds: HashMap<u32, OwnedFd>,
    /// What `BPF_PROG_LOAD` gets as `fd_array` (empty if no kfunc is in a module).
    fd_array: Vec<RawFd>,
}

impl LoadModules {
    pub(crate) fn new() -> LoadModules {
        LoadModules {
            list: OnceLock::new(),
            fds: HashMap::new(),
            fd_array: Vec::new(),
        }
    }

    /// The running kernel's module BTF (empty without kernel BTF).
    pub(crate) fn list(&self) -> &[ModuleBtf] {
        self.list.get_or_init(|| match kernel_btf() {
            Ok(vmlinux) => kernel_module_btfs(&vmlinux),
            Err(_) => Vec::new(),
        })
    }

    /// Opens the BTF object of every module a resolved extern points into and builds the
    /// `fd_array` its kfunc calls index.
    pub(crate) fn open_extern_modules(&mut self, spec: &ObjectSpec) -> Result<()> {
        for e in &spec.externs {
            let Some(ExternValue::KsymBtf {
                module: Some(m), ..
            }) = &e.resolved
            else {
                continue;
            };
            let fd = match self.fds.entry(m.btf_obj_id) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(open_module_btf(&m.name, m.btf_obj_id).map_err(|reason| {
                        Error::Object(ObjError::Extern {
                            name: e.name.clone(),
                            reason,
                        })
                    })?)
                }
            };
            let raw = fd.as_raw_fd();
            let idx = m.fd_array_idx as usize;
            if idx > 0 {
                if self.fd_array.len() <= idx {
                    self.fd_array.resize(idx + 1, 0);
                }
                self.fd_array[idx] = raw;
            }
        }
        Ok(())
    }

    /// The object's `fd_array` for `BPF_PROG_LOAD`.
    pub(crate) fn fd_array(&self) -> &[RawFd] {
        &self.fd_array
    }

    /// Writes module BTF fds where the linker left the module's BTF object id: the second
    /// half of each `BPF_PSEUDO_BTF_ID` `LD_IMM64` of an extern in a module (libbpf's
    /// `kernel_btf_obj_fd`).
    pub(crate) fn fill_ksym_fds(&self, spec: &ObjectSpec, linked: &mut LinkedProgram) {
        for r in linked.extern_relocs.iter().filter(|r| !r.call) {
            let Some(ExternValue::KsymBtf {
                module: Some(m), ..
            }) = spec.externs.get(r.ext).and_then(|e| e.resolved.as_ref())
            else {
                continue;
            };
            if let (Some(fd), Some(second)) = (
                self.fds.get(&m.btf_obj_id),
                linked.insns.get_mut(r.insn_idx + 1),
            ) {
                second.imm = fd.as_raw_fd();
            }
        }
    }
}
