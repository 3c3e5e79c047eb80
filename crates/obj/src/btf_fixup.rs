//! Finalizes the object's BTF as libbpf's `bpf_object_fixup_btf`, extern collection and
//! `bpf_object__sanitize_and_load_btf` do: DATASEC sizes and VAR offsets from ELF section
//! sizes and symbol values (clang leaves some 0), `.kconfig` variables at their map offsets,
//! `.ksyms` entries rewritten to 4-byte placeholders the kernel accepts (extern linkage is
//! not loadable), and hidden global symbols made static: a VAR of a `__hidden` global
//! variable, and the FUNC of a `__hidden` global subprogram, which the verifier then checks
//! in its caller's context instead of alone.

use std::sync::Arc;

use corebpf_btf::{Btf, BtfBuilder, Kind, Linkage, Type, INT_SIGNED};

use crate::elf::{Elf, Symbol, STB_LOCAL, STT_FUNC, STT_SECTION};
use crate::error::{ObjError, Result};
use crate::externs::{kconfig_size, ExternKind, ExternSpec, KCONFIG_SEC, KSYMS_SEC};

/// `BTF_VAR_STATIC`.
const VAR_STATIC: u32 = 0;
/// `BTF_VAR_GLOBAL_ALLOCATED`.
const VAR_GLOBAL: u32 = 1;
/// `BTF_FUNC_STATIC`.
const FUNC_STATIC: u32 = 0;
/// `BTF_FUNC_GLOBAL`.
const FUNC_GLOBAL: u32 = 1;
/// `BTF_FUNC_EXTERN`.
const FUNC_EXTERN: u32 = 2;
/// `BTF_VAR_GLOBAL_EXTERN`.
const VAR_EXTERN: u32 = 2;

fn btf_err(source: corebpf_btf::BtfError) -> ObjError {
    ObjError::Btf {
        section: ".BTF",
        error: source,
    }
}

/// Words of DATASEC secinfo `i`: type, offset, size.
fn vsi_word(i: usize, field: usize) -> usize {
    3 + 3 * i + field
}

/// A DATASEC entry being fixed up: (type id, offset, size).
type SecVar = (u32, u32, u32);

/// Returns the fixed-up BTF.
pub(crate) fn finalize(btf: &Btf, elf: &Elf<'_>, externs: &[ExternSpec]) -> Result<Arc<Btf>> {
    let mut b = BtfBuilder::from_btf(btf).map_err(btf_err)?;
    fix_datasecs(btf, &mut b, elf, externs)?;
    mark_hidden_funcs_static(btf, &mut b, elf);
    unresolved_externs_global(btf, &mut b)?;
    let fixed = Btf::from_vec(b.build()).map_err(btf_err)?;
    Ok(Arc::new(fixed))
}

/// Every DATASEC: extern sections laid out as their maps hold them, data sections sized
/// from the ELF (their hidden VARs made static), entries sorted by offset.
fn fix_datasecs(
    btf: &Btf,
    b: &mut BtfBuilder,
    elf: &Elf<'_>,
    externs: &[ExternSpec],
) -> Result<()> {
    let datasecs: Vec<u32> = btf
        .types()
        .filter(|t| t.kind() == Kind::Datasec)
        .map(|t| t.id())
        .collect();
    for id in datasecs {
        let t = btf.type_by_id(id).map_err(btf_err)?;
        let name = t.name().to_string();
        let mut vars: Vec<SecVar> = t
            .datasec_vars()
            .map(|v| (v.type_id, v.offset, v.size))
            .collect();
        // A data DATASEC without its ELF section is left as it is (libbpf warns too).
        let rewrite = match name.as_str() {
            KCONFIG_SEC => {
                fix_kconfig(btf, b, id, &mut vars, externs)?;
                true
            }
            KSYMS_SEC => {
                fix_ksyms(btf, b, id, &mut vars)?;
                true
            }
            _ => fix_data_sec(btf, b, elf, (id, t.size()), &name, &mut vars)?,
        };
        if rewrite {
            write_vars(b, id, vars);
        }
    }
    Ok(())
}

/// Extern FUNCs and VARs no `.kconfig`/`.ksyms` fix-up handled (a function only declared, a
/// plain `extern` variable: symbols nothing defines, which libbpf refuses) become global,
/// a FUNC's unnamed params named `arg`: the kernel refuses extern linkage and unnamed
/// params in a BTF it loads, and the object's other programs still want their func and line
/// info. The programs using such symbols fail on their own.
fn unresolved_externs_global(btf: &Btf, b: &mut BtfBuilder) -> Result<()> {
    for t in btf.types() {
        let id = t.id();
        match t.kind() {
            Kind::Func if b.word(id, 1).unwrap_or(0) & 0xffff == FUNC_EXTERN => {
                let arg = b.add_string("arg");
                name_unnamed_params(btf, b, t, arg)?;
                let info = b.word(id, 1).unwrap_or(0);
                b.set_word(id, 1, (info & !0xffff) | FUNC_GLOBAL);
            }
            Kind::Var if b.word(id, 3) == Some(VAR_EXTERN) => {
                b.set_word(id, 3, VAR_GLOBAL);
            }
            _ => continue,
        }
        log::debug!(
            "{} '{}': undefined extern, BTF linkage set to global",
            t.kind(),
            t.name()
        );
    }
    Ok(())
}

/// libbpf's `mark_btf_static`: a global or weak subprogram (in `.text`) with hidden or
/// internal visibility gets a static BTF FUNC, so the verifier checks it with its caller's
/// state (a pointer argument is then the caller's pointer, not "maybe NULL"). Without it,
/// every user of libbpf's `usdt.bpf.h` (`__weak __hidden bpf_usdt_arg`) fails verification.
fn mark_hidden_funcs_static(btf: &Btf, b: &mut BtfBuilder, elf: &Elf<'_>) {
    let Some(text) = elf.section_by_name(".text") else {
        return;
    };
    let hidden = elf
        .symbols
        .iter()
        .filter(|s| s.shndx == Some(text.index) && s.st_type == STT_FUNC && s.is_hidden_global());
    for sym in hidden {
        let func = btf.find_by_name(&sym.name).find(|&id| {
            btf.type_by_id(id)
                .is_ok_and(|t| t.kind() == Kind::Func && t.linkage() == Some(Linkage::Global))
        });
        if let Some(id) = func {
            let info = b.word(id, 1).unwrap_or(0);
            b.set_word(id, 1, (info & !0xffff) | FUNC_STATIC);
            log::debug!(
                "func '{}': global with hidden visibility, BTF FUNC [{id}] marked static",
                sym.name
            );
        }
    }
}

/// Writes DATASEC `id`'s entries back, sorted by offset as the kernel wants them.
fn write_vars(b: &mut BtfBuilder, id: u32, mut vars: Vec<SecVar>) {
    vars.sort_by_key(|v| v.1);
    for (i, v) in vars.iter().enumerate() {
        b.set_word(id, vsi_word(i, 0), v.0);
        b.set_word(id, vsi_word(i, 1), v.1);
        b.set_word(id, vsi_word(i, 2), v.2);
    }
}

/// `.kconfig`: each VAR goes global at its extern's offset in the `.kconfig` map, whose
/// size the DATASEC takes.
fn fix_kconfig(
    btf: &Btf,
    b: &mut BtfBuilder,
    id: u32,
    vars: &mut [SecVar],
    externs: &[ExternSpec],
) -> Result<()> {
    for v in vars.iter_mut() {
        let vt = btf.type_by_id(v.0).map_err(btf_err)?;
        let ext = externs.iter().find(|e| e.name == vt.name());
        let Some(ExternKind::Kconfig { data_off, .. }) = ext.map(|e| e.kind) else {
            return Err(ObjError::Extern {
                name: vt.name().to_string(),
                reason: "no extern definition for BTF var in .kconfig".into(),
            });
        };
        b.set_word(v.0, 3, VAR_GLOBAL);
        v.1 = data_off;
    }
    b.set_word(id, 2, kconfig_size(externs));
    Ok(())
}

/// `.ksyms`: every entry becomes a 4-byte global `int` placeholder; a kfunc's FUNC goes
/// global and its slot is taken by a dummy VAR (as libbpf does).
fn fix_ksyms(btf: &Btf, b: &mut BtfBuilder, id: u32, vars: &mut [SecVar]) -> Result<()> {
    let int_id = match btf
        .types()
        .find(|t| t.kind() == Kind::Int && t.int_bits() == 32)
    {
        Some(t) => t.id(),
        None => b.add_int("int", 4, INT_SIGNED),
    };
    let has_func = vars
        .iter()
        .any(|v| btf.type_by_id(v.0).is_ok_and(|t| t.kind() == Kind::Func));
    // libbpf's add_dummy_ksym_var: the same name, so the BTF the kernel gets is libbpf's.
    let dummy = has_func.then(|| {
        let name_off = b.add_string("dummy_ksym");
        (b.add_var("dummy_ksym", int_id, Linkage::Global), name_off)
    });
    let mut off = 0;
    for v in vars.iter_mut() {
        let vt = btf.type_by_id(v.0).map_err(btf_err)?;
        if vt.kind() == Kind::Func {
            let (dummy_id, dummy_name) = dummy.unwrap_or_default();
            fix_kfunc(btf, b, vt, dummy_name)?;
            v.0 = dummy_id;
        } else {
            b.set_word(v.0, 3, VAR_GLOBAL);
            b.set_word(v.0, 2, int_id);
        }
        v.1 = off;
        v.2 = 4;
        off += 4;
    }
    b.set_word(id, 2, off);
    Ok(())
}

/// A kfunc's FUNC goes global, its unnamed params named `dummy_name` (the kernel
/// wants named params; libbpf borrows the dummy's name).
fn fix_kfunc(btf: &Btf, b: &mut BtfBuilder, func: Type<'_>, dummy_name: u32) -> Result<()> {
    name_unnamed_params(btf, b, func, dummy_name)?;
    let info = b.word(func.id(), 1).unwrap_or(0);
    b.set_word(func.id(), 1, (info & !0xffff) | FUNC_GLOBAL);
    Ok(())
}

/// Gives the unnamed params of `func`'s FUNC_PROTO the name at `name_off`: the kernel
/// refuses a FUNC whose params have no names.
fn name_unnamed_params(btf: &Btf, b: &mut BtfBuilder, func: Type<'_>, name_off: u32) -> Result<()> {
    let proto_id = func.type_id().unwrap_or(0);
    let proto = btf.type_by_id(proto_id).map_err(btf_err)?;
    for (j, p) in proto.params().enumerate() {
        if p.type_id != 0 && p.name_off == 0 {
            b.set_word(proto_id, 3 + 2 * j, name_off);
        }
    }
    Ok(())
}

/// A data DATASEC: if clang left it sized 0, its size from the ELF section and its global
/// VARs' offsets from their symbols; in any case a VAR whose symbol is hidden becomes static
/// (libbpf's `btf_fixup_datasec`). `false` if a 0-sized one has no ELF section (nothing
/// changed). `sec` is the DATASEC's id and size.
fn fix_data_sec(
    btf: &Btf,
    b: &mut BtfBuilder,
    elf: &Elf<'_>,
    (id, size): (u32, u32),
    name: &str,
    vars: &mut [SecVar],
) -> Result<bool> {
    let fixup_offsets = size == 0;
    if fixup_offsets {
        let Some(sec) = elf.section_by_name(name) else {
            log::warn!("sec '{name}': failed to determine size from ELF");
            return Ok(false);
        };
        let size = u32::try_from(sec.size).map_err(|_| ObjError::Section {
            section: name.to_string(),
            reason: "too large for a DATASEC".into(),
        })?;
        b.set_word(id, 2, size);
        log::debug!("sec '{name}': DATASEC size set to {size}");
    }
    for v in vars.iter_mut() {
        let Some(sym) = var_symbol(btf, elf, name, v.0)? else {
            continue;
        };
        if fixup_offsets {
            v.1 = u32::try_from(sym.value).unwrap_or(u32::MAX);
        }
        if sym.is_hidden_global() {
            b.set_word(v.0, 3, VAR_STATIC);
            log::debug!("sec '{name}': VAR '{}' is hidden, marked static", sym.name);
        }
    }
    Ok(true)
}

/// The ELF symbol of VAR `var` of data section `name`; `None` for static and extern VARs,
/// which have none to match.
fn var_symbol<'e>(btf: &Btf, elf: &'e Elf<'_>, name: &str, var: u32) -> Result<Option<&'e Symbol>> {
    let vt = btf.type_by_id(var).map_err(btf_err)?;
    if vt.kind() != Kind::Var {
        return Err(ObjError::Section {
            section: name.to_string(),
            reason: format!("unexpected non-VAR type [{var}] in DATASEC"),
        });
    }
    if matches!(vt.linkage(), Some(Linkage::Static | Linkage::Extern)) {
        return Ok(None);
    }
    let sym = elf.symbols.iter().find(|s| {
        s.name == vt.name() && s.bind != STB_LOCAL && s.st_type != STT_SECTION && !s.undefined
    });
    match sym {
        Some(s) => Ok(Some(s)),
        None => Err(ObjError::Symbol {
            symbol: vt.name().to_string(),
            section: name.to_string(),
            reason: "no ELF symbol for BTF VAR".into(),
        }),
    }
}
