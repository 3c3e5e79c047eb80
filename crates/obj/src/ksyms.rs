//! Resolving externs: `__kconfig` values into the `.kconfig` map, `__ksym` variables and
//! kfuncs by name in the target kernel's BTF (vmlinux, then its modules), typeless ksyms by
//! address from `/proc/kallsyms`, with libbpf 1.7's rules
//! (`bpf_object__resolve_ksyms_btf_id`, `bpf_object__read_kallsyms_file`).

use std::collections::HashMap;
use std::sync::Arc;

use corebpf_btf::{essential_len, Btf, Kind};

use crate::error::{ObjError, Result};
use crate::externs::{ExternKind, ExternSpec, ExternValue, KsymKind};
use crate::kconfig::KernelConfig;
use crate::maps::MapKind;
use crate::object::ObjectSpec;

/// Finds `name`'s address in a `/proc/kallsyms` text (`<hex addr> <type> <name> [module]`):
/// the first line naming it.
pub fn kallsyms_lookup(kallsyms: &str, name: &str) -> Option<u64> {
    kallsyms.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let addr = it.next()?;
        let _ty = it.next()?;
        (it.next()? == name).then(|| u64::from_str_radix(addr, 16).ok())?
    })
}

/// A kernel module's BTF, searched for the `__ksym` externs vmlinux lacks.
#[derive(Debug, Clone)]
pub struct ModuleBtf {
    /// Module name (`/sys/kernel/btf/<name>`).
    pub name: String,
    /// Its split BTF on top of vmlinux.
    pub btf: Arc<Btf>,
    /// The kernel's id of this BTF object (`BPF_BTF_GET_NEXT_ID`), 0 if unknown (no
    /// privileges to list BTF objects).
    pub btf_obj_id: u32,
}

/// Where an extern resolved in a kernel module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KsymModule {
    /// Module name.
    pub name: String,
    /// The kernel's id of the module's BTF object (0 if unknown). The linker writes it
    /// where libbpf writes the module's BTF fd (the second half of a `BPF_PSEUDO_BTF_ID`
    /// `LD_IMM64`); the loader replaces it with an fd of that object.
    pub btf_obj_id: u32,
    /// For a kfunc: the module's index in the program's `fd_array` (libbpf's
    /// `btf_fd_idx`, from 1, in extern order), written into the call's `off`. 0 for a
    /// variable.
    pub fd_array_idx: i16,
}

/// Where `.ksyms` externs are looked up: a kernel's vmlinux BTF, its modules' BTF (loaded
/// only when vmlinux lacks a name, as libbpf does) and its kallsyms.
pub struct KsymTarget<'a> {
    vmlinux: &'a Btf,
    load_modules: Option<Box<dyn FnOnce() -> Vec<ModuleBtf> + 'a>>,
    modules: Vec<ModuleBtf>,
    kallsyms: Kallsyms<'a>,
}

/// Where typeless ksyms' addresses come from.
enum Kallsyms<'a> {
    /// This text.
    Text(&'a str),
    /// `/proc/kallsyms`, read on first need.
    Running,
    /// None: the target is not the running kernel (a BTF file), the address is unknown.
    Unknown,
}

impl<'a> KsymTarget<'a> {
    /// A kernel whose BTF is `vmlinux`, without modules, whose addresses are unknown (BTF of
    /// another kernel): typeless ksyms stay unresolved ([`KsymOutcome::Unknown`]).
    pub fn new(vmlinux: &'a Btf) -> KsymTarget<'a> {
        KsymTarget {
            vmlinux,
            load_modules: None,
            modules: Vec::new(),
            kallsyms: Kallsyms::Unknown,
        }
    }

    /// Searches these modules when vmlinux lacks a name; `load` runs at most once, on the
    /// first such name (libbpf's `load_module_btfs`). Order matters: the first module with
    /// the name wins (libbpf walks them by BTF object id).
    pub fn with_modules(mut self, load: impl FnOnce() -> Vec<ModuleBtf> + 'a) -> Self {
        self.load_modules = Some(Box::new(load));
        self
    }

    /// Typeless ksyms' addresses from this `/proc/kallsyms` text.
    pub fn with_kallsyms(mut self, text: &'a str) -> Self {
        self.kallsyms = Kallsyms::Text(text);
        self
    }

    /// Typeless ksyms' addresses from the running kernel's `/proc/kallsyms`, read if one
    /// is needed.
    pub fn with_running_kallsyms(mut self) -> Self {
        self.kallsyms = Kallsyms::Running;
        self
    }

    /// The modules, loaded on first call.
    fn modules(&mut self) -> &[ModuleBtf] {
        if let Some(load) = self.load_modules.take() {
            self.modules = load();
            log::debug!("loaded BTF of {} kernel modules", self.modules.len());
        }
        &self.modules
    }

    /// `name` of `kind` in vmlinux, else in the first module that has it (libbpf's
    /// `find_ksym_btf_id`): its id and the module.
    fn find(&mut self, name: &str, kind: Kind) -> Option<(u32, Option<&ModuleBtf>)> {
        if let Some(id) = self.vmlinux.find_by_name_kind(name, kind) {
            return Some((id, None));
        }
        self.modules()
            .iter()
            .find_map(|m| Some((m.btf.find_by_name_kind(name, kind)?, Some(m))))
    }
}

/// What resolving one `.ksyms` extern against one kernel came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KsymOutcome {
    /// Found: [`ExternSpec::resolved`] holds the value.
    Resolved(ExternValue),
    /// A `__weak` extern not found (or a weak kfunc whose prototype does not match the
    /// kernel's): it reads as 0 and calls to it are poisoned, as libbpf does.
    WeakMissing(String),
    /// A typeless symbol of a kernel whose kallsyms are not at hand (a BTF file): its
    /// address is known only on that kernel, at load.
    Unknown,
    /// Loading fails: a strong extern not found, a variable of an incompatible type, an
    /// ambiguous kallsyms address.
    Failed(ObjError),
}

/// One `.ksyms` extern's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KsymResolution {
    /// Index into [`ObjectSpec::externs`].
    pub ext: usize,
    /// What it came to.
    pub outcome: KsymOutcome,
}

/// A lookup's result before weak/strong is applied: found, or not found / incompatible
/// (with why), or a hard error.
enum Lookup {
    Found(ExternValue),
    NotFound(String),
    /// Not found even as weak (an incompatible variable type, an ambiguous address).
    Error(String),
    Unknown,
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

    /// Resolves `__ksym` externs against `target` (vmlinux BTF, no modules): typed
    /// variables and kfuncs by name, kind and type; typeless symbols through `kallsyms`
    /// (text of `/proc/kallsyms`; `None` reads the file if a typeless extern needs it). A
    /// missing non-weak symbol is an error naming it.
    pub fn resolve_ksyms(&mut self, target: &Btf, kallsyms: Option<&str>) -> Result<()> {
        let t = KsymTarget::new(target);
        let mut t = match kallsyms {
            Some(text) => t.with_kallsyms(text),
            None => t.with_running_kallsyms(),
        };
        self.resolve_ksyms_in(&mut t)
    }

    /// Resolves `__ksym` externs against `target` (see [`ObjectSpec::resolve_ksyms_all`]),
    /// failing with the first extern that makes loading fail.
    pub fn resolve_ksyms_in(&mut self, target: &mut KsymTarget<'_>) -> Result<()> {
        for r in self.resolve_ksyms_all(target) {
            if let KsymOutcome::Failed(e) = r.outcome {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Resolves every `__ksym` extern against `target` and says what each came to, failures
    /// included (the dry run reports them all). As libbpf: kfuncs by their essential name
    /// (`bpf_foo___v2` is `bpf_foo`) with a compatible prototype, typed variables by name
    /// with a compatible type, each in vmlinux then in the first module that has it (a kfunc
    /// in a module gets the module's `fd_array` index, from 1 in extern order); typeless
    /// symbols by address from kallsyms (`.llvm.` suffixes of data symbols ignored, two
    /// different addresses an error). Sets [`ExternSpec::resolved`] (`Missing` for a weak
    /// extern not found).
    pub fn resolve_ksyms_all(&mut self, target: &mut KsymTarget<'_>) -> Vec<KsymResolution> {
        let addrs = typeless_addresses(&self.externs, &mut target.kallsyms);
        let mut fd_array: Vec<String> = Vec::new();
        let mut out = Vec::new();
        let local = self.btf.as_deref();
        for (i, e) in self.externs.iter_mut().enumerate() {
            let ExternKind::Ksym(kind) = e.kind else {
                continue;
            };
            let lookup = match kind {
                KsymKind::Var { type_id } => lookup_var(local, e, type_id, target),
                KsymKind::Func { proto_id } => {
                    lookup_func(local, e, proto_id, target, &mut fd_array)
                }
                KsymKind::Typeless => match addrs.as_ref().map(|a| a.get(&e.name)) {
                    None => Lookup::Unknown,
                    Some(None) => Lookup::NotFound("not found in kallsyms".into()),
                    Some(Some(Ok(addr))) => Lookup::Found(ExternValue::KsymAddr(*addr)),
                    Some(Some(Err(why))) => Lookup::Error(why.clone()),
                },
            };
            let outcome = settle(e, lookup);
            out.push(KsymResolution { ext: i, outcome });
        }
        out
    }
}

/// Applies weak/strong to a lookup: sets the extern's value and says what it came to.
fn settle(e: &mut ExternSpec, lookup: Lookup) -> KsymOutcome {
    let fail = |reason: String| {
        KsymOutcome::Failed(ObjError::Extern {
            name: e.name.clone(),
            reason,
        })
    };
    let outcome = match lookup {
        Lookup::Found(v) => KsymOutcome::Resolved(v),
        Lookup::NotFound(why) if e.weak => {
            log::debug!(
                "extern '{}' (weak): not resolved, defaulting to zero",
                e.name
            );
            KsymOutcome::WeakMissing(why)
        }
        Lookup::NotFound(why) | Lookup::Error(why) => fail(why),
        Lookup::Unknown => KsymOutcome::Unknown,
    };
    e.resolved = match &outcome {
        KsymOutcome::Resolved(v) => Some(v.clone()),
        KsymOutcome::WeakMissing(_) => Some(ExternValue::Missing),
        KsymOutcome::Unknown | KsymOutcome::Failed(_) => None,
    };
    outcome
}

/// A typed `__ksym` variable: a VAR of that name whose type is compatible with the local
/// one (libbpf's `bpf_object__resolve_ksym_var_btf_id`; an incompatible type fails even
/// a weak extern).
fn lookup_var(local: Option<&Btf>, e: &ExternSpec, type_id: u32, t: &mut KsymTarget) -> Lookup {
    let Some((id, module)) = t.find(&e.name, Kind::Var) else {
        return Lookup::NotFound("not found in kernel BTF".into());
    };
    let module = module.cloned();
    let btf = module.as_ref().map_or(t.vmlinux, |m| &m.btf);
    let Some(local) = local else {
        return Lookup::Error("the object has no BTF".into());
    };
    let Ok(var) = btf.type_by_id(id) else {
        return Lookup::Error(format!("kernel BTF has no type [{id}]"));
    };
    let targ = btf.skip_mods_and_typedefs(var.type_id().unwrap_or(0));
    let compat = targ.as_ref().is_ok_and(|targ| {
        corebpf_btf::relo::types_are_compat(local, type_id, btf, targ.id()) == Ok(true)
    });
    if !compat {
        let show = |b: &Btf, id: u32| {
            b.type_by_id(id)
                .map_or(format!("[{id}]"), |t| format!("{}", t.with_id()))
        };
        return Lookup::Error(format!(
            "incompatible types, expected {}, but kernel has {}",
            show(local, type_id),
            targ.map_or(String::from("?"), |t| format!("{}", t.with_id()))
        ));
    }
    log::debug!(
        "extern (var ksym) '{}': resolved to {}",
        e.name,
        var.with_id()
    );
    Lookup::Found(ExternValue::KsymBtf {
        btf_id: id,
        module: module.map(|m| KsymModule {
            name: m.name,
            btf_obj_id: m.btf_obj_id,
            fd_array_idx: 0,
        }),
    })
}

/// A kfunc: a FUNC named as the extern's essential name, whose prototype is compatible with
/// the local one (libbpf's `bpf_object__resolve_ksym_func_btf_id`: an incompatible
/// prototype counts as missing, so a weak kfunc is poisoned). A module gets an index in
/// `fd_array` (from 1) when its first kfunc resolves.
fn lookup_func(
    local: Option<&Btf>,
    e: &ExternSpec,
    proto_id: u32,
    t: &mut KsymTarget,
    fd_array: &mut Vec<String>,
) -> Lookup {
    let name = &e.name[..essential_len(e.name.as_bytes())];
    let Some((id, module)) = t.find(name, Kind::Func) else {
        return Lookup::NotFound("not found in kernel or module BTFs".into());
    };
    let module = module.cloned();
    let btf = module.as_ref().map_or(t.vmlinux, |m| &m.btf);
    let kern_proto = btf
        .type_by_id(id)
        .ok()
        .and_then(|f| f.type_id())
        .unwrap_or(0);
    let compat = local.is_some_and(|local| {
        corebpf_btf::relo::types_are_compat(local, proto_id, btf, kern_proto) == Ok(true)
    });
    let in_btf = module.as_ref().map_or("vmlinux", |m| m.name.as_str());
    if !compat {
        return Lookup::NotFound(format!(
            "func_proto [{proto_id}] incompatible with {in_btf} [{kern_proto}]"
        ));
    }
    log::debug!(
        "extern (func ksym) '{}': resolved to {in_btf} [{id}]",
        e.name
    );
    let module = module.map(|m| {
        let idx = match fd_array.iter().position(|n| *n == m.name) {
            Some(k) => k + 1,
            None => {
                fd_array.push(m.name.clone());
                fd_array.len()
            }
        };
        KsymModule {
            name: m.name,
            btf_obj_id: m.btf_obj_id,
            fd_array_idx: i16::try_from(idx).unwrap_or(i16::MAX),
        }
    });
    Lookup::Found(ExternValue::KsymBtf { btf_id: id, module })
}

/// Addresses of the typeless externs from kallsyms, or `None` when the target's kallsyms
/// are not at hand. A name with two different addresses maps to an error.
fn typeless_addresses(
    externs: &[ExternSpec],
    kallsyms: &mut Kallsyms<'_>,
) -> Option<HashMap<String, std::result::Result<u64, String>>> {
    let names: Vec<&str> = externs
        .iter()
        .filter(|e| e.kind == ExternKind::Ksym(KsymKind::Typeless))
        .map(|e| e.name.as_str())
        .collect();
    if names.is_empty() {
        return Some(HashMap::new());
    }
    let owned;
    let text = match kallsyms {
        Kallsyms::Text(t) => *t,
        Kallsyms::Unknown => return None,
        Kallsyms::Running => {
            owned = std::fs::read_to_string("/proc/kallsyms").unwrap_or_else(|e| {
                log::warn!("failed to read /proc/kallsyms: {e}");
                String::new()
            });
            owned.as_str()
        }
    };
    Some(kallsyms_addresses(text, &names))
}

/// One pass over a kallsyms text for `names`, as libbpf's `kallsyms_cb`: a data symbol
/// (`d`) named `NAME.llvm.<hash>` counts as `NAME`; the first address wins, and a second,
/// different one makes the name ambiguous.
fn kallsyms_addresses(
    text: &str,
    names: &[&str],
) -> HashMap<String, std::result::Result<u64, String>> {
    let mut out: HashMap<String, std::result::Result<u64, String>> = HashMap::new();
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let (Some(addr), Some(ty), Some(sym)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let sym = match sym.find(".llvm.") {
            Some(at) if ty == "d" => &sym[..at],
            _ => sym,
        };
        let Some(&name) = names.iter().find(|n| **n == sym) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        match out.get(name) {
            None => {
                log::debug!("extern (ksym) '{name}': set to {addr:#x}");
                out.insert(name.to_string(), Ok(addr));
            }
            Some(Ok(first)) if *first != addr => {
                let why = format!("resolution is ambiguous: {first:#x} or {addr:#x}");
                out.insert(name.to_string(), Err(why));
            }
            Some(_) => {}
        }
    }
    out
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

    use std::sync::Arc;

    use corebpf_btf::{Btf, BtfBuilder, Linkage, INT_SIGNED};

    use super::*;

    fn ext(name: &str, weak: bool, kind: KsymKind) -> ExternSpec {
        ExternSpec {
            name: name.into(),
            weak,
            btf_id: 0,
            kind: ExternKind::Ksym(kind),
            resolved: None,
        }
    }

    /// A BTF with `int`, `struct s`, a `void f(int)` prototype, and what `more` adds.
    fn btf(more: impl FnOnce(&mut BtfBuilder, u32, u32, u32)) -> Btf {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let s = b.add_struct("s", 4, &[]);
        let proto = b.add_func_proto(0, &[("x", int)]);
        more(&mut b, int, s, proto);
        Btf::from_vec(b.build()).unwrap()
    }

    #[test]
    fn variable_of_an_incompatible_type_fails_even_weak() {
        let local = btf(|_, _, _, _| {});
        let kernel = btf(|b, _, s, _| {
            b.add_var("v", s, Linkage::Global);
        });
        let mut t = KsymTarget::new(&kernel);
        // Local `int v` against the kernel's `struct s v`.
        let e = ext("v", true, KsymKind::Var { type_id: 1 });
        match lookup_var(Some(&local), &e, 1, &mut t) {
            Lookup::Error(why) => assert!(why.contains("incompatible types"), "{why}"),
            _ => panic!("not an error"),
        }
        let e = ext("v", false, KsymKind::Var { type_id: 2 });
        assert!(matches!(
            lookup_var(Some(&local), &e, 2, &mut t),
            Lookup::Found(ExternValue::KsymBtf { module: None, .. })
        ));
    }

    #[test]
    fn kfuncs_by_essential_name_then_modules_with_fd_array_indexes() {
        let local = btf(|_, _, _, _| {});
        let vmlinux = Arc::new(btf(|b, _, _, proto| {
            b.add_func("in_vmlinux", proto, Linkage::Global);
        }));
        let module = |name: &str, func: &str, id: u32| {
            let mut b = BtfBuilder::new_split(&vmlinux);
            b.add_func(func, 3, Linkage::Global);
            ModuleBtf {
                name: name.into(),
                btf: Arc::new(Btf::parse_split(&b.build(), vmlinux.clone()).unwrap()),
                btf_obj_id: id,
            }
        };
        let mods = vec![module("m1", "in_m1", 41), module("m2", "in_m2", 42)];
        let mut t = KsymTarget::new(&vmlinux).with_modules(|| mods);
        let mut fd_array = Vec::new();
        let mut found = |name: &str, proto| {
            let e = ext(name, false, KsymKind::Func { proto_id: proto });
            match lookup_func(Some(&local), &e, proto, &mut t, &mut fd_array) {
                Lookup::Found(ExternValue::KsymBtf { module, .. }) => {
                    Ok(module.map(|m| (m.name, m.btf_obj_id, m.fd_array_idx)))
                }
                Lookup::NotFound(why) => Err(why),
                _ => Err("other".into()),
            }
        };
        assert_eq!(found("in_vmlinux___v2", 3), Ok(None));
        assert_eq!(found("in_m2", 3), Ok(Some(("m2".into(), 42, 1))));
        assert_eq!(found("in_m1", 3), Ok(Some(("m1".into(), 41, 2))));
        assert_eq!(found("in_m2___again", 3), Ok(Some(("m2".into(), 42, 1))));
        // `struct s` is no `int` parameter: missing (a weak kfunc is then poisoned).
        let why = found("in_vmlinux", 2).unwrap_err();
        assert!(why.contains("incompatible with vmlinux"), "{why}");
        assert!(found("nowhere", 3).is_err());
    }

    #[test]
    fn kallsyms_llvm_suffix_and_ambiguity() {
        let t = "ffffffff81000010 d counter.llvm.123456\n\
                 ffffffff81000020 t helper\n\
                 ffffffff81000030 t helper\n\
                 ffffffff81000040 T twice\n\
                 ffffffff81000040 T twice\n\
                 ffffffff81000050 t text.llvm.99\n";
        let got = super::kallsyms_addresses(t, &["counter", "helper", "twice", "text"]);
        assert_eq!(got["counter"], Ok(0xffffffff81000010));
        assert!(got["helper"].as_ref().unwrap_err().contains("ambiguous"));
        assert_eq!(got["twice"], Ok(0xffffffff81000040));
        // Only data symbols drop the suffix.
        assert!(!got.contains_key("text"));
    }
}
