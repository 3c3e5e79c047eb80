//! What a kernel's BTF says about the kernel itself: the values of its UAPI enums
//! (`enum bpf_prog_type`, `bpf_attach_type`, `bpf_map_type`, `bpf_func_id`) and the BTF kinds
//! its BTF parser accepts.

use std::collections::HashMap;

use corebpf_btf::{Btf, Kind};

/// One kernel enum read from BTF: enumerator name → value. Empty if the BTF lacks the
/// enum (then every question about it is "unknown").
#[derive(Debug, Clone, Default)]
pub(crate) struct KernelEnum {
    values: HashMap<String, u64>,
}

impl KernelEnum {
    /// `enum <name>` of `btf` (the first ENUM or ENUM64 of that name).
    fn read(btf: &Btf, name: &str) -> KernelEnum {
        let id = btf
            .find_by_name_kind(name, Kind::Enum)
            .or_else(|| btf.find_by_name_kind(name, Kind::Enum64));
        let values = id
            .and_then(|id| btf.type_by_id(id).ok())
            .map(|t| {
                t.enumerators()
                    .map(|e| (e.name().to_string(), e.value))
                    .collect()
            })
            .unwrap_or_default();
        KernelEnum { values }
    }

    /// Whether the kernel's BTF has this enum at all.
    pub(crate) fn known(&self) -> bool {
        !self.values.is_empty()
    }

    /// The value of enumerator `name`.
    pub(crate) fn get(&self, name: &str) -> Option<u64> {
        self.values.get(name).copied()
    }

    /// The name of the enumerator with `value` whose name starts with `prefix`.
    pub(crate) fn name_of(&self, prefix: &str, value: u64) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, v)| **v == value && n.starts_with(prefix))
            .map(|(n, _)| n.as_str())
    }
}

/// Whether a kernel accepts a BTF kind (or BTF feature) in an object's BTF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    /// It does.
    Yes,
    /// It does not: the loader rewrites it.
    No,
    /// Its BTF does not say.
    Unknown,
}

/// The facts compat needs about one kernel, read once from its vmlinux BTF.
#[derive(Debug, Clone)]
pub(crate) struct KernelFacts {
    pub(crate) prog_types: KernelEnum,
    pub(crate) attach_types: KernelEnum,
    pub(crate) map_types: KernelEnum,
    pub(crate) func_ids: KernelEnum,
    /// The highest BTF kind its parser knows, if the BTF tells (see [`max_btf_kind`]).
    pub(crate) max_kind: (u32, Option<u32>),
    /// `BTF_FUNC_GLOBAL` in `enum btf_func_linkage`.
    pub(crate) func_global: Support,
    /// `struct btf_layout` (the layout section, Linux 7.1).
    pub(crate) layout: Support,
    /// `struct bpf_kfunc_desc`: the verifier calls kfuncs (Linux 5.13).
    pub(crate) kfunc_calls: bool,
}

impl KernelFacts {
    /// Reads the facts from `vmlinux`.
    pub(crate) fn new(vmlinux: &Btf) -> KernelFacts {
        let linkage = KernelEnum::read(vmlinux, "btf_func_linkage");
        KernelFacts {
            prog_types: KernelEnum::read(vmlinux, "bpf_prog_type"),
            attach_types: KernelEnum::read(vmlinux, "bpf_attach_type"),
            map_types: KernelEnum::read(vmlinux, "bpf_map_type"),
            func_ids: KernelEnum::read(vmlinux, "bpf_func_id"),
            max_kind: max_btf_kind(vmlinux),
            func_global: match linkage.known() {
                true if linkage.get("BTF_FUNC_GLOBAL").is_some() => Support::Yes,
                true => Support::No,
                false => Support::Unknown,
            },
            // The kernel's BTF parser reads `struct btf_layout` records, so a kernel that
            // knows the layout section has the type in its own BTF.
            kfunc_calls: vmlinux
                .find_by_name_kind("bpf_kfunc_desc", Kind::Struct)
                .is_some(),
            layout: if vmlinux
                .find_by_name_kind("btf_layout", Kind::Struct)
                .is_some()
            {
                Support::Yes
            } else {
                Support::No
            },
        }
    }

    /// Whether the kernel's BTF parser accepts BTF kind `kind` (by number: kinds were added
    /// in numeric order, so a kernel knows exactly the kinds up to its maximum).
    pub(crate) fn kind(&self, kind: u32) -> Support {
        let (known, max) = self.max_kind;
        if kind <= known {
            Support::Yes
        } else if max.is_some_and(|m| kind > m) {
            Support::No
        } else {
            Support::Unknown
        }
    }
}

/// The value of enumerator `name` of any enum of `btf` (the UAPI's `BTF_KIND_*` enum is
/// anonymous).
fn enumerator(btf: &Btf, name: &str) -> Option<u64> {
    btf.types()
        .filter(|t| t.is_any_enum() && t.name().is_empty())
        .find_map(|t| t.enumerators().find(|e| e.name() == name).map(|e| e.value))
}

/// The BTF kinds whose kernel validator is a function of its own (`btf_<kind>_check_meta`):
/// present in the kernel's BTF exactly when its parser knows the kind.
const CHECK_META: &[(u32, &str)] = &[
    (Kind::Datasec as u32, "btf_datasec_check_meta"),
    (Kind::Float as u32, "btf_float_check_meta"),
    (Kind::DeclTag as u32, "btf_decl_tag_check_meta"),
    (Kind::Enum64 as u32, "btf_enum64_check_meta"),
];

/// The range of the highest BTF kind the kernel knows: (at least, at most if known).
///
/// Exact from `BTF_KIND_MAX` (the UAPI's anonymous enum, in the BTF of 6.0+ kernels). Otherwise: at
/// least the highest kind the kernel's own BTF uses or has a `btf_<kind>_check_meta`
/// validator for; at most the kind below the first such validator missing (validators are
/// called through a table, never inlined, so the BTF has every one the kernel has).
fn max_btf_kind(btf: &Btf) -> (u32, Option<u32>) {
    if let Some(m) = enumerator(btf, "BTF_KIND_MAX").and_then(|m| u32::try_from(m).ok()) {
        return (m, Some(m));
    }
    let mut known = btf.types().map(|t| t.raw_kind()).max().unwrap_or(0);
    let has = |f: &str| btf.find_by_name_kind(f, Kind::Func).is_some();
    let mut at_most = None;
    // Without the first validator the BTF does not list validators: no upper bound.
    if has(CHECK_META[0].1) {
        for &(kind, func) in CHECK_META {
            if has(func) {
                known = known.max(kind);
            } else if at_most.is_none() {
                at_most = Some(kind - 1);
            }
        }
    }
    (known, at_most.map(|m| m.max(known)))
}
