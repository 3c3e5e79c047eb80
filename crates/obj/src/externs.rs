//! `__kconfig` and `__ksym` externs: undefined ELF symbols whose BTF VAR/FUNC lives in the
//! `.kconfig` or `.ksyms` DATASEC (libbpf's `bpf_object__collect_externs`).

use corebpf_btf::{Btf, Kind, Linkage, Type, INT_BOOL, INT_SIGNED};

use crate::elf::{Elf, Symbol, STB_WEAK};
use crate::error::{obj_btf_err, ObjError, Result};

/// Name of the DATASEC of kconfig externs (and of the internal map holding them).
pub const KCONFIG_SEC: &str = ".kconfig";
/// Name of the DATASEC of kernel symbol externs.
pub const KSYMS_SEC: &str = ".ksyms";

/// Largest `.kconfig` map libbpf-style objects get (keeps hostile BTF from sizing big buffers).
const MAX_KCONFIG_SIZE: u32 = 1 << 20;

/// The C type of a kconfig extern, as libbpf's `find_kcfg_type` classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KconfigType {
    /// `bool` (1 byte): `y` is 1, `n` is 0.
    Bool,
    /// `enum libbpf_tristate`: `n` 0, `y` 1, `m` 2.
    Tristate,
    /// `char`: the option's character (`y`, `n`, `m`) or a number.
    Char,
    /// `char[N]`: a string option, NUL-padded and truncated to N-1 bytes.
    CharArray,
    /// An integer of 1, 2, 4 or 8 bytes.
    Int {
        /// Signed.
        signed: bool,
    },
}

/// What a kernel symbol extern refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KsymKind {
    /// A typed kernel variable (`extern const struct rq runqueues __ksym`): resolved to the
    /// BTF id of the kernel's VAR (`LD_IMM64` with `BPF_PSEUDO_BTF_ID`).
    Var {
        /// The variable's type in the object's BTF.
        type_id: u32,
    },
    /// A typeless symbol (`extern const void _stext __ksym`): resolved to its address
    /// from `/proc/kallsyms`.
    Typeless,
    /// A kernel function (kfunc): resolved to the BTF id of the kernel's FUNC.
    Func {
        /// Its FUNC_PROTO in the object's BTF.
        proto_id: u32,
    },
}

/// What kind of extern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternKind {
    /// `__kconfig`: a value in the internal `.kconfig` map.
    Kconfig {
        /// Its type.
        ty: KconfigType,
        /// Size in bytes.
        size: u32,
        /// Alignment in bytes.
        align: u32,
        /// Byte offset in the `.kconfig` map value.
        data_off: u32,
    },
    /// `__ksym`.
    Ksym(KsymKind),
}

/// How an extern was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternValue {
    /// Kconfig value written into the `.kconfig` map's data (the bytes are there).
    Kconfig,
    /// A kernel BTF object (variable or function) by id.
    KsymBtf {
        /// BTF id in the target BTF.
        btf_id: u32,
        /// The module whose BTF holds the id (`None`: vmlinux).
        module: Option<crate::ksyms::KsymModule>,
    },
    /// A typeless symbol's address.
    KsymAddr(u64),
    /// A `__weak` extern not found: reads as 0 / the call is poisoned.
    Missing,
}

/// One extern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternSpec {
    /// Symbol name.
    pub name: String,
    /// `__weak`: missing is not an error.
    pub weak: bool,
    /// BTF id of its VAR or FUNC in the object's BTF.
    pub btf_id: u32,
    /// Kind.
    pub kind: ExternKind,
    /// Resolution, once [`crate::ObjectSpec::resolve_kconfig`] / `resolve_ksyms` ran.
    pub resolved: Option<ExternValue>,
}

impl ExternSpec {
    /// Whether it is a `__kconfig` extern.
    pub fn is_kconfig(&self) -> bool {
        matches!(self.kind, ExternKind::Kconfig { .. })
    }
}

fn ext_err(name: &str, reason: impl Into<String>) -> ObjError {
    ObjError::Extern {
        name: name.to_string(),
        reason: reason.into(),
    }
}

fn kcfg_type(btf: &Btf, id: u32, top: bool) -> Option<KconfigType> {
    let t = btf.skip_mods_and_typedefs(id).ok()?;
    match t.kind() {
        Kind::Int => {
            let enc = t.int_encoding();
            if enc & INT_BOOL != 0 {
                return (t.size() == 1).then_some(KconfigType::Bool);
            }
            if t.size() == 1 {
                return Some(KconfigType::Char);
            }
            (matches!(t.size(), 2 | 4 | 8) && top).then_some(KconfigType::Int {
                signed: enc & INT_SIGNED != 0,
            })
        }
        Kind::Enum | Kind::Enum64 if t.name() == "libbpf_tristate" => Some(KconfigType::Tristate),
        Kind::Array if top => {
            let a = t.array()?;
            (a.nelems != 0 && kcfg_type(btf, a.elem_type, false) == Some(KconfigType::Char))
                .then_some(KconfigType::CharArray)
        }
        _ => None,
    }
}

/// The DATASEC (`.kconfig` or `.ksyms`) holding BTF type `id`, if any.
fn extern_sec(btf: &Btf, id: u32) -> Option<String> {
    btf.types()
        .filter(|t| t.kind() == Kind::Datasec)
        .find(|t| t.datasec_vars().any(|v| v.type_id == id))
        .map(|t| t.name().to_string())
}

/// Collects the externs, sorted as libbpf sorts them (kconfig first, by alignment
/// descending, size ascending, then name), with kconfig offsets assigned. Undefined
/// symbols without a `.kconfig`/`.ksyms` BTF entry are skipped here; a relocation against
/// one is an error naming the instruction.
pub(crate) fn collect_externs(elf: &Elf<'_>, btf: Option<&Btf>) -> Result<Vec<ExternSpec>> {
    let mut externs = Vec::new();
    let Some(btf) = btf else {
        return Ok(externs);
    };
    for sym in elf.symbols.iter().skip(1) {
        if !sym.undefined || sym.name.is_empty() {
            continue;
        }
        if let Some(e) = extern_of(btf, sym)? {
            externs.push(e);
        }
    }
    externs.sort_by(libbpf_order);
    assign_kconfig_offsets(&mut externs)?;
    Ok(externs)
}

/// The extern undefined symbol `sym` declares, or `None` (logged) if its BTF doesn't make
/// it a `.kconfig` or `.ksyms` one.
fn extern_of(btf: &Btf, sym: &Symbol) -> Result<Option<ExternSpec>> {
    let name = sym.name.as_str();
    let Some(id) = btf.find_by_name(name).find(|&id| {
        btf.type_by_id(id).is_ok_and(|t| {
            matches!(t.kind(), Kind::Var | Kind::Func) && t.linkage() == Some(Linkage::Extern)
        })
    }) else {
        log::debug!("extern '{name}': no BTF VAR/FUNC with extern linkage, skipping");
        return Ok(None);
    };
    let t = btf.type_by_id(id).map_err(obj_btf_err)?;
    let sec = extern_sec(btf, id).unwrap_or_default();
    let kind = match sec.as_str() {
        KCONFIG_SEC => kconfig_kind(btf, name, t)?,
        KSYMS_SEC => ksym_kind(btf, t)?,
        _ => {
            log::debug!("extern '{name}': in no .kconfig/.ksyms DATASEC ('{sec}'), skipping");
            return Ok(None);
        }
    };
    Ok(Some(ExternSpec {
        name: name.to_string(),
        weak: sym.bind == STB_WEAK,
        btf_id: id,
        kind,
        resolved: None,
    }))
}

/// A `.kconfig` extern (VAR `t`): a type libbpf can fill from the kernel config, of a size
/// and alignment that fit the map. Its offset is assigned once all are known.
fn kconfig_kind(btf: &Btf, name: &str, t: Type<'_>) -> Result<ExternKind> {
    if t.kind() == Kind::Func {
        return Err(ext_err(name, "extern function can't be in .kconfig"));
    }
    let ty_id = t.type_id().unwrap_or(0);
    let ty = kcfg_type(btf, ty_id, true)
        .ok_or_else(|| ext_err(name, "kconfig extern type is unsupported"))?;
    let size = btf
        .size_of(ty_id)
        .map_err(|e| ext_err(name, e.to_string()))?;
    let align = btf
        .align_of(ty_id)
        .map_err(|e| ext_err(name, e.to_string()))?;
    if size == 0 || size > MAX_KCONFIG_SIZE || !matches!(align, 1 | 2 | 4 | 8) {
        return Err(ext_err(
            name,
            format!("kconfig extern of size {size}, alignment {align}"),
        ));
    }
    if name == "LINUX_KERNEL_VERSION" && !matches!(ty, KconfigType::Int { .. }) {
        return Err(ext_err(name, "must be an integer"));
    }
    Ok(ExternKind::Kconfig {
        ty,
        size,
        align,
        data_off: 0,
    })
}

/// A `.ksyms` extern (VAR or FUNC `t`): a kfunc, a typed kernel variable or a typeless
/// symbol (`void`).
fn ksym_kind(btf: &Btf, t: Type<'_>) -> Result<ExternKind> {
    if t.kind() == Kind::Func {
        return Ok(ExternKind::Ksym(KsymKind::Func {
            proto_id: t.type_id().unwrap_or(0),
        }));
    }
    let ty = btf
        .skip_mods_and_typedefs(t.type_id().unwrap_or(0))
        .map_err(obj_btf_err)?;
    Ok(if ty.kind() == Kind::Void {
        ExternKind::Ksym(KsymKind::Typeless)
    } else {
        ExternKind::Ksym(KsymKind::Var { type_id: ty.id() })
    })
}

/// libbpf's extern order: kconfig before ksym; kconfig by alignment descending, then size
/// ascending; then by name.
fn libbpf_order(a: &ExternSpec, b: &ExternSpec) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (&a.kind, &b.kind) {
        (ExternKind::Kconfig { .. }, ExternKind::Ksym(_)) => Ordering::Less,
        (ExternKind::Ksym(_), ExternKind::Kconfig { .. }) => Ordering::Greater,
        (
            ExternKind::Kconfig {
                align: aa,
                size: sa,
                ..
            },
            ExternKind::Kconfig {
                align: ab,
                size: sb,
                ..
            },
        ) => ab.cmp(aa).then(sa.cmp(sb)).then(a.name.cmp(&b.name)),
        _ => a.name.cmp(&b.name),
    }
}

/// Lays the (sorted) kconfig externs out in the `.kconfig` map, each at its alignment.
fn assign_kconfig_offsets(externs: &mut [ExternSpec]) -> Result<()> {
    let mut off = 0u32;
    for (i, e) in externs.iter_mut().enumerate() {
        if let ExternKind::Kconfig {
            size,
            align,
            data_off,
            ..
        } = &mut e.kind
        {
            *data_off = off.div_ceil(*align) * *align;
            off = *data_off + *size;
            if off > MAX_KCONFIG_SIZE {
                return Err(ext_err(&e.name, "kconfig externs too large"));
            }
            log::debug!(
                "extern (kcfg) #{i}: name {}, off {}, sz {}, weak {}",
                e.name,
                data_off,
                size,
                e.weak
            );
        } else {
            log::debug!("extern (ksym) #{i}: name {}, weak {}", e.name, e.weak);
        }
    }
    Ok(())
}

/// Total size of the `.kconfig` map value for these externs (0 if there are none).
pub(crate) fn kconfig_size(externs: &[ExternSpec]) -> u32 {
    externs
        .iter()
        .filter_map(|e| match e.kind {
            ExternKind::Kconfig { size, data_off, .. } => Some(data_off + size),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}
