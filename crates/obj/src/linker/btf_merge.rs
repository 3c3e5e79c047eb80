//! BTF merging (libbpf's `linker_append_btf` and `finalize_btf`): every input's types are
//! appended with ids and strings renumbered, except DATASECs, which are rebuilt for the
//! output sections, and the VARs/FUNCs of global symbols, of which only the declaration
//! that won resolution is kept (so an extern resolves to its definition's type). The result
//! is deduplicated with [`corebpf_btf::dedup`].

use std::collections::HashMap;

use corebpf_btf::dedup::{string_slots, type_id_slots};
use corebpf_btf::{Btf, Kind, Linkage};

use super::error::LinkError;
use super::input::{is_non_static, EXTERN_SEC};
use super::sections::VarEntry;
use super::Linker;

/// `STT_OBJECT`.
const STT_OBJECT: u8 = 1;

/// A string section being built; equal strings share one offset.
#[derive(Debug)]
pub(crate) struct Strings {
    pub bytes: Vec<u8>,
    offs: HashMap<Vec<u8>, u32>,
}

impl Default for Strings {
    fn default() -> Self {
        Strings {
            bytes: vec![0],
            offs: HashMap::from([(Vec::new(), 0)]),
        }
    }
}

impl Strings {
    /// The offset of `s`, added if new.
    pub fn add(&mut self, s: &[u8]) -> u32 {
        if let Some(&off) = self.offs.get(s) {
            return off;
        }
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s);
        self.bytes.push(0);
        self.offs.insert(s.to_vec(), off);
        off
    }
}

/// The output BTF being built (ids before dedup).
#[derive(Debug, Default)]
pub(crate) struct BtfOut {
    pub strings: Strings,
    /// Little-endian type records, ids from 1.
    pub types: Vec<u8>,
    pub count: u32,
    /// Per input: input type id → output id (0: not carried over).
    pub type_maps: Vec<Vec<u32>>,
    /// Prototypes of extern FUNCs resolved elsewhere: (input, proto id) → the definition's
    /// (input, proto id), whose parameter names fill the extern's missing ones.
    pub proto_names: HashMap<(usize, u32), (usize, u32)>,
}

impl<'a> Linker<'a> {
    /// Appends every input's types (DATASECs aside) and the rebuilt DATASECs.
    pub(crate) fn merge_btf(&mut self) -> Result<(), LinkError> {
        let appended = self.assign_type_ids();
        for (i, id) in appended {
            self.append_type(i, id)?;
        }
        for i in 0..self.inputs.len() {
            self.collect_datasec_vars(i)?;
        }
        self.append_datasecs();
        Ok(())
    }

    /// Gives every carried-over type its output id; returns them in output order. A global's
    /// VAR or FUNC from a losing declaration takes the winner's id.
    fn assign_type_ids(&mut self) -> Vec<(usize, u32)> {
        let mut appended = Vec::new();
        let mut deferred = Vec::new();
        let mut next = 1u32;
        for (i, input) in self.inputs.iter().enumerate() {
            let Some(btf) = &input.btf else {
                self.btf.type_maps.push(Vec::new());
                continue;
            };
            let mut map = vec![0u32; btf.type_count() as usize];
            for t in btf.types() {
                if t.kind() == Kind::Datasec {
                    continue;
                }
                if is_non_static(&t) {
                    let Some(&g) = self.global_index.get(t.name()) else {
                        continue;
                    };
                    if self.globals[g].owner != (i, t.id()) {
                        deferred.push((i, t.id(), g));
                        continue;
                    }
                }
                map[t.id() as usize] = next;
                next += 1;
                appended.push((i, t.id()));
            }
            self.btf.type_maps.push(map);
        }
        for (i, id, g) in deferred {
            let (oi, oid) = self.globals[g].owner;
            self.note_extern_proto(i, id, oi, oid);
            let to = self.btf.type_maps[oi]
                .get(oid as usize)
                .copied()
                .unwrap_or(0);
            self.btf.type_maps[i][id as usize] = to;
        }
        appended
    }

    /// For an extern FUNC resolved to a definition, remembers where its prototype's
    /// parameter names are (clang leaves an extern's unnamed). libbpf fills them only when
    /// the extern comes first; filling them either way lets dedup merge the prototypes in
    /// any input order.
    fn note_extern_proto(&mut self, i: usize, id: u32, oi: usize, oid: u32) {
        let proto_of = |input: usize, func: u32| {
            let btf = self.inputs[input].btf.as_ref()?;
            let t = btf.type_by_id(func).ok()?;
            (t.kind() == Kind::Func).then_some(t.type_id()?)
        };
        let extern_func = self.inputs[i]
            .btf
            .as_ref()
            .and_then(|b| b.type_by_id(id).ok())
            .is_some_and(|t| t.linkage() == Some(Linkage::Extern));
        if let (true, Some(p), Some(op)) = (extern_func, proto_of(i, id), proto_of(oi, oid)) {
            self.btf.proto_names.insert((i, p), (oi, op));
        }
    }

    /// The parameter names of the definition's prototype for an extern's, if recorded.
    fn definition_param_names(&self, i: usize, id: u32) -> Option<Vec<Vec<u8>>> {
        let &(oi, op) = self.btf.proto_names.get(&(i, id))?;
        let btf = self.inputs[oi].btf.as_ref()?;
        let t = btf.type_by_id(op).ok()?;
        Some(t.params().map(|p| p.name().as_bytes().to_vec()).collect())
    }

    /// Appends type `id` of input `i` with its strings and references renumbered.
    fn append_type(&mut self, i: usize, id: u32) -> Result<(), LinkError> {
        let input = &self.inputs[i];
        let btf = input
            .btf
            .as_ref()
            .expect("only inputs with BTF append types");
        let bad = |e: corebpf_btf::BtfError| input.err(format!(".BTF: {e}"));
        let t = btf.type_by_id(id).map_err(bad)?;
        let raw = t.raw();
        let e = btf.endian();
        let mut words: Vec<u32> = (0..raw.len() / 4).map(|w| e.u32(raw, w * 4)).collect();
        let kind = t.kind();
        if t.is_unknown_kind() {
            return Err(input.err(format!("BTF type [{id}] has unknown kind {}", t.raw_kind())));
        }
        for slot in string_slots(kind, t.vlen()) {
            let s = btf.str_bytes_at(words[slot]).map_err(bad)?;
            words[slot] = self.btf.strings.add(s);
        }
        if let Some(names) = self.definition_param_names(i, id) {
            for (p, name) in names.iter().enumerate() {
                let slot = 3 + 2 * p;
                if names.len() == t.vlen() as usize && words[slot] == 0 {
                    words[slot] = self.btf.strings.add(name);
                }
            }
        }
        let map = &self.btf.type_maps[i];
        for slot in type_id_slots(kind, t.vlen()) {
            let old = words[slot];
            let new = map.get(old as usize).copied().unwrap_or(0);
            if new == 0 && old != 0 {
                return Err(input.err(format!(
                    "BTF type [{id}] refers to type [{old}], which is not linked"
                )));
            }
            words[slot] = new;
        }
        for w in words {
            self.btf.types.extend_from_slice(&w.to_le_bytes());
        }
        self.btf.count += 1;
        Ok(())
    }

    /// Adds input `i`'s DATASEC entries to their output sections, rebased. A global's entry
    /// comes from the declaration that won; a global variable's offset is its symbol's.
    fn collect_datasec_vars(&mut self, i: usize) -> Result<(), LinkError> {
        let input = &self.inputs[i];
        let Some(btf) = &input.btf else {
            return Ok(());
        };
        let bad = |e: corebpf_btf::BtfError| input.err(format!(".BTF: {e}"));
        for t in btf.types().filter(|t| t.kind() == Kind::Datasec) {
            let name = t.name();
            if name == EXTERN_SEC {
                continue;
            }
            let (out, base, elf_sec) = match input.elf.section_by_name(name) {
                Some(s) => match self.placements[i][s.index] {
                    Some((out, off)) => (out, off, Some(s.index)),
                    None => continue,
                },
                None => match self.sections.iter().position(|s| s.name == name) {
                    Some(out) => (out, 0, None),
                    None => continue,
                },
            };
            self.sections[out].has_btf = true;
            for v in t.datasec_vars() {
                let vt = btf.type_by_id(v.type_id).map_err(bad)?;
                let type_id = self.btf.type_maps[i]
                    .get(v.type_id as usize)
                    .copied()
                    .unwrap_or(0);
                if type_id == 0 {
                    continue;
                }
                if is_non_static(&vt) {
                    let Some(&g) = self.global_index.get(vt.name()) else {
                        continue;
                    };
                    let g = &self.globals[g];
                    if g.sec != Some(out) {
                        return Err(input.err(format!(
                            "global '{}' is in DATASEC '{name}' but its symbol is in another section",
                            vt.name()
                        )));
                    }
                    if g.owner != (i, v.type_id) {
                        continue;
                    }
                }
                let mut offset = v.offset as u64;
                if vt.kind() == Kind::Var && vt.linkage() == Some(Linkage::Global) {
                    if let Some(sec) = elf_sec {
                        offset = symbol_offset(input, sec, vt.name())?;
                    }
                }
                let offset = u32::try_from(base + offset)
                    .map_err(|_| input.err(format!("'{}' lies past 4 GiB", vt.name())))?;
                self.sections[out].vars.push(VarEntry {
                    type_id,
                    offset,
                    size: v.size,
                });
            }
        }
        Ok(())
    }

    /// One DATASEC per output section that had BTF, sized as the section (0 for the
    /// BTF-only ones, as libbpf).
    fn append_datasecs(&mut self) {
        for s in &self.sections {
            if !s.has_btf {
                continue;
            }
            let name = self.btf.strings.add(s.name.as_bytes());
            let info = (Kind::Datasec as u32) << 24 | s.vars.len() as u32;
            let size = if s.ephemeral { 0 } else { s.size as u32 };
            let mut words = vec![name, info, size];
            for v in &s.vars {
                words.extend([v.type_id, v.offset, v.size]);
            }
            for w in words {
                self.btf.types.extend_from_slice(&w.to_le_bytes());
            }
            self.btf.count += 1;
        }
    }

    /// The merged BTF encoded and deduplicated, and where each pre-dedup id went.
    pub(crate) fn finish_btf(&self) -> Result<(Vec<u8>, Vec<u32>), LinkError> {
        let blob = encode(&self.btf.types, &self.btf.strings.bytes);
        let internal = |what: &str, e: corebpf_btf::BtfError| LinkError::Input {
            input: "<linked output>".into(),
            reason: format!("{what}: {e}"),
        };
        let btf = Btf::from_vec(blob).map_err(|e| internal("merged BTF", e))?;
        let d = corebpf_btf::dedup::dedup(&btf).map_err(|e| internal("BTF dedup", e))?;
        Ok((d.btf, d.map))
    }
}

/// A global variable's offset in its section, from its symbol (clang leaves some DATASEC
/// offsets 0, libbpf's `linker_fixup_btf`).
fn symbol_offset(
    input: &super::input::Input<'_>,
    sec: usize,
    name: &str,
) -> Result<u64, LinkError> {
    input
        .elf
        .symbols
        .iter()
        .find(|s| s.shndx == Some(sec) && s.st_type == STT_OBJECT && s.name == name)
        .map(|s| s.value)
        .ok_or_else(|| {
            input.err(format!(
                "no symbol for variable '{name}' in section '{}'",
                input.elf.sections[sec].name
            ))
        })
}

/// A little-endian BTF blob (24-byte header) of these records and strings.
pub(crate) fn encode(types: &[u8], strings: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + types.len() + strings.len());
    out.extend_from_slice(&corebpf_btf::BTF_MAGIC.to_le_bytes());
    out.extend_from_slice(&[1, 0]);
    for w in [
        24,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(types);
    out.extend_from_slice(strings);
    out
}
