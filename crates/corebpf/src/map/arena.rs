//! Arenas (`BPF_MAP_TYPE_ARENA`, Linux 6.9): memory shared page by page between BPF
//! programs and user space, where a pointer means the same thing on both sides.
//!
//! The kernel gives the arena one user address range (`user_vm_start`, as long as the map
//! has pages): `map_extra` when the map was created with one, else the address of its first
//! `mmap`. Programs see arena pointers as those user addresses, so the range must be fixed
//! before a program using the arena is loaded; the loader maps the arena right after
//! creating it, as libbpf's `bpf_object__create_maps` does, and copies the object's
//! `__arena` globals into it. [`Arena`] reads and writes that memory by user address.

use std::borrow::Borrow;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, OnceLock};

use corebpf_obj::{MapSpec, ObjectSpec, ARENA_SEC};
use corebpf_sys::consts::{BPF_F_MMAPABLE, BPF_F_NO_USER_CONV, BPF_F_SEGV_ON_FAULT};
use corebpf_sys::mmap::{page_size, MmapRegion};
use corebpf_sys::{probe_map_type, MapType, SysError};

use super::{bytes_of, from_bytes, Map, MapError, Pod};
use crate::error::{Error, Result};

/// What a [`Map`] keeps for an arena: its user-space mapping (made by the loader, or on
/// first use) and where an object's `__arena` globals lie in it. Empty for other maps.
#[derive(Debug, Default)]
pub(crate) struct ArenaState {
    mapping: OnceLock<Arc<MmapRegion>>,
    globals: Option<ArenaGlobals>,
}

/// Where the loader put an object's `__arena` globals (the [`ARENA_SEC`] section): at
/// `offset` bytes into the arena, each variable at its section offset from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArenaGlobals {
    /// Byte offset of the section in the arena (libbpf's `arena_data_off`).
    pub offset: u64,
    /// Size of the section.
    pub size: u64,
    /// The variables: (name, offset in the section, size), from the object's BTF.
    pub vars: Vec<(String, u64, u64)>,
}

/// Checks that arena `m` holds its `__arena` globals in whole pages, as libbpf does when it
/// opens the object; gives (arena size, globals size, globals size in whole pages).
pub(crate) fn check_fits(m: &MapSpec) -> Result<(u64, u64, u64)> {
    let page = page_size() as u64;
    let arena_size = page * u64::from(m.max_entries);
    let size = m.data.as_ref().map_or(0, |d| d.len() as u64);
    let pages_size = size.div_ceil(page) * page;
    if pages_size > arena_size {
        return Err(Error::InvalidInput(format!(
            "map '{}': sec '{ARENA_SEC}': declared ARENA map size ({arena_size}) is too small to hold global __arena variables of size {size}",
            m.name
        )));
    }
    Ok((arena_size, size, pages_size))
}

impl ArenaGlobals {
    /// Lays out the `__arena` globals of arena `m` of `spec` as libbpf 1.7 does
    /// (`bpf_object__relocate`, `init_arena_map_data`): at the end of the arena, rounded to
    /// whole pages, when the kernel takes `LD_IMM64` value offsets over the full arena
    /// (libbpf's `FEAT_LDIMM64_FULL_RANGE_OFF`; not yet in 6.18), else at its start. Fails
    /// when the arena is smaller than its globals.
    pub(crate) fn for_map(spec: &ObjectSpec, m: &MapSpec) -> Result<Self> {
        let (arena_size, size, pages_size) = check_fits(m)?;
        let offset = if ldimm64_full_range_off() {
            arena_size - pages_size
        } else {
            0
        };
        log::debug!(
            "map '{}': __arena globals ({size} bytes) at offset {offset:#x} of the arena",
            m.name
        );
        Ok(ArenaGlobals {
            offset,
            size,
            vars: section_vars(spec),
        })
    }
}

/// The variables of the object's [`ARENA_SEC`] DATASEC: (name, offset, size).
fn section_vars(spec: &ObjectSpec) -> Vec<(String, u64, u64)> {
    let Some(btf) = &spec.btf else {
        return Vec::new();
    };
    let Some(ds) = btf
        .find_by_name_kind(ARENA_SEC, corebpf_btf::Kind::Datasec)
        .and_then(|id| btf.type_by_id(id).ok())
    else {
        return Vec::new();
    };
    ds.datasec_vars()
        .filter_map(|v| {
            let var = btf.type_by_id(v.type_id).ok()?;
            Some((
                var.name().to_string(),
                u64::from(v.offset),
                u64::from(v.size),
            ))
        })
        .collect()
}

/// Whether `LD_IMM64` with `BPF_PSEUDO_MAP_VALUE` may carry an offset past the old 512 MiB
/// limit (kernel commit 12a1fe6e12db), as libbpf's `probe_ldimm64_full_range_off`: a
/// program pointing 1 GiB into a one-element array must fail for being out of the value,
/// not for the offset itself. Probed once per process.
pub(crate) fn ldimm64_full_range_off() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let supported = probe_full_range_off().unwrap_or_else(|e| {
            log::debug!("probe of full range LDIMM64 offsets failed: {e}");
            false
        });
        log::debug!("kernel takes full range LDIMM64 map value offsets: {supported}");
        supported
    })
}

fn probe_full_range_off() -> std::result::Result<bool, SysError> {
    use corebpf_sys::insn::{pseudo, Insn};
    use std::os::fd::AsRawFd;
    let map = corebpf_sys::map_create(&corebpf_sys::MapCreateAttr {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 1,
        max_entries: 1,
        name: "arr",
        ..Default::default()
    })?;
    let ld = Insn::ld_imm64(1, pseudo::MAP_VALUE, map.as_raw_fd(), 1 << 30);
    let insns = Insn::encode_all(&[ld[0], ld[1], Insn::exit()]);
    let attr = corebpf_sys::ProgLoadAttr {
        prog_type: corebpf_sys::ProgType::SocketFilter,
        insns: &insns,
        license: c"GPL",
        name: "global_reloc",
        log_level: 1,
        ..Default::default()
    };
    let mut log = vec![0u8; 1024];
    match corebpf_sys::prog_load(&attr, Some(&mut log)) {
        Ok(_) => Ok(false),
        Err(e) => {
            let log = e.log().unwrap_or_default();
            Ok(!log.contains("direct value offset of")
                && log.contains("invalid access to map value pointer"))
        }
    }
}

/// Maps a just-created arena (`m` of the object) into this process and copies the object's
/// `__arena` globals to their place in it, as libbpf does after creating an arena.
pub(crate) fn map_created(map: &mut Map, m: &MapSpec, globals: ArenaGlobals) -> Result<()> {
    let region = map_region(map).map_err(|e| Error::MapOp(mmap_error(map, e)))?;
    log::debug!(
        "map '{}': arena mapped at {:#x} ({} bytes)",
        m.name,
        region.as_ptr() as u64,
        region.len()
    );
    if let Some(data) = m.data.as_ref().filter(|d| !d.is_empty()) {
        // Through the kernel: an arena with BPF_F_SEGV_ON_FAULT refuses to fault pages in
        // for user space, and that must be an error, not a SIGSEGV.
        region
            .write_checked(globals.offset as usize, data)
            .map_err(|source| Error::Map {
                map: m.name.clone(),
                what: "writing the __arena globals into the arena (a BPF_F_SEGV_ON_FAULT arena cannot hold them)",
                error: source,
            })?;
    }
    // Set once here, right after creation: nothing else can have mapped it yet.
    let _ = map.arena.mapping.set(Arc::new(region));
    map.arena.globals = Some(globals);
    Ok(())
}

/// Records where the globals of an arena this process did not create (a reused pinned
/// one) lie; such an arena is mapped on first use.
pub(crate) fn set_globals(map: &mut Map, globals: ArenaGlobals) {
    map.arena.globals = Some(globals);
}

/// A failed creation of arena `m`, explained: `EINVAL` with the rules of the kernel's
/// `arena_map_alloc` the definition breaks; `EPERM` in a process that creates other maps
/// needing `CAP_BPF` as the kernel refusing arenas as such.
pub(crate) fn create_error(m: &MapSpec, e: SysError) -> Error {
    if e.raw_errno() == Some(libc::EINVAL) {
        if let Some(why) = create_hint(m) {
            return Error::InvalidInput(format!("map '{}': creating: {e}: {why}", m.name));
        }
    }
    let what = if e.raw_errno() == Some(libc::EPERM) && probe_map_type(MapType::BloomFilter) {
        "creating an arena, which this kernel refuses although this process creates other maps that need CAP_BPF (lockdown, an LSM or a hardened kernel blocks arenas)"
    } else {
        "creating"
    };
    Error::Map {
        map: m.name.clone(),
        what,
        error: e,
    }
}

/// The rules of the kernel's `arena_map_alloc` that arena `m` breaks, if any.
fn create_hint(m: &MapSpec) -> Option<String> {
    let page = page_size() as u64;
    let allowed = BPF_F_MMAPABLE | BPF_F_SEGV_ON_FAULT | BPF_F_NO_USER_CONV;
    let range = page * u64::from(m.max_entries);
    let broken = [
        (
            m.map_flags & BPF_F_MMAPABLE == 0,
            "map_flags must include BPF_F_MMAPABLE",
        ),
        (
            m.map_flags & !allowed != 0,
            "map_flags may only hold BPF_F_MMAPABLE, BPF_F_SEGV_ON_FAULT and BPF_F_NO_USER_CONV",
        ),
        (
            m.key_size != 0 || m.value_size != 0,
            "an arena has no key or value (sizes must be 0)",
        ),
        (
            m.max_entries == 0,
            "max_entries (the number of pages) must not be 0",
        ),
        (
            m.map_extra % page != 0,
            "map_extra (the user address) must be page aligned",
        ),
        (
            m.map_extra >> 32 != m.map_extra.saturating_add(range.max(1) - 1) >> 32,
            "the range at map_extra must not cross a 4 GiB boundary",
        ),
    ];
    let reasons: Vec<_> = broken.iter().filter(|b| b.0).map(|b| b.1).collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// Maps `map` (an arena) for reading and writing: at its `map_extra` if it has one, else
/// where the kernel chooses, which becomes the arena's address if nothing mapped it before.
fn map_region(map: &Map) -> std::result::Result<MmapRegion, SysError> {
    let len = page_size() * map.max_entries() as usize;
    let hint = Some(map.info().map_extra).filter(|&a| a != 0);
    MmapRegion::map_at(map.as_fd(), hint, len, true, 0)
}

/// The arena's mapping in this process, made now if the loader did not make it.
fn mapping(map: &Map) -> std::result::Result<Arc<MmapRegion>, MapError> {
    if let Some(r) = map.arena.mapping.get() {
        return Ok(r.clone());
    }
    // One mapping per arena and process: two racing first uses must not both map it.
    static FIRST_USE: Mutex<()> = Mutex::new(());
    let _guard = FIRST_USE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = map.arena.mapping.get() {
        return Ok(r.clone());
    }
    let region = Arc::new(map_region(map).map_err(|e| mmap_error(map, e))?);
    let _ = map.arena.mapping.set(region.clone());
    Ok(region)
}

/// A failed `mmap` of an arena, with the kernel's likely reason.
fn mmap_error(map: &Map, e: SysError) -> MapError {
    let extra = map.info().map_extra;
    let why = match e.raw_errno() {
        Some(libc::EEXIST) => format!(
            "address {extra:#x} (map_extra) is already in use in this process (another arena with the same map_extra?)"
        ),
        Some(libc::EINVAL | libc::EBUSY) if extra == 0 => "the arena is mapped (by another process) at an address this process does not know; create it with map_extra to give it a fixed address".into(),
        _ => "cannot map the arena into this process".into(),
    };
    MapError::invalid(map.name(), format!("{why}: {e}"))
}

/// A `BPF_MAP_TYPE_ARENA` mapped into this process: its memory read and written by the
/// user addresses BPF programs store in it (pointers in arena data are such addresses).
///
/// Accesses are bounds-checked against the mapping and go through the kernel
/// (`process_vm_readv`/`writev`), so a page that cannot be faulted in (an arena created
/// with `BPF_F_SEGV_ON_FAULT`, where only programs allocate pages) is an error rather than
/// a `SIGSEGV`. Touching a page no program allocated allocates it (zeroed), as any access
/// from user space does. For raw access, [`Arena::as_ptr`] gives the mapping.
///
/// ```no_run
/// # let obj: corebpf::Object = unimplemented!();
/// let arena = obj.map("arena").unwrap().as_arena()?;
/// let head = arena.global_address("list_head").unwrap();
/// let mut node: u64 = arena.read(head)?;
/// while node != 0 {
///     let value: u64 = arena.read(node + 8)?;
///     println!("{value}");
///     node = arena.read(node)?;
/// }
/// # Ok::<(), corebpf::map::MapError>(())
/// ```
pub struct Arena<M = Map> {
    map: M,
    region: Arc<MmapRegion>,
}

impl<M: Borrow<Map>> Arena<M> {
    /// Wraps `map` (an arena), mapping it into this process if it is not yet: at its
    /// `map_extra` address, or where the kernel chooses (which an arena created without
    /// `map_extra` then keeps for every process).
    pub fn new(map: M) -> Result<Self, MapError> {
        map.borrow().check_type(&[MapType::Arena], "Arena")?;
        let region = mapping(map.borrow())?;
        Ok(Arena { map, region })
    }

    /// The untyped map.
    pub fn map(&self) -> &Map {
        self.map.borrow()
    }

    /// Gives the map back (the mapping stays with it).
    pub fn into_inner(self) -> M {
        self.map
    }

    /// The user address of the arena's first byte (the kernel's `user_vm_start`).
    pub fn user_vm_start(&self) -> u64 {
        self.region.as_ptr() as u64
    }

    /// Size of the arena in bytes (`max_entries` pages).
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Never true: an arena has at least one page.
    pub fn is_empty(&self) -> bool {
        self.region.is_empty()
    }

    /// Start of the mapping, for callers that lay their own types over it (reading an
    /// unallocated page of a `BPF_F_SEGV_ON_FAULT` arena through it raises `SIGSEGV`).
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.as_ptr()
    }

    /// Whether the `len` bytes at user address `addr` lie in the arena.
    pub fn contains(&self, addr: u64, len: usize) -> bool {
        self.offset_of(addr, len).is_some()
    }

    /// The offset of user address `addr` in the mapping, if `len` bytes fit there.
    fn offset_of(&self, addr: u64, len: usize) -> Option<usize> {
        let off = usize::try_from(addr.checked_sub(self.user_vm_start())?).ok()?;
        (off.checked_add(len)? <= self.len()).then_some(off)
    }

    fn out_of_bounds(&self, addr: u64, len: usize) -> MapError {
        MapError::invalid(
            self.map().name(),
            format!(
                "{len} bytes at {addr:#x} are outside the arena [{:#x}, {:#x})",
                self.user_vm_start(),
                self.user_vm_start() + self.len() as u64
            ),
        )
    }

    /// Copies `out.len()` bytes from user address `addr`.
    pub fn read_bytes(&self, addr: u64, out: &mut [u8]) -> Result<(), MapError> {
        let off = self
            .offset_of(addr, out.len())
            .ok_or_else(|| self.out_of_bounds(addr, out.len()))?;
        self.region
            .read_checked(off, out)
            .map_err(|e| self.map().err(e))
    }

    /// Copies `data` to user address `addr`.
    pub fn write_bytes(&self, addr: u64, data: &[u8]) -> Result<(), MapError> {
        let off = self
            .offset_of(addr, data.len())
            .ok_or_else(|| self.out_of_bounds(addr, data.len()))?;
        self.region
            .write_checked(off, data)
            .map_err(|e| self.map().err(e))
    }

    /// Reads a `T` at user address `addr` (any alignment).
    pub fn read<T: Pod>(&self, addr: u64) -> Result<T, MapError> {
        let mut buf = vec![0u8; std::mem::size_of::<T>()];
        self.read_bytes(addr, &mut buf)?;
        Ok(from_bytes(&buf))
    }

    /// Writes `value` at user address `addr`.
    pub fn write<T: Pod>(&self, addr: u64, value: &T) -> Result<(), MapError> {
        self.write_bytes(addr, bytes_of(value))
    }

    /// The user address of the object's `__arena` globals (its [`ARENA_SEC`] section), for
    /// an arena the loader created or reused; `None` for other arenas and objects without
    /// `__arena` globals.
    pub fn globals_address(&self) -> Option<u64> {
        let g = self.map().arena.globals.as_ref().filter(|g| g.size > 0)?;
        Some(self.user_vm_start() + g.offset)
    }

    /// The user address of `__arena` global `name` of the object that declared this arena.
    pub fn global_address(&self, name: &str) -> Option<u64> {
        let g = self.map().arena.globals.as_ref()?;
        let (_, off, _) = g.vars.iter().find(|(n, ..)| n == name)?;
        Some(self.user_vm_start() + g.offset + off)
    }
}

impl Map {
    /// Borrows this map as an [`Arena`], mapping it into this process if needed.
    pub fn as_arena(&self) -> Result<Arena<&Map>, MapError> {
        Arena::new(self)
    }

    /// Turns this map into an [`Arena`], mapping it into this process if needed.
    pub fn into_arena(self) -> Result<Arena<Map>, MapError> {
        Arena::new(self)
    }

    /// Where the object's `__arena` globals start in this arena (0 for other maps): what
    /// the loader adds to a program's references to them.
    pub(crate) fn arena_globals_offset(&self) -> u64 {
        self.arena.globals.as_ref().map_or(0, |g| g.offset)
    }
}

impl TryFrom<Map> for Arena<Map> {
    type Error = MapError;
    fn try_from(map: Map) -> Result<Self, MapError> {
        Self::new(map)
    }
}

impl<'a> TryFrom<&'a Map> for Arena<&'a Map> {
    type Error = MapError;
    fn try_from(map: &'a Map) -> Result<Self, MapError> {
        Self::new(map)
    }
}

impl<M: Borrow<Map>> std::fmt::Debug for Arena<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena")
            .field("map", self.map.borrow())
            .field(
                "user_vm_start",
                &format_args!("{:#x}", self.user_vm_start()),
            )
            .field("len", &self.len())
            .finish()
    }
}

impl<M: Borrow<Map>> AsFd for Arena<M> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.map.borrow().as_fd()
    }
}

#[cfg(test)]
mod tests {
    //! What can be checked without an arena (which some kernels refuse to create): the user
    //! space side, on an mmapable array standing in for one.
    use super::*;
    use corebpf_sys::MapCreateAttr;

    /// A `BPF_F_MMAPABLE` array of `pages` one-page values: mapped like an arena of as
    /// many pages.
    fn stand_in(pages: u32) -> Map {
        Map::create(&MapCreateAttr {
            map_type: MapType::Array,
            key_size: 4,
            value_size: page_size() as u32,
            max_entries: pages,
            map_flags: BPF_F_MMAPABLE,
            name: "t_arena_like",
            ..Default::default()
        })
        .unwrap()
    }

    fn arena_list() -> ObjectSpec {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/bpf/out/clang19/arena_list.bpf.o"
        );
        corebpf_obj::Object::from_file(path).unwrap()
    }

    #[test]
    fn globals_are_copied_in_and_found_by_name() {
        let spec = arena_list();
        let mut m = spec.map("arena").unwrap().clone();
        m.max_entries = 3;
        let globals = ArenaGlobals::for_map(&spec, &m).unwrap();
        let page = page_size() as u64;
        let expected = if ldimm64_full_range_off() {
            2 * page
        } else {
            0
        };
        assert_eq!((globals.offset, globals.size), (expected, 20));
        let mut map = stand_in(3);
        map_created(&mut map, &m, globals).unwrap();
        assert_eq!(map.arena_globals_offset(), expected);
        let arena = Arena {
            region: mapping(&map).unwrap(),
            map: &map,
        };
        let start = arena.user_vm_start();
        assert_eq!(arena.len() as u64, 3 * page);
        assert_eq!(arena.globals_address(), Some(start + expected));
        let magic = arena.global_address("magic").unwrap();
        assert_eq!(arena.read::<u64>(magic).unwrap(), 0xc0ffee);
        let head = arena.global_address("list_head").unwrap();
        assert_eq!(arena.read::<u64>(head).unwrap(), 0);
        assert_eq!(arena.global_address("nope"), None);
        // The copy went into the map's memory: the kernel's view agrees.
        let key = ((magic - start) / page) as u32;
        let value = map.lookup(&key.to_ne_bytes(), 0).unwrap().unwrap();
        let at = ((magic - start) % page) as usize;
        assert_eq!(value[at..at + 8], 0xc0ffee_u64.to_ne_bytes());
    }

    #[test]
    fn mapping_is_made_once_and_bounds_are_checked() {
        let map = stand_in(2);
        let first = mapping(&map).unwrap();
        assert!(Arc::ptr_eq(&first, &mapping(&map).unwrap()));
        let arena = Arena {
            region: first,
            map: &map,
        };
        let start = arena.user_vm_start();
        let end = start + arena.len() as u64;
        arena.write(end - 8, &7u64).unwrap();
        assert_eq!(arena.read::<u64>(end - 8).unwrap(), 7);
        assert!(arena.contains(start, arena.len()) && !arena.contains(start, arena.len() + 1));
        for (addr, len) in [(start - 1, 1), (end - 7, 8), (end, 1), (u64::MAX, 1)] {
            let err = arena.read_bytes(addr, &mut vec![0; len]).unwrap_err();
            assert!(err.to_string().contains("outside the arena"), "{err}");
        }
        assert_eq!(arena.globals_address(), None);
    }

    #[test]
    fn map_extra_address_is_taken_exactly_or_refused() {
        let map = stand_in(1);
        let len = page_size();
        let addr = MmapRegion::map(map.as_fd(), len, true, 0).unwrap().as_ptr() as u64;
        // Unmapped again: the address is free, and mapping there must land there.
        let at = MmapRegion::map_at(map.as_fd(), Some(addr), len, true, 0).unwrap();
        assert_eq!(at.as_ptr() as u64, addr);
        let err = MmapRegion::map_at(map.as_fd(), Some(addr), len, true, 0).unwrap_err();
        assert_eq!(err.raw_errno(), Some(libc::EEXIST), "{err}");
        let msg = mmap_error(&map, err).to_string();
        assert!(msg.contains("is already in use in this process"), "{msg}");
    }

    #[test]
    fn arena_rules_the_kernel_checks() {
        let mut m = arena_list().map("arena").unwrap().clone();
        assert_eq!(create_hint(&m), None);
        m.map_flags = 0;
        m.key_size = 4;
        m.map_extra = (1 << 32) - page_size() as u64;
        let hint = create_hint(&m).unwrap();
        assert_eq!(
            hint,
            "map_flags must include BPF_F_MMAPABLE; an arena has no key or value (sizes must be 0); the range at map_extra must not cross a 4 GiB boundary"
        );
    }
}
