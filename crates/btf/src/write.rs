//! [`BtfBuilder`]: encodes BTF blobs, for tests that build BTF by hand and for object BTF
//! sanitization (rewriting kinds an older kernel lacks).

use std::collections::HashMap;

use crate::raw::{
    info_word, Endian, Kind, KindLayout, BTF_HEADER_LEN, BTF_LAYOUT_HEADER_LEN, BTF_MAGIC,
    KIND_LAYOUT_LEN,
};
use crate::types::Linkage;
use crate::{Btf, BtfError, Result};

/// A member of a struct or union being built.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    /// Name (empty for an anonymous member).
    pub name: String,
    /// Type id.
    pub type_id: u32,
    /// Bit offset from the start of the struct.
    pub bit_offset: u32,
    /// Bitfield size in bits (0 for a plain member; any non-zero sets the struct's kflag).
    pub bitfield_size: u32,
}

impl MemberSpec {
    /// A plain member at byte offset `byte_off`.
    pub fn new(name: &str, type_id: u32, byte_off: u32) -> MemberSpec {
        MemberSpec {
            name: name.into(),
            type_id,
            bit_offset: byte_off * 8,
            bitfield_size: 0,
        }
    }

    /// A bitfield member of `bits` bits at bit offset `bit_off`.
    pub fn bitfield(name: &str, type_id: u32, bit_off: u32, bits: u32) -> MemberSpec {
        MemberSpec {
            name: name.into(),
            type_id,
            bit_offset: bit_off,
            bitfield_size: bits,
        }
    }
}

/// Builds a BTF blob type by type; each `add_*` returns the new type's id.
///
/// ```
/// use corebpf_btf::{Btf, BtfBuilder, Kind, MemberSpec};
/// let mut b = BtfBuilder::new();
/// let int = b.add_int("int", 4, corebpf_btf::INT_SIGNED);
/// let s = b.add_struct("point", 8, &[MemberSpec::new("x", int, 0), MemberSpec::new("y", int, 4)]);
/// let btf = Btf::from_vec(b.build())?;
/// assert_eq!(btf.find_by_name_kind("point", Kind::Struct), Some(s));
/// assert_eq!(btf.type_by_id(s)?.members().nth(1).unwrap().name(), "y");
/// # Ok::<(), corebpf_btf::BtfError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BtfBuilder {
    types: Vec<u8>,
    strings: Vec<u8>,
    string_offsets: HashMap<String, u32>,
    next_id: u32,
    /// Offset added to string offsets (the base's string length for split BTF).
    str_base: u32,
    /// Byte offset in `types` of each record, in id order (for [`BtfBuilder::set_word`]).
    offsets: Vec<usize>,
    /// The layout section to write (then with a 32-byte header), if any.
    layout: Option<Vec<KindLayout>>,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        BtfBuilder::new()
    }
}

impl BtfBuilder {
    /// An empty base BTF (only the implicit void).
    pub fn new() -> BtfBuilder {
        BtfBuilder {
            types: Vec::new(),
            strings: vec![0],
            string_offsets: HashMap::from([(String::new(), 0)]),
            next_id: 1,
            str_base: 0,
            offsets: Vec::new(),
            layout: None,
        }
    }

    /// An empty split BTF on top of `base`: ids continue after the base's, and names are
    /// stored in the split's own string section.
    pub fn new_split(base: &Btf) -> BtfBuilder {
        BtfBuilder {
            types: Vec::new(),
            strings: Vec::new(),
            string_offsets: HashMap::new(),
            next_id: base.type_count(),
            str_base: base.str_len(),
            offsets: Vec::new(),
            layout: None,
        }
    }

    /// Starts from a copy of `btf`'s types, strings and layout section (so they can be
    /// extended). Big-endian BTF with types of unknown kinds is refused: the widths of
    /// their fields, needed to re-encode them little-endian, are unknown.
    pub fn from_btf(btf: &Btf) -> Result<BtfBuilder> {
        let mut b = BtfBuilder::new();
        b.strings = btf.string_section().to_vec();
        b.string_offsets.clear();
        // Base BTF's strings start with the empty name, which anonymous types must use
        // (the kernel refuses a PTR whose name is an empty string elsewhere).
        if btf.base().is_none() && b.strings.first() == Some(&0) {
            b.string_offsets.insert(String::new(), 0);
        }
        b.layout = btf.layout().map(<[KindLayout]>::to_vec);
        if btf.endian() == Endian::Big && !btf.unknown_kinds().is_empty() {
            return Err(BtfError::BadLayout {
                reason: format!(
                    "big-endian BTF with types of unknown kinds {:?} cannot be re-encoded",
                    btf.unknown_kinds()
                ),
            });
        }
        for t in btf.types() {
            b.offsets.push(b.types.len());
            b.types.extend_from_slice(&reencode(btf, t.raw()));
            b.next_id += 1;
        }
        Ok(b)
    }

    /// Id the next added type will get.
    pub fn next_id(&self) -> u32 {
        self.next_id
    }

    /// Adds `s` to the string section (deduplicated) and returns its offset.
    pub fn add_string(&mut self, s: &str) -> u32 {
        if let Some(&off) = self.string_offsets.get(s) {
            return off;
        }
        let off = self.str_base + self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.string_offsets.insert(s.to_string(), off);
        off
    }

    /// Appends a record with raw header words and kind-specific words; no checks, so tests
    /// can build hostile input.
    pub fn add_raw(&mut self, name_off: u32, info: u32, size_or_type: u32, extra: &[u32]) -> u32 {
        self.offsets.push(self.types.len());
        for w in [name_off, info, size_or_type].iter().chain(extra) {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn add(
        &mut self,
        name: &str,
        kind: Kind,
        vlen: u32,
        kflag: bool,
        word: u32,
        extra: &[u32],
    ) -> u32 {
        let name_off = self.add_string(name);
        self.add_raw(name_off, info_word(kind as u32, vlen, kflag), word, extra)
    }

    /// INT of `size` bytes with `encoding` ([`crate::INT_SIGNED`], ...), all bits used.
    pub fn add_int(&mut self, name: &str, size: u32, encoding: u8) -> u32 {
        self.add(
            name,
            Kind::Int,
            0,
            false,
            size,
            &[((encoding as u32) << 24) | (size * 8)],
        )
    }

    /// FLOAT of `size` bytes.
    pub fn add_float(&mut self, name: &str, size: u32) -> u32 {
        self.add(name, Kind::Float, 0, false, size, &[])
    }

    /// PTR to `to`.
    pub fn add_ptr(&mut self, to: u32) -> u32 {
        self.add("", Kind::Ptr, 0, false, to, &[])
    }

    /// ARRAY of `nelems` elements of `elem`, indexed by `index_type`.
    pub fn add_array(&mut self, elem: u32, index_type: u32, nelems: u32) -> u32 {
        self.add("", Kind::Array, 0, false, 0, &[elem, index_type, nelems])
    }

    fn add_composite(&mut self, kind: Kind, name: &str, size: u32, members: &[MemberSpec]) -> u32 {
        let kflag = members.iter().any(|m| m.bitfield_size != 0);
        let mut extra = Vec::with_capacity(members.len() * 3);
        for m in members {
            extra.push(self.add_string(&m.name));
            extra.push(m.type_id);
            extra.push(if kflag {
                m.bitfield_size << 24 | m.bit_offset
            } else {
                m.bit_offset
            });
        }
        self.add(name, kind, members.len() as u32, kflag, size, &extra)
    }

    /// STRUCT of `size` bytes.
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[MemberSpec]) -> u32 {
        self.add_composite(Kind::Struct, name, size, members)
    }

    /// UNION of `size` bytes.
    pub fn add_union(&mut self, name: &str, size: u32, members: &[MemberSpec]) -> u32 {
        self.add_composite(Kind::Union, name, size, members)
    }

    /// ENUM of `size` bytes with 32-bit values (`signed` sets the kind flag).
    pub fn add_enum(&mut self, name: &str, size: u32, signed: bool, values: &[(&str, i64)]) -> u32 {
        let mut extra = Vec::with_capacity(values.len() * 2);
        for (n, v) in values {
            extra.push(self.add_string(n));
            extra.push(*v as u32);
        }
        self.add(name, Kind::Enum, values.len() as u32, signed, size, &extra)
    }

    /// ENUM64 of `size` bytes.
    pub fn add_enum64(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, u64)],
    ) -> u32 {
        let mut extra = Vec::with_capacity(values.len() * 3);
        for (n, v) in values {
            extra.push(self.add_string(n));
            extra.push(*v as u32);
            extra.push((*v >> 32) as u32);
        }
        self.add(
            name,
            Kind::Enum64,
            values.len() as u32,
            signed,
            size,
            &extra,
        )
    }

    /// FWD declaration of a struct (or union if `union`).
    pub fn add_fwd(&mut self, name: &str, union: bool) -> u32 {
        self.add(name, Kind::Fwd, 0, union, 0, &[])
    }

    /// TYPEDEF `name` for `to`.
    pub fn add_typedef(&mut self, name: &str, to: u32) -> u32 {
        self.add(name, Kind::Typedef, 0, false, to, &[])
    }

    /// A modifier (CONST, VOLATILE, RESTRICT) of `to`.
    pub fn add_modifier(&mut self, kind: Kind, to: u32) -> u32 {
        self.add("", kind, 0, false, to, &[])
    }

    /// TYPE_TAG `tag` on `to`.
    pub fn add_type_tag(&mut self, tag: &str, to: u32) -> u32 {
        self.add(tag, Kind::TypeTag, 0, false, to, &[])
    }

    /// FUNC_PROTO returning `ret` with `(name, type)` parameters.
    pub fn add_func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let mut extra = Vec::with_capacity(params.len() * 2);
        for (n, t) in params {
            extra.push(self.add_string(n));
            extra.push(*t);
        }
        self.add("", Kind::FuncProto, params.len() as u32, false, ret, &extra)
    }

    /// FUNC `name` of prototype `proto`.
    pub fn add_func(&mut self, name: &str, proto: u32, linkage: Linkage) -> u32 {
        self.add(name, Kind::Func, linkage_u32(linkage), false, proto, &[])
    }

    /// VAR `name` of type `ty`.
    pub fn add_var(&mut self, name: &str, ty: u32, linkage: Linkage) -> u32 {
        self.add(name, Kind::Var, 0, false, ty, &[linkage_u32(linkage)])
    }

    /// DATASEC `name` of `size` bytes with `(var type id, offset, size)` entries.
    pub fn add_datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let extra: Vec<u32> = vars.iter().flat_map(|&(t, o, s)| [t, o, s]).collect();
        self.add(name, Kind::Datasec, vars.len() as u32, false, size, &extra)
    }

    /// DECL_TAG `tag` on `to` (component `-1` for the whole declaration).
    pub fn add_decl_tag(&mut self, tag: &str, to: u32, component: i32) -> u32 {
        self.add(tag, Kind::DeclTag, 0, false, to, &[component as u32])
    }

    /// The byte range in `types` of the record of `type_id`, if the builder holds it.
    fn record(&self, type_id: u32) -> Option<std::ops::Range<usize>> {
        let first = self.next_id - self.offsets.len() as u32;
        let i = type_id.checked_sub(first)? as usize;
        let start = *self.offsets.get(i)?;
        let end = self.offsets.get(i + 1).copied().unwrap_or(self.types.len());
        Some(start..end)
    }

    /// Word `word` (0 = name_off, 1 = info, 2 = size/type, then the kind-specific words) of
    /// the record of `type_id`, or `None` if there is no such type or word.
    pub fn word(&self, type_id: u32, word: usize) -> Option<u32> {
        let r = self.record(type_id)?;
        let at = r.start.checked_add(word.checked_mul(4)?)?;
        if at + 4 > r.end {
            return None;
        }
        Some(u32::from_le_bytes(self.types[at..at + 4].try_into().ok()?))
    }

    /// Overwrites word `word` of the record of `type_id` (same numbering as
    /// [`BtfBuilder::word`]): patches an existing type in place, e.g. a DATASEC's size or a
    /// variable's offset when finalizing an object's BTF the way libbpf does. Returns `false`
    /// (and changes nothing) if there is no such type or word.
    pub fn set_word(&mut self, type_id: u32, word: usize, value: u32) -> bool {
        let Some(r) = self.record(type_id) else {
            return false;
        };
        let Some(at) = word.checked_mul(4).and_then(|w| r.start.checked_add(w)) else {
            return false;
        };
        if at + 4 > r.end {
            return false;
        }
        self.types[at..at + 4].copy_from_slice(&value.to_le_bytes());
        true
    }

    /// Replaces the whole record of `type_id` (header words and kind-specific words),
    /// which may change its length; later records move, their ids do not. Returns `false`
    /// (and changes nothing) if the builder holds no such type.
    pub fn replace_record(
        &mut self,
        type_id: u32,
        name_off: u32,
        info: u32,
        size_or_type: u32,
        extra: &[u32],
    ) -> bool {
        let Some(r) = self.record(type_id) else {
            return false;
        };
        let words: Vec<u8> = [name_off, info, size_or_type]
            .iter()
            .chain(extra)
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let delta = words.len() as isize - r.len() as isize;
        let first = (type_id - (self.next_id - self.offsets.len() as u32)) as usize;
        self.types.splice(r, words);
        for off in &mut self.offsets[first + 1..] {
            *off = off.wrapping_add_signed(delta);
        }
        true
    }

    /// The layout section [`BtfBuilder::build`] writes, if any.
    pub fn layout(&self) -> Option<&[KindLayout]> {
        self.layout.as_deref()
    }

    /// Sets the layout section to write: `Some` gives a 32-byte header with the entries
    /// between types and strings (as pahole 1.31+ writes, see [`KindLayout::known`]),
    /// `None` the 24-byte header every kernel reads.
    pub fn set_layout(&mut self, layout: Option<Vec<KindLayout>>) {
        self.layout = layout;
    }

    /// Encodes the blob (little-endian, version 1, types, then the layout section if set,
    /// then strings).
    pub fn build(&self) -> Vec<u8> {
        let e = Endian::Little;
        let layout = self.layout.as_deref();
        let hdr_len = match layout {
            Some(_) => BTF_LAYOUT_HEADER_LEN,
            None => BTF_HEADER_LEN,
        };
        let layout_len = layout.map_or(0, |l| l.len() * KIND_LAYOUT_LEN) as u32;
        let types_len = self.types.len() as u32;
        let mut out = Vec::with_capacity(
            hdr_len + self.types.len() + layout_len as usize + self.strings.len(),
        );
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.push(1);
        out.push(0);
        e.put_u32(&mut out, hdr_len as u32);
        e.put_u32(&mut out, 0);
        e.put_u32(&mut out, types_len);
        e.put_u32(&mut out, types_len + layout_len);
        e.put_u32(&mut out, self.strings.len() as u32);
        if layout.is_some() {
            e.put_u32(&mut out, types_len);
            e.put_u32(&mut out, layout_len);
        }
        out.extend_from_slice(&self.types);
        for l in layout.unwrap_or(&[]) {
            out.extend_from_slice(&[l.info_sz, l.elem_sz]);
            out.extend_from_slice(&l.flags.to_le_bytes());
        }
        out.extend_from_slice(&self.strings);
        out
    }
}

fn linkage_u32(l: Linkage) -> u32 {
    match l {
        Linkage::Static => 0,
        Linkage::Global => 1,
        Linkage::Extern => 2,
        Linkage::Other(v) => v,
    }
}

/// A record's words re-encoded little-endian (the builder always writes little-endian).
fn reencode(btf: &Btf, rec: &[u8]) -> Vec<u8> {
    let e = btf.endian();
    (0..rec.len() / 4)
        .flat_map(|i| e.u32(rec, i * 4).to_le_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_word_patches_existing_records() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, crate::INT_SIGNED);
        let var = b.add_var("x", int, Linkage::Global);
        let sec = b.add_datasec(".data", 0, &[(var, 0, 4)]);
        let btf = Btf::from_vec(b.build()).unwrap();

        let mut b = BtfBuilder::from_btf(&btf).unwrap();
        assert_eq!(b.word(sec, 2), Some(0));
        assert!(b.set_word(sec, 2, 16)); // DATASEC size
        assert!(b.set_word(sec, 4, 8)); // first var's offset
        assert!(!b.set_word(sec, 6, 1), "past the record");
        assert!(!b.set_word(99, 0, 1), "no such type");
        assert!(!b.set_word(0, 0, 1), "void has no record");
        let btf = Btf::from_vec(b.build()).unwrap();
        let t = btf.type_by_id(sec).unwrap();
        assert_eq!(t.size(), 16);
        assert_eq!(t.datasec_vars().next().unwrap().offset, 8);
        assert_eq!(btf.type_by_id(var).unwrap().name(), "x");
    }
}
