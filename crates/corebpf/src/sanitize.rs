//! Rewriting an object's BTF for kernels that lack some BTF kinds, as libbpf's
//! `bpf_object__sanitize_btf` does: each record keeps its size, so type ids don't move.

use corebpf_btf::{Btf, BtfBuilder, Kind, Result};
use corebpf_sys::{probe_feature, Feature};

/// The BTF kinds the kernel accepts (probed once per process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtfSupport {
    /// FUNC and FUNC_PROTO.
    pub func: bool,
    /// FUNC with global linkage.
    pub func_global: bool,
    /// VAR and DATASEC.
    pub datasec: bool,
    /// FLOAT.
    pub float: bool,
    /// DECL_TAG.
    pub decl_tag: bool,
    /// TYPE_TAG.
    pub type_tag: bool,
    /// ENUM64 (and signed enums).
    pub enum64: bool,
}

impl BtfSupport {
    /// What the running kernel supports.
    pub fn probe() -> BtfSupport {
        BtfSupport {
            func: probe_feature(Feature::BtfFunc),
            func_global: probe_feature(Feature::BtfFuncGlobal),
            datasec: probe_feature(Feature::BtfDatasec),
            float: probe_feature(Feature::BtfFloat),
            decl_tag: probe_feature(Feature::BtfDeclTag),
            type_tag: probe_feature(Feature::BtfTypeTag),
            enum64: probe_feature(Feature::BtfEnum64),
        }
    }

    /// Everything (no rewriting needed).
    pub fn all() -> BtfSupport {
        BtfSupport {
            func: true,
            func_global: true,
            datasec: true,
            float: true,
            decl_tag: true,
            type_tag: true,
            enum64: true,
        }
    }
}

fn info(kind: Kind, vlen: u32, kflag: bool) -> u32 {
    (kind as u32) << 24 | (vlen & 0xffff) | (kflag as u32) << 31
}

/// The object's BTF rewritten for `support`, or `None` if nothing needs to change.
pub fn sanitize(btf: &Btf, support: BtfSupport) -> Result<Option<Vec<u8>>> {
    if support == BtfSupport::all() {
        return Ok(None);
    }
    let mut b = BtfBuilder::from_btf(btf)?;
    let mut changed = false;
    let mut enum64_placeholder = None;
    for t in btf.types() {
        let id = t.id();
        let vlen = t.vlen();
        match t.kind() {
            Kind::Var if !support.datasec => {
                var_to_int(&mut b, id);
                changed = true;
            }
            Kind::DeclTag if !support.decl_tag => {
                var_to_int(&mut b, id);
                changed = true;
            }
            Kind::Datasec if !support.datasec => {
                // A struct whose members are the variables, named without dots.
                let name = t.name().replace('.', "_");
                let name_off = b.add_string(&name);
                b.set_word(id, 0, name_off);
                b.set_word(id, 1, info(Kind::Struct, vlen, false));
                for (j, v) in t.datasec_vars().enumerate() {
                    let var_name = btf
                        .type_by_id(v.type_id)
                        .map(|vt| vt.name_off())
                        .unwrap_or(0);
                    let base = 3 + j * 3;
                    b.set_word(id, base, var_name);
                    b.set_word(id, base + 1, v.type_id);
                    b.set_word(id, base + 2, v.offset * 8);
                }
                changed = true;
            }
            Kind::FuncProto if !support.func => {
                b.set_word(id, 1, info(Kind::Enum, vlen, false));
                b.set_word(id, 2, 4);
                changed = true;
            }
            Kind::Func if !support.func => {
                b.set_word(id, 1, info(Kind::Typedef, 0, false));
                changed = true;
            }
            Kind::Func if !support.func_global => {
                b.set_word(id, 1, info(Kind::Func, 0, false));
                changed = true;
            }
            Kind::Float if !support.float => {
                b.set_word(id, 0, 0);
                b.set_word(id, 1, info(Kind::Struct, 0, false));
                changed = true;
            }
            Kind::TypeTag if !support.type_tag => {
                b.set_word(id, 0, 0);
                b.set_word(id, 1, info(Kind::Const, 0, false));
                changed = true;
            }
            Kind::Enum if !support.enum64 && t.kflag() => {
                b.set_word(id, 1, info(Kind::Enum, vlen, false));
                changed = true;
            }
            Kind::Enum64 if !support.enum64 => {
                let ph = *enum64_placeholder
                    .get_or_insert_with(|| b.add_int("enum64_placeholder", 1, 0));
                b.set_word(id, 1, info(Kind::Union, vlen, false));
                for j in 0..vlen as usize {
                    b.set_word(id, 3 + j * 3 + 1, ph);
                    b.set_word(id, 3 + j * 3 + 2, 0);
                }
                changed = true;
            }
            _ => {}
        }
    }
    Ok(changed.then(|| b.build()))
}

/// VAR or DECL_TAG → a 1-byte INT (the kind-specific word becomes the INT encoding).
fn var_to_int(b: &mut BtfBuilder, id: u32) {
    b.set_word(id, 1, info(Kind::Int, 0, false));
    b.set_word(id, 2, 1);
    b.set_word(id, 3, 8);
}
