//! Finalizes the object's BTF as libbpf's `btf_finalize_data` and extern collection do:
//! DATASEC sizes and VAR offsets from ELF section sizes and symbol values (clang leaves
//! some 0), `.kconfig` variables at their map offsets, `.ksyms` entries rewritten to
//! 4-byte placeholders the kernel accepts (extern linkage is not loadable).

use std::sync::Arc;

use corebpf_btf::{Btf, BtfBuilder, Kind, Linkage, Type, INT_SIGNED};

use crate::elf::{Elf, STB_LOCAL, STT_SECTION};
use crate::error::{ObjError, Result};
use crate::externs::{kconfig_size, ExternKind, ExternSpec, KCONFIG_SEC, KSYMS_SEC};

/// `BTF_VAR_GLOBAL_ALLOCATED`.
const VAR_GLOBAL: u32 = 1;
/// `BTF_FUNC_GLOBAL`.
const FUNC_GLOBAL: u32 = 1;

fn btf_err(source: corebpf_btf::BtfError) -> ObjError {
    ObjError::Btf {
        section: ".BTF",
        source,
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
                fix_kconfig(btf, &mut b, id, &mut vars, externs)?;
                true
            }
            KSYMS_SEC => {
                fix_ksyms(btf, &mut b, id, &mut vars)?;
                true
            }
            _ if t.size() == 0 => fix_data_sec(btf, &mut b, elf, id, &name, &mut vars)?,
            _ => true,
        };
        if rewrite {
            write_vars(&mut b, id, vars);
        }
    }
    let fixed = Btf::from_vec(b.build()).map_err(btf_err)?;
    Ok(Arc::new(fixed))
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
    let dummy = has_func.then(|| {
        let name_off = b.add_string("dummy_ksym_var");
        (
            b.add_var("dummy_ksym_var", int_id, Linkage::Global),
            name_off,
        )
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
    let proto_id = func.type_id().unwrap_or(0);
    let proto = btf.type_by_id(proto_id).map_err(btf_err)?;
    for (j, p) in proto.params().enumerate() {
        if p.type_id != 0 && p.name_off == 0 {
            b.set_word(proto_id, 3 + 2 * j, dummy_name);
        }
    }
    let info = b.word(func.id(), 1).unwrap_or(0);
    b.set_word(func.id(), 1, (info & !0xffff) | FUNC_GLOBAL);
    Ok(())
}

/// A data DATASEC clang left sized 0: its size from the ELF section, its global VARs'
/// offsets from their symbols. `false` if there is no such ELF section (nothing changed).
fn fix_data_sec(
    btf: &Btf,
    b: &mut BtfBuilder,
    elf: &Elf<'_>,
    id: u32,
    name: &str,
    vars: &mut [SecVar],
) -> Result<bool> {
    let Some(sec) = elf.section_by_name(name) else {
        log::warn!("sec '{name}': failed to determine size from ELF");
        return Ok(false);
    };
    let size = u32::try_from(sec.size).map_err(|_| ObjError::Section {
        section: name.to_string(),
        reason: "too large for a DATASEC".into(),
    })?;
    b.set_word(id, 2, size);
    for v in vars.iter_mut() {
        if let Some(off) = var_offset(btf, elf, name, v.0)? {
            v.1 = off;
        }
    }
    log::debug!("sec '{name}': DATASEC size set to {size}");
    Ok(true)
}

/// The offset of VAR `var` of data section `name`, from its ELF symbol; `None` for static
/// and extern VARs, which keep theirs.
fn var_offset(btf: &Btf, elf: &Elf<'_>, name: &str, var: u32) -> Result<Option<u32>> {
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
        Some(s) => Ok(Some(u32::try_from(s.value).unwrap_or(u32::MAX))),
        None => Err(ObjError::Symbol {
            symbol: vt.name().to_string(),
            section: name.to_string(),
            reason: "no ELF symbol for BTF VAR".into(),
        }),
    }
}
