//! [`ObjectSpec`]: everything a BPF ELF object declares, and [`Object::parse`] which builds it.

use std::collections::HashMap;
use std::sync::Arc;

use corebpf_abi::{AttachType, ProgType};
use corebpf_btf::{Btf, BtfExt, CoreRelo, FuncInfo, LineInfo};

use crate::elf::{Elf, Section, Symbol, STB_LOCAL, STT_FUNC};
use crate::error::{ObjError, Result};
use crate::externs::{ExternSpec, KCONFIG_SEC};
use crate::insn::{Insn, INSN_SIZE};
use crate::maps::{MapKind, MapSpec};
use crate::reloc::Reloc;
use crate::section::{find_sec_def, SecInfo};

/// A `.BTF.ext` record assigned to a function: `insn_idx` is relative to the function's
/// first instruction; `record` is the original (its `insn_off` is still the byte offset in
/// the ELF section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtRecord<T> {
    /// Instruction index within the function.
    pub insn_idx: usize,
    /// The record as read from `.BTF.ext`.
    pub record: T,
}

/// One function of the object: a program's entry or a subprogram (static or global).
/// Its instructions are the ELF bytes; the CO-RE engine patches `insns` in place before
/// [`ObjectSpec::link_program`] resolves calls and map references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// Symbol name.
    pub name: String,
    /// ELF section name.
    pub section: String,
    /// ELF section index.
    pub section_index: usize,
    /// Index of the first instruction within the section (`sec_insn_off`).
    pub sec_insn_off: usize,
    /// Instructions (from the ELF section; possibly CO-RE patched).
    pub insns: Vec<Insn>,
    /// Global (`STB_GLOBAL`/`STB_WEAK`) rather than static.
    pub global: bool,
    /// Global with hidden or internal ELF visibility (`__hidden`): for a subprogram, its
    /// BTF FUNC is static (libbpf's rule), so the verifier checks it in its caller's context.
    pub hidden: bool,
    /// Index into [`ObjectSpec::programs`] if this function is a program's entry.
    pub program: Option<usize>,
    /// Relocations of its instructions (`insn_idx` relative to the function).
    pub relocs: Vec<Reloc>,
    /// `.BTF.ext` func_info records within the function.
    pub func_info: Vec<ExtRecord<FuncInfo>>,
    /// `.BTF.ext` line_info records within the function.
    pub line_info: Vec<ExtRecord<LineInfo>>,
    /// `.BTF.ext` CO-RE relocation records within the function.
    pub core_relos: Vec<ExtRecord<CoreRelo>>,
}

impl FunctionSpec {
    /// Whether instruction index `idx` of the section lies in this function.
    pub fn contains_sec_insn(&self, idx: usize) -> bool {
        idx >= self.sec_insn_off && idx < self.sec_insn_off + self.insns.len()
    }
}

/// A program: a function in a non-`.text` executable section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSpec {
    /// Name (the function's symbol).
    pub name: String,
    /// ELF section name (the `SEC()` string).
    pub section: String,
    /// Index of its entry function in [`ObjectSpec::functions`].
    pub function: usize,
    /// The SEC convention, if known.
    pub sec_def: Option<SecInfo>,
    /// Program type (`Unspec` if the SEC name is unknown).
    pub prog_type: ProgType,
    /// Expected attach type.
    pub expected_attach_type: Option<AttachType>,
    /// Attach target from the SEC name (`do_unlinkat`, `syscalls/sys_enter_openat`).
    pub attach_target: Option<String>,
    /// `BPF_F_SLEEPABLE`.
    pub sleepable: bool,
    /// `BPF_F_XDP_HAS_FRAGS`.
    pub xdp_frags: bool,
    /// Why this program can't be loaded (unknown SEC name, ...); the rest of the object
    /// is still usable.
    pub error: Option<ObjError>,
}

/// A parsed BPF object.
#[derive(Debug, Clone)]
pub struct ObjectSpec {
    /// Object name (file name up to the first `.`), used for internal map names.
    pub name: String,
    /// `SEC("license")` string.
    pub license: String,
    /// `SEC("version")` value.
    pub kern_version: Option<u32>,
    /// Programs in ELF order (section, then offset).
    pub programs: Vec<ProgramSpec>,
    /// All functions (programs' entries and subprograms).
    pub functions: Vec<FunctionSpec>,
    /// Maps: legacy, BTF-defined, global data, `.kconfig`, struct_ops (libbpf's order).
    pub maps: Vec<MapSpec>,
    /// `__kconfig` and `__ksym` externs.
    pub externs: Vec<ExternSpec>,
    /// The object's BTF, finalized (DATASEC sizes/offsets, extern sections fixed up).
    pub btf: Option<Arc<Btf>>,
    /// The object's `.BTF.ext`.
    pub btf_ext: Option<BtfExt>,
}

/// Entry points for parsing BPF objects into an [`ObjectSpec`].
#[derive(Debug, Clone, Copy)]
pub struct Object;

impl Object {
    /// Parses an object with an empty name (internal maps are then named `.data` etc.).
    /// Total: malformed input gives an [`ObjError`], never a panic.
    pub fn parse(bytes: &[u8]) -> Result<ObjectSpec> {
        ObjectSpec::parse_named(bytes, "")
    }

    /// Parses an object named `name` (libbpf derives it from the file name).
    pub fn parse_named(bytes: &[u8], name: &str) -> Result<ObjectSpec> {
        ObjectSpec::parse_named(bytes, name)
    }

    /// Reads and parses a file; the object name is the file name up to its first `.`.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<ObjectSpec> {
        ObjectSpec::from_file(path)
    }
}

/// libbpf's object name: the basename up to its first `.`.
pub fn object_name_from_path(path: &std::path::Path) -> String {
    let base = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    base.split('.').next().unwrap_or_default().to_string()
}

fn btf_err(section: &'static str) -> impl Fn(corebpf_btf::BtfError) -> ObjError {
    move |source| ObjError::Btf {
        section,
        error: source,
    }
}

impl ObjectSpec {
    /// Reads and parses a file; the object name is the file name up to its first `.`.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<ObjectSpec> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| ObjError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        ObjectSpec::parse_named(&bytes, &object_name_from_path(path))
    }

    /// Parses `bytes` as the object `name`.
    pub fn parse_named(bytes: &[u8], name: &str) -> Result<ObjectSpec> {
        let elf = Elf::parse(bytes)?;
        log::debug!("elf: section count {}", elf.sections.len());
        let (license, kern_version, btf) = read_meta_sections(&elf)?;
        let btf_ext = match (&btf, elf.section_by_name(".BTF.ext")) {
            (Some(b), Some(s)) => Some(BtfExt::parse(s.data()?, b).map_err(btf_err(".BTF.ext"))?),
            _ => None,
        };
        let (mut functions, programs) = collect_functions(&elf)?;
        let program_at = |sec: usize, off: u64| -> Option<usize> {
            functions
                .iter()
                .find(|f| f.section_index == sec && (f.sec_insn_off * INSN_SIZE) as u64 == off)
                .and_then(|f| f.program)
        };
        let (mut maps, externs) = collect_maps(&elf, name, btf.as_ref(), &program_at)?;
        crate::struct_ops::check_slot_programs(&maps, &programs)?;
        assign_relocs(&elf, &maps, &externs, &mut functions)?;
        if let Some(ext) = &btf_ext {
            assign_ext_records(ext, &elf, &mut functions)?;
        }
        let btf = match &btf {
            Some(b) => Some(crate::btf_fixup::finalize(b, &elf, &externs)?),
            None => None,
        };
        limit_mmapable_data(&mut maps, btf.as_deref());
        Ok(ObjectSpec {
            name: name.to_string(),
            license,
            kern_version,
            programs,
            functions,
            maps,
            externs,
            btf,
            btf_ext,
        })
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&ProgramSpec> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// Index of the program named `name`.
    pub fn program_index(&self, name: &str) -> Option<usize> {
        self.programs.iter().position(|p| p.name == name)
    }

    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// Index of the function named `name`.
    pub fn function_index(&self, name: &str) -> Option<usize> {
        self.functions.iter().position(|f| f.name == name)
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&MapSpec> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// Index of the map named `name`.
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }

    /// Maps a `.BTF.ext` address (section name, byte offset in it) to
    /// `(function index, instruction index within the function)`.
    pub fn function_at(&self, section: &str, byte_off: u32) -> Option<(usize, usize)> {
        let idx = byte_off as usize / INSN_SIZE;
        self.functions
            .iter()
            .position(|f| f.section == section && f.contains_sec_insn(idx))
            .map(|i| (i, idx - self.functions[i].sec_insn_off))
    }

    /// Number of `.BTF.ext` CO-RE relocation records per section, in `.BTF.ext` order.
    pub fn core_relo_counts(&self) -> Vec<(String, usize)> {
        self.btf_ext
            .as_ref()
            .map(|e| {
                e.core_relo
                    .iter()
                    .map(|s| (s.sec_name.clone(), s.records.len()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The `license` string, the `version` value and the `.BTF`, from their sections.
fn read_meta_sections(elf: &Elf<'_>) -> Result<(String, Option<u32>, Option<Btf>)> {
    let mut license = String::new();
    let mut kern_version = None;
    let mut btf = None;
    for s in &elf.sections {
        match s.name.as_str() {
            "license" => {
                let d = s.data()?;
                let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
                license = String::from_utf8_lossy(&d[..end]).into_owned();
                log::debug!("elf: section({}) license, size {}", s.index, d.len());
            }
            "version" => {
                let d = s.data()?;
                let v: [u8; 4] = d.try_into().map_err(|_| ObjError::Section {
                    section: s.name.clone(),
                    reason: format!("invalid size {} (must be 4)", d.len()),
                })?;
                kern_version = Some(u32::from_le_bytes(v));
            }
            ".BTF" => btf = Some(Btf::parse(s.data()?).map_err(btf_err(".BTF"))?),
            _ => {}
        }
    }
    Ok((license, kern_version, btf))
}

/// The maps in libbpf's order (legacy, BTF-defined, global data, `.kconfig`, struct_ops)
/// and the externs, which size `.kconfig`. `program_at` finds the programs struct_ops and
/// prog array slots name.
fn collect_maps(
    elf: &Elf<'_>,
    name: &str,
    btf: Option<&Btf>,
    program_at: &dyn Fn(usize, u64) -> Option<usize>,
) -> Result<(Vec<MapSpec>, Vec<ExternSpec>)> {
    let mut maps = Vec::new();
    if let Some(s) = elf.section_by_name("maps") {
        crate::legacy_maps::legacy_maps(elf, s, &mut maps)?;
    }
    let mut btf_map_locs = Vec::new();
    if let Some(s) = elf.section_by_name(".maps") {
        btf_map_locs = crate::btf_maps::btf_maps(elf, btf, s, &mut maps)?;
    }
    crate::maps::arena_data(elf, &mut maps)?;
    maps.extend(crate::maps::data_maps(elf, name, btf)?);
    let externs = crate::externs::collect_externs(elf, btf)?;
    maps.extend(kconfig_map(name, btf, &externs));
    for s in &elf.sections {
        if crate::struct_ops::is_struct_ops_sec(&s.name) {
            crate::struct_ops::struct_ops_maps(elf, btf, s, &mut maps, program_at)?;
        }
    }
    // Slots can name any map, so they are read once all maps are known.
    if let Some(s) = elf.section_by_name(".maps") {
        crate::btf_maps::collect_map_relos(elf, s, &btf_map_locs, &mut maps, program_at)?;
    }
    Ok((maps, externs))
}

/// libbpf's `map_is_mmapable`: a global data map is `BPF_F_MMAPABLE` only if its DATASEC
/// has a variable that is not static (a skeleton would expose it); `__hidden` variables are
/// static by now (`btf_fixup`), so a section holding only those is not.
fn limit_mmapable_data(maps: &mut [MapSpec], btf: Option<&Btf>) {
    use corebpf_abi::consts::BPF_F_MMAPABLE;
    for m in maps
        .iter_mut()
        .filter(|m| matches!(m.kind, MapKind::Data(_)))
    {
        let exposed = btf
            .zip(m.btf_value_type_id)
            .is_some_and(|(b, id)| has_non_static_var(b, id));
        if !exposed && m.map_flags & BPF_F_MMAPABLE != 0 {
            m.map_flags &= !BPF_F_MMAPABLE;
            log::debug!(
                "map '{}': no non-static variable in '{}', not mmapable",
                m.name,
                m.section
            );
        }
    }
}

/// Whether type `id` is a DATASEC with a VAR that is not static.
fn has_non_static_var(btf: &Btf, id: u32) -> bool {
    use corebpf_btf::{Kind, Linkage};
    let Ok(sec) = btf.type_by_id(id) else {
        return false;
    };
    sec.kind() == Kind::Datasec
        && sec.datasec_vars().any(|v| {
            btf.type_by_id(v.type_id)
                .is_ok_and(|t| t.kind() == Kind::Var && t.linkage() != Some(Linkage::Static))
        })
}

/// The internal `.kconfig` map holding the kconfig externs' values, if there are any.
fn kconfig_map(name: &str, btf: Option<&Btf>, externs: &[ExternSpec]) -> Option<MapSpec> {
    let kcfg_size = crate::externs::kconfig_size(externs);
    if kcfg_size == 0 {
        return None;
    }
    let mut m = MapSpec::new(
        crate::maps::internal_map_name(name, KCONFIG_SEC),
        KCONFIG_SEC.into(),
        0,
        MapKind::Kconfig,
    );
    m.map_type = corebpf_abi::MapType::Array;
    m.key_size = 4;
    m.value_size = kcfg_size;
    m.max_entries = 1;
    m.map_flags = corebpf_abi::consts::BPF_F_RDONLY_PROG | corebpf_abi::consts::BPF_F_MMAPABLE;
    m.freeze = true;
    m.btf_value_type_id =
        btf.and_then(|b| b.find_by_name_kind(KCONFIG_SEC, corebpf_btf::Kind::Datasec));
    Some(m)
}

/// Records each program section's relocations on the function whose instruction they
/// patch.
fn assign_relocs(
    elf: &Elf<'_>,
    maps: &[MapSpec],
    externs: &[ExternSpec],
    functions: &mut [FunctionSpec],
) -> Result<()> {
    for s in elf
        .sections
        .iter()
        .filter(|s| s.is_exec() && !s.relocs.is_empty())
    {
        let insns = Insn::decode_all(s.data()?);
        let relocs = crate::reloc::collect_section_relocs(elf, s, &insns, maps, externs)?;
        for (sec_idx, mut r) in relocs {
            let f = functions
                .iter_mut()
                .find(|f| f.section_index == s.index && f.contains_sec_insn(sec_idx))
                .ok_or_else(|| ObjError::Reloc {
                    section: s.name.clone(),
                    insn: sec_idx,
                    symbol: r.symbol.clone(),
                    reason: "instruction is in no function".into(),
                })?;
            r.insn_idx = sec_idx - f.sec_insn_off;
            f.relocs.push(r);
        }
    }
    Ok(())
}

/// Finds functions (STT_FUNC symbols) in executable sections; non-`.text` ones are programs.
fn collect_functions(elf: &Elf<'_>) -> Result<(Vec<FunctionSpec>, Vec<ProgramSpec>)> {
    let mut functions = Vec::new();
    let mut programs = Vec::new();
    for s in elf.sections.iter().filter(|s| s.is_exec()) {
        let data = s.data()?;
        if data.is_empty() {
            continue;
        }
        if data.len() % INSN_SIZE != 0 {
            return Err(ObjError::Section {
                section: s.name.clone(),
                reason: format!("size {} is not a multiple of {INSN_SIZE}", data.len()),
            });
        }
        let mut prev_end = 0u64;
        for sym in function_symbols(elf, s) {
            let end = check_function_symbol(s, sym, data.len(), prev_end)?;
            if sym.size == 0 {
                continue;
            }
            prev_end = end;
            let insns = Insn::decode_all(&data[sym.value as usize..end as usize]);
            let program = if s.name == ".text" {
                log::debug!(
                    "sec '{}': found subprogram '{}' at insn offset {} ({} bytes)",
                    s.name,
                    sym.name,
                    sym.value / INSN_SIZE as u64,
                    sym.size
                );
                None
            } else {
                programs.push(program_spec(s, sym, functions.len(), insns.len()));
                Some(programs.len() - 1)
            };
            functions.push(function_spec(s, sym, insns, program));
        }
    }
    Ok((functions, programs))
}

/// Function `sym` of section `s`, its relocations and `.BTF.ext` records still to come.
fn function_spec(
    s: &Section<'_>,
    sym: &Symbol,
    insns: Vec<Insn>,
    program: Option<usize>,
) -> FunctionSpec {
    FunctionSpec {
        name: sym.name.clone(),
        section: s.name.clone(),
        section_index: s.index,
        sec_insn_off: (sym.value / INSN_SIZE as u64) as usize,
        insns,
        global: sym.bind != STB_LOCAL,
        hidden: sym.is_hidden_global(),
        program,
        relocs: Vec::new(),
        func_info: Vec::new(),
        line_info: Vec::new(),
        core_relos: Vec::new(),
    }
}

/// The STT_FUNC symbols of section `s`, by offset.
fn function_symbols<'e>(elf: &'e Elf<'_>, s: &Section<'_>) -> Vec<&'e Symbol> {
    let mut syms: Vec<_> = elf
        .symbols
        .iter()
        .filter(|y| y.shndx == Some(s.index) && y.st_type == STT_FUNC)
        .collect();
    syms.sort_by_key(|y| y.value);
    syms
}

/// Checks that function `sym` is whole instructions within section `s` (of `len` bytes),
/// after the previous function (ending at `prev_end`). Returns where it ends.
fn check_function_symbol(s: &Section<'_>, sym: &Symbol, len: usize, prev_end: u64) -> Result<u64> {
    let err = |reason: String| ObjError::Symbol {
        symbol: sym.name.clone(),
        section: s.name.clone(),
        reason,
    };
    let end = sym.value.saturating_add(sym.size);
    if sym.value % INSN_SIZE as u64 != 0 || sym.size % INSN_SIZE as u64 != 0 {
        return Err(err(format!(
            "offset {} or size {} not a multiple of {INSN_SIZE}",
            sym.value, sym.size
        )));
    }
    if end > len as u64 {
        return Err(err(format!(
            "function [{}, {end}) runs past the section ({len} bytes)",
            sym.value
        )));
    }
    if sym.value < prev_end {
        return Err(err("function overlaps the previous one".into()));
    }
    Ok(end)
}

/// The program whose entry is function `sym` (index `function`, `n_insns` long) of section
/// `s`: its type and attach details from the SEC name. An unknown SEC name is the program's
/// error, not the object's. A static function is a program too, as cilium/ebpf has it
/// (libbpf refuses the whole object).
fn program_spec(s: &Section<'_>, sym: &Symbol, function: usize, n_insns: usize) -> ProgramSpec {
    let sec_def = find_sec_def(&s.name);
    let error = sec_def.is_none().then(|| ObjError::UnknownSection {
        program: sym.name.clone(),
        section: s.name.clone(),
    });
    if let Some(e) = &error {
        log::warn!("{e}");
    }
    if sym.bind == STB_LOCAL {
        log::debug!(
            "sec '{}': program '{}' is static (accepted as cilium/ebpf does; libbpf refuses it)",
            s.name,
            sym.name
        );
    }
    log::debug!(
        "sec '{}': found program '{}' at insn offset {} ({} bytes), code size {} insns ({} bytes)",
        s.name,
        sym.name,
        sym.value / INSN_SIZE as u64,
        sym.value,
        n_insns,
        sym.size
    );
    let flags = sec_def.as_ref().map(|d| d.def.flags).unwrap_or_default();
    ProgramSpec {
        name: sym.name.clone(),
        section: s.name.clone(),
        function,
        prog_type: sec_def.as_ref().map_or(ProgType::Unspec, |d| d.prog_type()),
        expected_attach_type: sec_def.as_ref().and_then(|d| d.attach_type()),
        attach_target: sec_def.as_ref().and_then(|d| d.attach_target.clone()),
        sleepable: flags.sleepable,
        xdp_frags: flags.xdp_frags,
        sec_def,
        error,
    }
}

/// The functions of each section, sorted by first instruction: where a `.BTF.ext` record
/// (section, byte offset) falls in O(log n), not a scan of every function (an object of
/// 1,000 programs and 50,000 CO-RE records made that scan most of the parse's time).
pub(crate) struct FunctionIndex {
    /// Section name → (first instruction, function index), sorted.
    by_section: HashMap<String, Vec<(usize, usize)>>,
}

impl FunctionIndex {
    pub(crate) fn new(functions: &[FunctionSpec]) -> FunctionIndex {
        let mut by_section: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (i, f) in functions.iter().enumerate() {
            if let Some(starts) = by_section.get_mut(&f.section) {
                starts.push((f.sec_insn_off, i));
            } else {
                by_section.insert(f.section.clone(), vec![(f.sec_insn_off, i)]);
            }
        }
        for starts in by_section.values_mut() {
            starts.sort_unstable();
        }
        FunctionIndex { by_section }
    }

    /// The function holding the instruction at byte `off` of `sec`, and the instruction's
    /// index in that function.
    pub(crate) fn find(
        &self,
        functions: &[FunctionSpec],
        sec: &str,
        off: u32,
    ) -> Option<(usize, usize)> {
        let idx = off as usize / INSN_SIZE;
        let starts = self.by_section.get(sec)?;
        let at = starts
            .partition_point(|&(start, _)| start <= idx)
            .checked_sub(1)?;
        let (start, f) = starts[at];
        functions[f]
            .contains_sec_insn(idx)
            .then_some((f, idx - start))
    }
}

/// Distributes func_info, line_info and CO-RE records to the functions they fall in.
fn assign_ext_records(ext: &BtfExt, elf: &Elf<'_>, functions: &mut [FunctionSpec]) -> Result<()> {
    fn find<'f>(
        index: &FunctionIndex,
        functions: &'f mut [FunctionSpec],
        sec: &str,
        off: u32,
    ) -> Option<(&'f mut FunctionSpec, usize)> {
        let (f, rel) = index.find(functions, sec, off)?;
        Some((&mut functions[f], rel))
    }
    let index = FunctionIndex::new(functions);
    for s in &ext.func_info {
        for r in &s.records {
            match find(&index, functions, &s.sec_name, r.insn_off) {
                Some((f, insn_idx)) => f.func_info.push(ExtRecord {
                    insn_idx,
                    record: *r,
                }),
                None => log::debug!(
                    "sec '{}': func_info at byte {} is in no function, dropped",
                    s.sec_name,
                    r.insn_off
                ),
            }
        }
    }
    for s in &ext.line_info {
        for r in &s.records {
            if let Some((f, insn_idx)) = find(&index, functions, &s.sec_name, r.insn_off) {
                f.line_info.push(ExtRecord {
                    insn_idx,
                    record: *r,
                });
            }
        }
    }
    for s in &ext.core_relo {
        if elf.section_by_name(&s.sec_name).is_none() {
            return Err(ObjError::Section {
                section: s.sec_name.clone(),
                reason: ".BTF.ext CO-RE relocations for a section that doesn't exist".into(),
            });
        }
        for (i, r) in s.records.iter().enumerate() {
            let (f, insn_idx) =
                find(&index, functions, &s.sec_name, r.insn_off).ok_or_else(|| {
                    ObjError::Section {
                        section: s.sec_name.clone(),
                        reason: format!(
                            "CO-RE relocation #{i} at byte {} is in no function",
                            r.insn_off
                        ),
                    }
                })?;
            f.core_relos.push(ExtRecord {
                insn_idx,
                record: *r,
            });
        }
    }
    Ok(())
}
