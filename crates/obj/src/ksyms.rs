//! Resolving externs: `__kconfig` values into the `.kconfig` map, `__ksym` variables and
//! kfuncs by name in a target kernel BTF, typeless ksyms by address from `/proc/kallsyms`.

use corebpf_btf::{Btf, Kind};

use crate::error::{ObjError, Result};
use crate::externs::{ExternKind, ExternValue, KsymKind};
use crate::kconfig::KernelConfig;
use crate::maps::MapKind;
use crate::object::ObjectSpec;

/// Finds `name`'s address in a `/proc/kallsyms` text (`<hex addr> <type> <name> [module]`).
pub fn kallsyms_lookup(kallsyms: &str, name: &str) -> Option<u64> {
    kallsyms.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let addr = it.next()?;
        let _ty = it.next()?;
        (it.next()? == name).then(|| u64::from_str_radix(addr, 16).ok())?
    })
}

impl ObjectSpec {
    /// Fills the `.kconfig` map's initial value from `cfg` (libbpf's
    /// `bpf_object__read_kconfig_file` + `LINUX_KERNEL_VERSION`). A missing value is an
    /// error naming the extern, unless it is `__weak` (then 0).
    pub fn resolve_kconfig(&mut self, cfg: &KernelConfig) -> Result<()> {
        let Some(mi) = self.maps.iter().position(|m| m.kind == MapKind::Kconfig) else {
            return Ok(());
        };
        let mut data = vec![0u8; self.maps[mi].value_size as usize];
        crate::kconfig::fill(&mut self.externs, &mut data, cfg)?;
        self.maps[mi].data = Some(data);
        Ok(())
    }

    /// Resolves `__ksym` externs against `target` (vmlinux BTF): typed variables and kfuncs
    /// by name and kind; typeless symbols through `kallsyms` (text of `/proc/kallsyms`;
    /// `None` reads the file if a typeless extern needs it). A missing non-weak symbol is
    /// an error naming it.
    pub fn resolve_ksyms(&mut self, target: &Btf, kallsyms: Option<&str>) -> Result<()> {
        let mut loaded = None;
        for e in self.externs.iter_mut() {
            let ExternKind::Ksym(kind) = e.kind else {
                continue;
            };
            let found = match kind {
                KsymKind::Var { .. } => {
                    target.find_by_name_kind(&e.name, Kind::Var).map(|btf_id| {
                        ExternValue::KsymBtf {
                            btf_id,
                            module: None,
                        }
                    })
                }
                KsymKind::Func { .. } => {
                    target.find_by_name_kind(&e.name, Kind::Func).map(|btf_id| {
                        ExternValue::KsymBtf {
                            btf_id,
                            module: None,
                        }
                    })
                }
                KsymKind::Typeless => {
                    let text = match kallsyms {
                        Some(t) => t,
                        None => loaded.get_or_insert_with(|| {
                            std::fs::read_to_string("/proc/kallsyms").unwrap_or_default()
                        }),
                    };
                    kallsyms_lookup(text, &e.name).map(ExternValue::KsymAddr)
                }
            };
            e.resolved = match found {
                Some(v) => {
                    log::debug!("extern (ksym) '{}': resolved to {v:?}", e.name);
                    Some(v)
                }
                None if e.weak => {
                    log::debug!("extern (ksym) '{}': not found, weak: set to 0", e.name);
                    Some(ExternValue::Missing)
                }
                None => {
                    return Err(ObjError::Extern {
                        name: e.name.clone(),
                        reason: "no such kernel symbol in the target BTF/kallsyms".into(),
                    })
                }
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kallsyms() {
        let t = "ffffffff81000000 T _stext\nffffffffc0000000 t foo\t[mod]\n";
        assert_eq!(
            super::kallsyms_lookup(t, "_stext"),
            Some(0xffffffff81000000)
        );
        assert_eq!(super::kallsyms_lookup(t, "foo"), Some(0xffffffffc0000000));
        assert_eq!(super::kallsyms_lookup(t, "bar"), None);
    }
}
