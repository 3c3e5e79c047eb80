//! CO-RE access specifications: parsing `"0:1:2"` against the local BTF, and printing a spec
//! exactly as libbpf's `bpf_core_format_spec` does.

use std::fmt::Write as _;

use crate::ext::CoreReloKind;
use crate::raw::Kind;
use crate::{Array, Btf, Type};

use super::ReloError;

/// libbpf's `BPF_CORE_SPEC_MAX_LEN`: the deepest access string accepted.
pub const MAX_SPEC_LEN: usize = 64;

/// One step of a spec: a named member, an array index (or the root's index), or an
/// enumerator (`bpf_core_accessor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accessor {
    /// The struct/union containing the member, the array's element type, or the enum.
    pub type_id: u32,
    /// Member, array or enumerator index.
    pub idx: u32,
    /// Member or enumerator name; `None` for an array index.
    pub name: Option<String>,
}

/// A resolved access specification (`bpf_core_spec`), local or in a target BTF.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// The BTF the spec is in.
    pub btf: &'a Btf,
    /// The relocation's root type in that BTF.
    pub root_type_id: u32,
    /// The relocation kind.
    pub kind: CoreReloKind,
    /// Named members and array indices, in order (anonymous members are not here).
    pub accessors: Vec<Accessor>,
    /// Every raw index, anonymous members included (the access string).
    pub raw: Vec<u32>,
    /// Bit offset of the accessed field from the root.
    pub bit_offset: u32,
}

impl<'a> Spec<'a> {
    /// An empty spec rooted at `root` (the matcher fills it).
    pub(crate) fn empty(btf: &'a Btf, root: u32, kind: CoreReloKind) -> Spec<'a> {
        Spec {
            btf,
            root_type_id: root,
            kind,
            accessors: Vec::new(),
            raw: Vec::new(),
            bit_offset: 0,
        }
    }

    /// Parses access string `access` of relocation kind `kind` rooted at `root` in `btf`
    /// (libbpf's `bpf_core_parse_spec`).
    pub fn parse(
        btf: &'a Btf,
        root: u32,
        access: &str,
        kind: CoreReloKind,
    ) -> Result<Spec<'a>, ReloError> {
        let mut spec = Spec::empty(btf, root, kind);
        spec.raw = parse_access(access)?;
        if kind.is_type_based() {
            if access != "0" {
                return Err(bad_spec(
                    access,
                    "type-based relocation must have access string \"0\"".into(),
                ));
            }
            return Ok(spec);
        }
        let t = btf.skip_mods_and_typedefs(root)?;
        if kind.is_enumval_based() {
            spec.push_enumerator(t, access)?;
            return Ok(spec);
        }
        spec.push_root_index(t.id(), access)?;
        let mut id = t.id();
        for i in 1..spec.raw.len() {
            id = spec.push_step(i, id, access)?;
        }
        Ok(spec)
    }

    /// An enum-value spec: the root is an enum and the one index names an enumerator.
    fn push_enumerator(&mut self, t: Type<'_>, access: &str) -> Result<(), ReloError> {
        let first = self.raw[0];
        if !t.is_any_enum() || self.raw.len() > 1 || first >= t.vlen() {
            return Err(bad_spec(
                access,
                format!("enum value access {first} into {t} (vlen {})", t.vlen()),
            ));
        }
        let e = t.enumerators().nth(first as usize);
        self.accessors.push(Accessor {
            type_id: t.id(),
            idx: first,
            name: e.map(|e| e.name().to_string()),
        });
        Ok(())
    }

    /// The first index of a field spec: the root itself as an element of an array.
    fn push_root_index(&mut self, id: u32, access: &str) -> Result<(), ReloError> {
        let first = self.raw[0];
        self.accessors.push(Accessor {
            type_id: id,
            idx: first,
            name: None,
        });
        let sz = self.btf.size_of(id)?;
        self.bit_offset =
            mul_bits(first, sz).ok_or_else(|| bad_spec(access, "offset overflows".into()))?;
        Ok(())
    }

    /// Follows raw index `i` from type `id` (a member of a struct/union or an element of an
    /// array) and returns the type it lands on.
    fn push_step(&mut self, i: usize, id: u32, access: &str) -> Result<u32, ReloError> {
        let t = self.btf.skip_mods_and_typedefs(id)?;
        let access_idx = self.raw[i];
        if t.is_composite() {
            self.push_member(t, access_idx, access)
        } else if let Some(a) = t.array() {
            self.push_array_index(t, a, access_idx, access)
        } else {
            Err(bad_spec(
                access,
                format!(
                    "accessor #{i} captures type [{}] of unexpected kind {}",
                    t.id(),
                    t.kind()
                ),
            ))
        }
    }

    /// Member `access_idx` of composite `t`: adds its offset, and an accessor when it is
    /// named (anonymous members only show in the raw indices).
    fn push_member(
        &mut self,
        t: Type<'_>,
        access_idx: u32,
        access: &str,
    ) -> Result<u32, ReloError> {
        let m = t.member(access_idx).ok_or_else(|| {
            bad_spec(
                access,
                format!("member #{access_idx} of {t} (vlen {})", t.vlen()),
            )
        })?;
        self.bit_offset = self
            .bit_offset
            .checked_add(m.bit_offset)
            .ok_or_else(|| bad_spec(access, "offset overflows".into()))?;
        if m.name_off != 0 {
            let name = m.name();
            if name.is_empty() {
                return Err(bad_spec(
                    access,
                    format!("member #{access_idx} of {t} has an empty name"),
                ));
            }
            self.accessors.push(Accessor {
                type_id: t.id(),
                idx: access_idx,
                name: Some(name.to_string()),
            });
        }
        Ok(m.type_id)
    }

    /// Element `access_idx` of array `t` (past the end only for a flexible array member).
    fn push_array_index(
        &mut self,
        t: Type<'_>,
        a: Array,
        access_idx: u32,
        access: &str,
    ) -> Result<u32, ReloError> {
        let elem = self.btf.skip_mods_and_typedefs(a.elem_type)?;
        let flex = is_flex_arr(self.btf, self.accessors.last(), a.nelems);
        if !flex && access_idx >= a.nelems {
            return Err(bad_spec(
                access,
                format!(
                    "index {access_idx} past the end of {t} ({} elements)",
                    a.nelems
                ),
            ));
        }
        let id = elem.id();
        self.accessors.push(Accessor {
            type_id: id,
            idx: access_idx,
            name: None,
        });
        let sz = self.btf.size_of(id)?;
        self.bit_offset = mul_bits(access_idx, sz)
            .and_then(|b| self.bit_offset.checked_add(b))
            .ok_or_else(|| bad_spec(access, "offset overflows".into()))?;
        Ok(id)
    }

    /// The root type.
    pub fn root(&self) -> Option<Type<'a>> {
        self.btf.type_by_id(self.root_type_id).ok()
    }
}

/// The raw indices of access string `access` (`"0:1:2"`).
fn parse_access(access: &str) -> Result<Vec<u32>, ReloError> {
    let mut raw = Vec::new();
    for part in access.split(':') {
        if raw.len() == MAX_SPEC_LEN {
            return Err(bad_spec(
                access,
                format!("longer than {MAX_SPEC_LEN} accessors"),
            ));
        }
        let idx: u32 = part
            .parse()
            .map_err(|_| bad_spec(access, format!("'{part}' is not an index")))?;
        raw.push(idx);
    }
    if raw.is_empty() {
        return Err(bad_spec(access, "empty access string".into()));
    }
    Ok(raw)
}

fn bad_spec(access: &str, reason: String) -> ReloError {
    ReloError::BadSpec {
        access: access.to_string(),
        reason,
    }
}

/// `idx * size * 8`, checked.
pub(crate) fn mul_bits(idx: u32, size: u32) -> Option<u32> {
    idx.checked_mul(size)?.checked_mul(8)
}

/// Whether an array reached through accessor `prev` is a flexible array member: zero
/// elements and the last member of its struct (libbpf's `is_flex_arr`).
pub(crate) fn is_flex_arr(btf: &Btf, prev: Option<&Accessor>, nelems: u32) -> bool {
    let Some(acc) = prev else { return false };
    if acc.name.is_none() || nelems > 0 {
        return false;
    }
    btf.type_by_id(acc.type_id)
        .is_ok_and(|t| t.vlen() > 0 && acc.idx == t.vlen() - 1)
}

/// `<kind> [id] kind name...` exactly as libbpf prints a spec.
impl std::fmt::Display for Spec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        let root = self.btf.type_by_id(self.root_type_id).ok();
        let _ = write!(s, "<{}> [{}] ", self.kind.name(), self.root_type_id);
        match root {
            Some(t) => {
                let _ = write!(s, "{t}");
            }
            None => s.push_str("unknown <anon>"),
        }
        if self.kind.is_type_based() {
            return f.write_str(&s);
        }
        if self.kind.is_enumval_based() {
            // A non-matching candidate's spec has no index yet; libbpf prints enumerator #0.
            let idx = self.raw.first().copied().unwrap_or(0);
            if let Ok(t) = self.btf.skip_mods_and_typedefs(self.root_type_id) {
                if let Some(e) = t.enumerators().nth(idx as usize) {
                    let v = e.value;
                    let _ = if t.kind() == Kind::Enum {
                        if t.kflag() {
                            write!(s, "::{} = {}", e.name(), v as u32 as i32)
                        } else {
                            write!(s, "::{} = {}", e.name(), v as u32)
                        }
                    } else if t.kflag() {
                        write!(s, "::{} = {}", e.name(), v as i64)
                    } else {
                        write!(s, "::{} = {}", e.name(), v)
                    };
                }
            }
            return f.write_str(&s);
        }
        for (i, acc) in self.accessors.iter().enumerate() {
            match &acc.name {
                Some(n) => {
                    let _ = write!(s, ".{n}");
                }
                None if i > 0 || acc.idx > 0 => {
                    let _ = write!(s, "[{}]", acc.idx);
                }
                None => {}
            }
        }
        s.push_str(" (");
        for (i, r) in self.raw.iter().enumerate() {
            if i > 0 {
                s.push(':');
            }
            let _ = write!(s, "{}", *r as i32);
        }
        if self.bit_offset % 8 != 0 {
            let _ = write!(
                s,
                " @ offset {}.{})",
                self.bit_offset / 8,
                self.bit_offset % 8
            );
        } else {
            let _ = write!(s, " @ offset {})", self.bit_offset / 8);
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::local;
    use super::*;

    fn parse<'b>(btf: &'b Btf, root: u32, access: &str, kind: CoreReloKind) -> Spec<'b> {
        Spec::parse(btf, root, access, kind).unwrap()
    }

    fn bad(access: &str, reason: &str) -> ReloError {
        ReloError::BadSpec {
            access: access.into(),
            reason: reason.into(),
        }
    }

    fn acc(type_id: u32, idx: u32, name: Option<&str>) -> Accessor {
        Accessor {
            type_id,
            idx,
            name: name.map(str::to_string),
        }
    }

    #[test]
    fn struct_member() {
        let (btf, id) = local();
        let spec = parse(&btf, id.s, "0:1", CoreReloKind::FieldByteOffset);
        assert_eq!(spec.raw, [0, 1]);
        assert_eq!(
            spec.accessors,
            [acc(id.s, 0, None), acc(id.s, 1, Some("b"))]
        );
        assert_eq!(spec.bit_offset, 64);
        assert_eq!(
            spec.to_string(),
            format!("<byte_off> [{}] struct s.b (0:1 @ offset 8)", id.s)
        );
    }

    #[test]
    fn anonymous_member_is_in_raw_but_not_an_accessor() {
        let (btf, id) = local();
        let spec = parse(&btf, id.s, "0:2:1", CoreReloKind::FieldByteOffset);
        assert_eq!(spec.raw, [0, 2, 1]);
        assert_eq!(
            spec.accessors,
            [acc(id.s, 0, None), acc(id.anon, 1, Some("y"))]
        );
        // 12 bytes to the anonymous struct, 4 more to `y`.
        assert_eq!(spec.bit_offset, 128);
        assert_eq!(
            spec.to_string(),
            format!("<byte_off> [{}] struct s.y (0:2:1 @ offset 16)", id.s)
        );
    }

    #[test]
    fn array_index() {
        let (btf, id) = local();
        let spec = parse(&btf, id.s, "0:3:1", CoreReloKind::FieldByteOffset);
        assert_eq!(
            spec.accessors,
            [
                acc(id.s, 0, None),
                acc(id.s, 3, Some("c")),
                acc(id.int, 1, None)
            ]
        );
        assert_eq!(spec.bit_offset, (20 + 4) * 8);
        assert_eq!(
            spec.to_string(),
            format!("<byte_off> [{}] struct s.c[1] (0:3:1 @ offset 24)", id.s)
        );
    }

    #[test]
    fn root_index_counts_whole_root_types() {
        let (btf, id) = local();
        let spec = parse(&btf, id.s, "2:1", CoreReloKind::FieldByteOffset);
        assert_eq!(spec.accessors[0], acc(id.s, 2, None));
        assert_eq!(spec.bit_offset, (2 * 32 + 8) * 8);
        assert_eq!(
            spec.to_string(),
            format!("<byte_off> [{}] struct s[2].b (2:1 @ offset 72)", id.s)
        );
    }

    #[test]
    fn bitfield_offset_is_in_bits() {
        let (btf, id) = local();
        let spec = parse(&btf, id.s, "0:4", CoreReloKind::FieldLshiftU64);
        assert_eq!(spec.bit_offset, 228);
        assert_eq!(spec.accessors[1], acc(id.s, 4, Some("w")));
        assert_eq!(
            spec.to_string(),
            format!("<lshift_u64> [{}] struct s.w (0:4 @ offset 28.4)", id.s)
        );
    }

    #[test]
    fn typedef_root_is_skipped_but_kept_as_root() {
        let (btf, id) = local();
        let spec = parse(&btf, id.s_t, "0:1", CoreReloKind::FieldByteSize);
        assert_eq!(spec.root_type_id, id.s_t);
        assert_eq!(spec.accessors[0], acc(id.s, 0, None));
        assert_eq!(spec.bit_offset, 64);
        assert_eq!(
            spec.to_string(),
            format!("<byte_sz> [{}] typedef s_t.b (0:1 @ offset 8)", id.s_t)
        );
    }

    #[test]
    fn flexible_array_member_may_be_indexed_past_its_end() {
        let (btf, id) = local();
        let spec = parse(&btf, id.flex, "0:1:7", CoreReloKind::FieldByteOffset);
        assert_eq!(spec.bit_offset, (4 + 7 * 4) * 8);
        assert_eq!(spec.accessors[2], acc(id.int, 7, None));
    }

    #[test]
    fn member_out_of_range_is_a_bad_spec() {
        let (btf, id) = local();
        let e = Spec::parse(&btf, id.s, "0:9", CoreReloKind::FieldByteOffset).unwrap_err();
        assert_eq!(e, bad("0:9", "member #9 of struct s (vlen 5)"));
    }

    #[test]
    fn array_index_out_of_range_is_a_bad_spec() {
        let (btf, id) = local();
        let e = Spec::parse(&btf, id.s, "0:3:2", CoreReloKind::FieldByteOffset).unwrap_err();
        assert_eq!(
            e,
            bad("0:3:2", "index 2 past the end of array <anon> (2 elements)")
        );
    }

    #[test]
    fn index_into_a_scalar_is_a_bad_spec() {
        let (btf, id) = local();
        let e = Spec::parse(&btf, id.s, "0:1:0", CoreReloKind::FieldByteOffset).unwrap_err();
        let reason = format!(
            "accessor #2 captures type [{}] of unexpected kind int",
            id.int
        );
        assert_eq!(e, bad("0:1:0", &reason));
    }

    #[test]
    fn malformed_access_strings_are_bad_specs() {
        let (btf, id) = local();
        let parse = |access: &str, kind| Spec::parse(&btf, id.s, access, kind).unwrap_err();
        let k = CoreReloKind::FieldByteOffset;
        assert_eq!(parse("0:x", k), bad("0:x", "'x' is not an index"));
        assert_eq!(parse("", k), bad("", "'' is not an index"));
        assert_eq!(parse("0:-1", k), bad("0:-1", "'-1' is not an index"));
        let long = vec!["0"; MAX_SPEC_LEN + 1].join(":");
        assert_eq!(parse(&long, k), bad(&long, "longer than 64 accessors"));
        assert_eq!(
            parse("0:1", CoreReloKind::TypeSize),
            bad("0:1", "type-based relocation must have access string \"0\"")
        );
    }

    #[test]
    fn type_based_spec_is_the_root_alone() {
        let (btf, id) = local();
        let spec = parse(&btf, id.s, "0", CoreReloKind::TypeSize);
        assert_eq!((spec.raw.as_slice(), spec.accessors.len()), (&[0][..], 0));
        assert_eq!(spec.bit_offset, 0);
        assert_eq!(spec.to_string(), format!("<type_size> [{}] struct s", id.s));
    }

    #[test]
    fn enumval_spec_names_the_enumerator() {
        let (btf, id) = local();
        let spec = parse(&btf, id.e, "1", CoreReloKind::EnumvalValue);
        assert_eq!(spec.accessors, [acc(id.e, 1, Some("B"))]);
        // A signed 32-bit enum prints its value as an int.
        assert_eq!(
            spec.to_string(),
            format!("<enumval_value> [{}] enum e::B = -2", id.e)
        );
        let spec = parse(&btf, id.e64, "0", CoreReloKind::EnumvalExists);
        assert_eq!(spec.accessors, [acc(id.e64, 0, Some("BIG"))]);
        assert_eq!(
            spec.to_string(),
            format!(
                "<enumval_exists> [{}] enum64 e64::BIG = 1099511627776",
                id.e64
            )
        );
    }

    #[test]
    fn enumval_out_of_range_or_on_a_non_enum_is_a_bad_spec() {
        let (btf, id) = local();
        let k = CoreReloKind::EnumvalValue;
        assert_eq!(
            Spec::parse(&btf, id.e, "2", k).unwrap_err(),
            bad("2", "enum value access 2 into enum e (vlen 2)")
        );
        assert_eq!(
            Spec::parse(&btf, id.e, "0:0", k).unwrap_err(),
            bad("0:0", "enum value access 0 into enum e (vlen 2)")
        );
        assert_eq!(
            Spec::parse(&btf, id.s, "0", k).unwrap_err(),
            bad("0", "enum value access 0 into struct s (vlen 5)")
        );
    }
}
