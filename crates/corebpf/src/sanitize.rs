//! Rewriting an object's BTF for kernels that lack some BTF kinds, as libbpf's
//! `bpf_object__sanitize_btf` does: type ids don't move (each record keeps its size, but
//! for types of kinds corebpf does not know). The layout section (Linux 7.1+) is kept for
//! kernels that read it and dropped for older ones, which refuse a header with it.

use corebpf_btf::{Btf, BtfBuilder, Kind, Result, Type};
use corebpf_sys::{probe_feature_with, Feature, Token};

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
    /// The layout section (a 32-byte header with `layout_off`/`layout_len`).
    pub layout: bool,
    /// DATASEC names starting with `?` (`SEC("?.struct_ops")`).
    pub qmark_datasec: bool,
}

impl BtfSupport {
    /// What the running kernel supports.
    pub fn probe() -> BtfSupport {
        BtfSupport::probe_with(None)
    }

    /// What the running kernel supports, probed with `token` (a process with a token may
    /// load BTF only with it).
    pub fn probe_with(token: Option<&Token>) -> BtfSupport {
        let probe_feature = |f| probe_feature_with(f, token);
        BtfSupport {
            func: probe_feature(Feature::BtfFunc),
            func_global: probe_feature(Feature::BtfFuncGlobal),
            datasec: probe_feature(Feature::BtfDatasec),
            float: probe_feature(Feature::BtfFloat),
            decl_tag: probe_feature(Feature::BtfDeclTag),
            type_tag: probe_feature(Feature::BtfTypeTag),
            enum64: probe_feature(Feature::BtfEnum64),
            layout: probe_feature(Feature::BtfLayout),
            qmark_datasec: probe_feature(Feature::BtfQmarkDatasec),
        }
    }

    /// What the running kernel supports of what `btf` uses: a feature whose kinds `btf`
    /// does not hold is not probed (it would change nothing) and reads as supported.
    /// libbpf probes every BTF feature before loading any BTF; most objects use two or
    /// three of the nine, and each probe is a `BPF_BTF_LOAD`.
    pub fn probe_for(btf: &Btf) -> BtfSupport {
        BtfSupport::probe_for_with(btf, None)
    }

    /// [`BtfSupport::probe_for`] with the probes made with `token`.
    pub fn probe_for_with(btf: &Btf, token: Option<&Token>) -> BtfSupport {
        let used = UsedKinds::of(btf);
        let probe = |needed: bool, f: Feature| !needed || probe_feature_with(f, token);
        BtfSupport {
            func: probe(used.func, Feature::BtfFunc),
            func_global: probe(used.func_global, Feature::BtfFuncGlobal),
            datasec: probe(used.datasec, Feature::BtfDatasec),
            float: probe(used.float, Feature::BtfFloat),
            decl_tag: probe(used.decl_tag, Feature::BtfDeclTag),
            type_tag: probe(used.type_tag, Feature::BtfTypeTag),
            enum64: probe(used.enum64, Feature::BtfEnum64),
            layout: probe(btf.layout().is_some(), Feature::BtfLayout),
            qmark_datasec: probe(used.qmark_datasec, Feature::BtfQmarkDatasec),
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
            layout: true,
            qmark_datasec: true,
        }
    }
}

/// Which sanitizable kinds a BTF holds (each field as in [`BtfSupport`]).
#[derive(Default)]
struct UsedKinds {
    func: bool,
    func_global: bool,
    datasec: bool,
    float: bool,
    decl_tag: bool,
    type_tag: bool,
    enum64: bool,
    qmark_datasec: bool,
}

impl UsedKinds {
    fn of(btf: &Btf) -> UsedKinds {
        let mut used = UsedKinds::default();
        for t in btf.types() {
            match t.kind() {
                Kind::Func => {
                    used.func = true;
                    // libbpf rewrites global (and extern) functions as static where needed.
                    used.func_global |= t.linkage() != Some(corebpf_btf::Linkage::Static);
                }
                Kind::FuncProto => used.func = true,
                Kind::Var => used.datasec = true,
                Kind::Datasec => {
                    used.datasec = true;
                    used.qmark_datasec |= t.name().starts_with('?');
                }
                Kind::Float => used.float = true,
                Kind::DeclTag => used.decl_tag = true,
                Kind::TypeTag => used.type_tag = true,
                Kind::Enum64 => used.enum64 = true,
                Kind::Enum => used.enum64 |= t.kflag(),
                _ => {}
            }
        }
        used
    }
}

fn info(kind: Kind, vlen: u32, kflag: bool) -> u32 {
    (kind as u32) << 24 | (vlen & corebpf_btf::MAX_VLEN) | (kflag as u32) << 31
}

/// The object's BTF rewritten for `support`, or `None` if nothing needs to change.
///
/// Types of kinds corebpf does not know ([`Btf::unknown_kinds`], which only BTF with a
/// layout section can hold) are always rewritten, whatever the kernel: corebpf cannot
/// vouch for what they reference, and no kernel it knows of takes them. Each becomes an
/// anonymous 1-byte INT, as libbpf rewrites the kinds without a C meaning (VAR, DECL_TAG),
/// so references to it stay valid.
pub fn sanitize(btf: &Btf, support: BtfSupport) -> Result<Option<Vec<u8>>> {
    if support == BtfSupport::all() && btf.unknown_kinds().is_empty() {
        return Ok(None);
    }
    let mut b = BtfBuilder::from_btf(btf)?;
    let mut changed = false;
    if !support.layout && b.layout().is_some() {
        // As libbpf: the strings follow the types again, in a header every kernel reads.
        b.set_layout(None);
        changed = true;
    }
    let mut enum64_placeholder = None;
    for t in btf.types() {
        changed |= sanitize_type(&mut b, btf, t, support, &mut enum64_placeholder);
    }
    Ok(changed.then(|| b.build()))
}

/// Rewrites type `t` in `b` if `support` lacks its kind; whether it did.
fn sanitize_type(
    b: &mut BtfBuilder,
    btf: &Btf,
    t: Type<'_>,
    support: BtfSupport,
    enum64_placeholder: &mut Option<u32>,
) -> bool {
    let id = t.id();
    let vlen = t.vlen();
    if t.is_unknown_kind() {
        return b.replace_record(id, 0, info(Kind::Int, 0, false), 1, &[8]);
    }
    match t.kind() {
        Kind::Var if !support.datasec => var_to_int(b, id),
        Kind::DeclTag if !support.decl_tag => var_to_int(b, id),
        Kind::Datasec if !support.datasec => datasec_to_struct(b, btf, t),
        Kind::Datasec if !support.qmark_datasec && t.name().starts_with('?') => {
            // As libbpf: `?.struct_ops` becomes `_.struct_ops`.
            let name_off = b.add_string(&t.name().replacen('?', "_", 1));
            b.set_word(id, 0, name_off);
        }
        Kind::FuncProto if !support.func => {
            b.set_word(id, 1, info(Kind::Enum, vlen, false));
            b.set_word(id, 2, 4);
        }
        Kind::Func if !support.func => {
            b.set_word(id, 1, info(Kind::Typedef, 0, false));
        }
        Kind::Func if !support.func_global => {
            b.set_word(id, 1, info(Kind::Func, 0, false));
        }
        Kind::Float if !support.float => {
            b.set_word(id, 0, 0);
            b.set_word(id, 1, info(Kind::Struct, 0, false));
        }
        Kind::TypeTag if !support.type_tag => {
            b.set_word(id, 0, 0);
            b.set_word(id, 1, info(Kind::Const, 0, false));
        }
        Kind::Enum if !support.enum64 && t.kflag() => {
            b.set_word(id, 1, info(Kind::Enum, vlen, false));
        }
        Kind::Enum64 if !support.enum64 => {
            let ph =
                *enum64_placeholder.get_or_insert_with(|| b.add_int("enum64_placeholder", 1, 0));
            b.set_word(id, 1, info(Kind::Union, vlen, false));
            for j in 0..vlen as usize {
                b.set_word(id, 3 + j * 3 + 1, ph);
                b.set_word(id, 3 + j * 3 + 2, 0);
            }
        }
        _ => return false,
    }
    true
}

/// DATASEC → a struct whose members are the variables, named without dots.
fn datasec_to_struct(b: &mut BtfBuilder, btf: &Btf, t: Type<'_>) {
    let id = t.id();
    let name = t.name().replace(['.', '?'], "_");
    let name_off = b.add_string(&name);
    b.set_word(id, 0, name_off);
    b.set_word(id, 1, info(Kind::Struct, t.vlen(), false));
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
}

/// VAR or DECL_TAG → a 1-byte INT (the kind-specific word becomes the INT encoding).
fn var_to_int(b: &mut BtfBuilder, id: u32) {
    b.set_word(id, 1, info(Kind::Int, 0, false));
    b.set_word(id, 2, 1);
    b.set_word(id, 3, 8);
}
