//! [`MapSpec`]: a map definition as the object declares it, whichever way it was declared
//! (BTF-defined `.maps`, legacy `maps`, global data sections, `.kconfig`, `.struct_ops`).

use corebpf_abi::consts::{BPF_F_MMAPABLE, BPF_F_RDONLY_PROG};
use corebpf_abi::MapType;

use crate::elf::Elf;

/// libbpf's `LIBBPF_PIN_*`: where a map is pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pinning {
    /// Not pinned (`LIBBPF_PIN_NONE`).
    #[default]
    None,
    /// Pinned by name under the pin root (`LIBBPF_PIN_BY_NAME`).
    ByName,
}

/// Which global data section an internal map holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// `.data` and `.data.*`: initialised, writable.
    Data,
    /// `.rodata` and `.rodata.*`: read-only to programs, frozen after load.
    Rodata,
    /// `.bss` and `.bss.*`: zero-initialised, writable.
    Bss,
}

/// How a map was declared (libbpf's `libbpf_map_type` plus the definition style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// A BTF-defined map in `.maps`.
    Btf,
    /// A legacy `struct bpf_map_def` in `maps`.
    Legacy,
    /// An internal single-entry array holding a global data section.
    Data(DataKind),
    /// The internal `.kconfig` map holding `__kconfig` extern values.
    Kconfig,
    /// A `.struct_ops` (or `.struct_ops.link`) map.
    StructOps,
}

/// What an initial slot of a prog array or map-in-map points at (`.values = { [i] = &x }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotTarget {
    /// Another map of this object (index into [`crate::ObjectSpec::maps`]).
    Map(usize),
    /// A program of this object (index into [`crate::ObjectSpec::programs`]).
    Program(usize),
}

/// One initial slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSlot {
    /// Key (array index, or the u32 key of a hash of maps).
    pub index: u32,
    /// What goes there.
    pub target: SlotTarget,
}

/// A function pointer member of a `.struct_ops` value, set to a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructOpsSlot {
    /// Byte offset of the member in the value.
    pub offset: u32,
    /// Member name.
    pub member: String,
    /// Program index.
    pub program: usize,
}

/// A map definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    /// Name (for internal maps, libbpf's `<obj prefix>.data` style name).
    pub name: String,
    /// ELF section of the definition (`.maps`, `maps`, `.data`, ...; `.kconfig` for the
    /// kconfig map, which has no ELF section).
    pub section: String,
    /// ELF index of that section (0 for `.kconfig`).
    pub section_index: usize,
    /// Byte offset of the definition (or, for data maps, 0) in its section.
    pub sec_offset: u64,
    /// How it was declared.
    pub kind: MapKind,
    /// Map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// `max_entries` (0 for a perf event array means "number of CPUs" to libbpf).
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_*`).
    pub map_flags: u32,
    /// NUMA node (used by the kernel with `BPF_F_NUMA_NODE`).
    pub numa_node: u32,
    /// `map_extra` (bloom filter hash count, arena address).
    pub map_extra: u64,
    /// Pinning.
    pub pinning: Pinning,
    /// BTF type id (object BTF) of the key, if declared by type.
    pub btf_key_type_id: Option<u32>,
    /// BTF type id of the value (for data maps: the DATASEC), if known.
    pub btf_value_type_id: Option<u32>,
    /// Inner map template of a map-in-map (`__array(values, struct inner)`).
    pub inner: Option<Box<MapSpec>>,
    /// Initial slots of a prog array or map-in-map.
    pub init_slots: Vec<InitSlot>,
    /// Initial value contents (data, rodata, kconfig, struct_ops; for an arena its
    /// `__arena` globals, see [`MapSpec::is_arena`]); `None` for all-zero (`.bss`) or for
    /// maps without an initial value.
    pub data: Option<Vec<u8>>,
    /// Freeze the map after writing `data` (`.rodata`, `.kconfig`).
    pub freeze: bool,
    /// `.struct_ops` only: the BTF id of the value struct in the object BTF.
    pub struct_ops_type_id: Option<u32>,
    /// `.struct_ops` only: function pointer members set to programs.
    pub struct_ops_slots: Vec<StructOpsSlot>,
    /// Whether the loader creates it by default (`false` for `SEC("?.struct_ops")`).
    pub autocreate: bool,
}

impl MapSpec {
    /// An empty spec of `kind` (everything zero) to fill in.
    pub(crate) fn new(name: String, section: String, section_index: usize, kind: MapKind) -> Self {
        MapSpec {
            name,
            section,
            section_index,
            sec_offset: 0,
            kind,
            map_type: MapType::Unspec,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            map_flags: 0,
            numa_node: 0,
            map_extra: 0,
            pinning: Pinning::None,
            btf_key_type_id: None,
            btf_value_type_id: None,
            inner: None,
            init_slots: Vec::new(),
            data: None,
            freeze: false,
            struct_ops_type_id: None,
            struct_ops_slots: Vec::new(),
            autocreate: true,
        }
    }

    /// Whether this is an internal map (global data or kconfig).
    pub fn is_internal(&self) -> bool {
        matches!(self.kind, MapKind::Data(_) | MapKind::Kconfig)
    }

    /// Whether this is an arena (`BPF_MAP_TYPE_ARENA`). Its [`MapSpec::data`] is the
    /// contents of [`ARENA_SEC`] (the object's `__arena` globals), which the loader copies
    /// into the arena's memory rather than writing as a map value.
    pub fn is_arena(&self) -> bool {
        self.map_type == MapType::Arena
    }

    /// How many bytes a global variable reference (`BPF_PSEUDO_MAP_VALUE`) may point into:
    /// the value for data maps, the `__arena` globals for an arena (whose value size is 0).
    pub fn value_ref_limit(&self) -> u64 {
        match &self.data {
            Some(d) if self.is_arena() => d.len() as u64,
            _ => u64::from(self.value_size),
        }
    }
}

/// The section clang puts `__arena` globals in (`__attribute__((address_space(1)))`);
/// libbpf's `ARENA_SEC`.
pub const ARENA_SEC: &str = ".addr_space.1";

/// Gives the object's arena map the contents of [`ARENA_SEC`], as libbpf's
/// `bpf_object__init_user_btf_maps` ends: an object may declare one arena, and `__arena`
/// globals need it. Where the globals go in the arena is the loader's business (it depends
/// on the page size and the kernel).
pub(crate) fn arena_data(elf: &Elf<'_>, maps: &mut [MapSpec]) -> crate::Result<()> {
    let mut arenas = maps.iter().enumerate().filter(|(_, m)| m.is_arena());
    let first = arenas.next().map(|(i, _)| i);
    if let (Some(a), Some((_, b))) = (first, arenas.next()) {
        return Err(crate::ObjError::Map {
            map: b.name.clone(),
            section: b.section.clone(),
            reason: format!(
                "only a single ARENA map is supported (map '{}' is also ARENA)",
                maps[a].name
            ),
        });
    }
    let Some(sec) = elf.section_by_name(ARENA_SEC) else {
        return Ok(());
    };
    let Some(a) = first else {
        return Err(crate::ObjError::Section {
            section: ARENA_SEC.into(),
            reason:
                "to use global __arena variables the ARENA map must be declared in SEC(\".maps\")"
                    .into(),
        });
    };
    let data = if sec.is_nobits() {
        let size = usize::try_from(sec.size).map_err(|_| crate::ObjError::Section {
            section: sec.name.clone(),
            reason: format!("size {:#x} is too large", sec.size),
        })?;
        vec![0; size]
    } else {
        sec.data()?.to_vec()
    };
    log::debug!(
        "map '{}': holds the {} bytes of __arena globals in {ARENA_SEC} (sec_idx {})",
        maps[a].name,
        data.len(),
        sec.index
    );
    maps[a].data = Some(data);
    Ok(())
}

/// libbpf's `internal_map_name`: `<first 8 chars of obj name><section>` for `.data`,
/// `.rodata`, `.bss`, `.kconfig`; custom sections (`.data.foo`) keep their own name;
/// truncated to 15 characters and sanitized to `[A-Za-z0-9_.]`.
pub fn internal_map_name(obj_name: &str, sec: &str) -> String {
    let sfx_len = sec.len().max(7);
    let pfx_len = if sec.len() > 1 && sec[1..].contains('.') {
        0
    } else {
        (16 - sfx_len - 1).min(obj_name.len())
    };
    let pfx: String = obj_name.chars().take(pfx_len).collect();
    let name: String = format!("{pfx}{sec}").chars().take(15).collect();
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The kind of global data section `name` is, if it is one.
pub(crate) fn data_kind(name: &str, nobits: bool) -> Option<DataKind> {
    let is =
        |base: &str| name == base || name.strip_prefix(base).is_some_and(|r| r.starts_with('.'));
    if nobits {
        return is(".bss").then_some(DataKind::Bss);
    }
    if is(".data") {
        Some(DataKind::Data)
    } else if is(".rodata") {
        Some(DataKind::Rodata)
    } else {
        None
    }
}

/// Internal maps for the global data sections, in section order (as libbpf's
/// `bpf_object__init_global_data_maps`).
pub(crate) fn data_maps(
    elf: &Elf<'_>,
    obj_name: &str,
    btf: Option<&corebpf_btf::Btf>,
) -> crate::Result<Vec<MapSpec>> {
    let mut maps = Vec::new();
    for s in &elf.sections {
        let Some(kind) = data_kind(&s.name, s.is_nobits()) else {
            continue;
        };
        if s.is_exec() {
            continue;
        }
        let value_size = u32::try_from(s.size).map_err(|_| crate::ObjError::Section {
            section: s.name.clone(),
            reason: format!("size {:#x} does not fit a map value", s.size),
        })?;
        let mut m = MapSpec::new(
            internal_map_name(obj_name, &s.name),
            s.name.clone(),
            s.index,
            MapKind::Data(kind),
        );
        m.map_type = MapType::Array;
        m.key_size = 4;
        m.value_size = value_size;
        m.max_entries = 1;
        // libbpf makes global data mmapable so skeletons can access it directly.
        m.map_flags = BPF_F_MMAPABLE;
        if kind == DataKind::Rodata {
            m.map_flags |= BPF_F_RDONLY_PROG;
            m.freeze = true;
        }
        if kind != DataKind::Bss {
            m.data = Some(s.data()?.to_vec());
        }
        m.btf_value_type_id =
            btf.and_then(|b| b.find_by_name_kind(&s.name, corebpf_btf::Kind::Datasec));
        log::debug!(
            "map '{}' (global data): at sec_idx {}, offset 0, flags {:#x}",
            m.name,
            s.index,
            m.map_flags
        );
        maps.push(m);
    }
    Ok(maps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_like_libbpf() {
        assert_eq!(internal_map_name("obj_globals", ".data"), "obj_glob.data");
        assert_eq!(
            internal_map_name("obj_globals", ".rodata"),
            "obj_glob.rodata"
        );
        assert_eq!(internal_map_name("obj_globals", ".bss"), "obj_glob.bss");
        assert_eq!(internal_map_name("obj_globals", ".data.foo"), ".data.foo");
        assert_eq!(internal_map_name("a-b", ".kconfig"), "a_b.kconfig");
        assert_eq!(internal_map_name("x", ".rodata.str1.1"), ".rodata.str1.1");
        assert_eq!(
            internal_map_name("x", ".data.a_very_long_name"),
            ".data.a_very_lo"
        );
        assert_eq!(data_kind(".rodata.bar", false), Some(DataKind::Rodata));
        assert_eq!(data_kind(".datafoo", false), None);
    }
}
