//! Linking one program (libbpf's `bpf_object__relocate` minus CO-RE, which runs before):
//! appends every subprogram the program reaches (calls and callback references,
//! recursively, each once), points calls at them, marks map/global-data/extern references
//! for the loader, and rebases func_info/line_info to the final instruction indexes. A
//! reference to a symbol nothing defines fails only the programs that reach it
//! ([`ObjError::Undefined`]), unless an `LD_IMM64` of it was given a value
//! ([`ObjectSpec::set_symbol_value`]).

use corebpf_btf::{FuncInfo, LineInfo};

use crate::error::{ObjError, Result};
use crate::externs::{ExternKind, ExternValue, KsymKind};
use crate::insn::{pseudo, Insn};
use crate::maps::MapKind;
use crate::object::{FunctionSpec, ObjectSpec, ProgramSpec};
use crate::reloc::{Reloc, RelocKind};

/// libbpf's `POISON_CALL_KFUNC_BASE`: a missing `__weak` kfunc's call becomes a call of
/// helper `base + extern index`, which the verifier rejects only if it is reachable.
pub const POISON_CALL_KFUNC_BASE: i32 = 2002000000;

/// How the loader fills in a map reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRelocKind {
    /// `imm` = map fd (`src_reg` is `BPF_PSEUDO_MAP_FD`).
    Fd,
    /// `imm` = map fd, second half's `imm` = `offset` (`src_reg` `BPF_PSEUDO_MAP_VALUE`).
    Value {
        /// Byte offset in the map's value.
        offset: u32,
    },
}

/// A map reference in a linked program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapReloc {
    /// Index of the `LD_IMM64` in [`LinkedProgram::insns`].
    pub insn_idx: usize,
    /// Index into [`ObjectSpec::maps`].
    pub map: usize,
    /// What to fill in.
    pub kind: MapRelocKind,
}

/// An extern reference in a linked program. Resolved externs are already patched (a BTF
/// id, an address, a poisoned call, a module kfunc's `fd_array` index in `off`); the loader
/// still swaps a module's BTF fd for its object id in `insn[1].imm` of an `LD_IMM64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternReloc {
    /// Index of the instruction in [`LinkedProgram::insns`].
    pub insn_idx: usize,
    /// Index into [`ObjectSpec::externs`].
    pub ext: usize,
    /// A kfunc call (otherwise an `LD_IMM64`).
    pub call: bool,
}

/// Where a function landed in a linked program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Index into [`ObjectSpec::functions`].
    pub function: usize,
    /// Index of its first instruction in [`LinkedProgram::insns`].
    pub start: usize,
}

/// A reference a linked program makes to a symbol nothing in the object defines (see
/// [`RelocKind::Undefined`]), left as the ELF has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndefinedRef {
    /// The symbol.
    pub symbol: String,
    /// Index into [`ObjectSpec::functions`] of the function holding the reference.
    pub function: usize,
    /// Instruction index within that function.
    pub insn: usize,
    /// A call (otherwise an `LD_IMM64`).
    pub call: bool,
}

/// A program ready for the loader: final instructions plus what it must fill in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedProgram {
    /// Program index in [`ObjectSpec::programs`].
    pub program: usize,
    /// Instructions: the program, then each used subprogram once.
    pub insns: Vec<Insn>,
    /// The functions in `insns`, the program's own first.
    pub layout: Vec<Placement>,
    /// Map and global data references.
    pub map_relocs: Vec<MapReloc>,
    /// Extern references.
    pub extern_relocs: Vec<ExternReloc>,
    /// func_info with `insn_off` in INSTRUCTIONS (what `BPF_PROG_LOAD` takes).
    pub func_info: Vec<FuncInfo>,
    /// line_info with `insn_off` in INSTRUCTIONS.
    pub line_info: Vec<LineInfo>,
    /// References to undefined symbols without a value, in the order reached (always empty
    /// from [`ObjectSpec::link_program`], which fails on the first instead).
    pub undefined: Vec<UndefinedRef>,
}

impl ObjectSpec {
    /// Links the program named `name` (see [`ObjectSpec::link_program`]).
    pub fn link_program_by_name(&self, name: &str) -> Result<LinkedProgram> {
        let p = self
            .program_index(name)
            .ok_or_else(|| ObjError::NoSuchProgram(name.to_string()))?;
        self.link_program(p)
    }

    /// Links program `prog` from the current (possibly CO-RE patched) function instructions.
    /// A reference to an undefined symbol without a value is an [`ObjError::Undefined`]
    /// naming the program and the symbol.
    pub fn link_program(&self, prog: usize) -> Result<LinkedProgram> {
        let linked = self.link_program_allow_undefined(prog)?;
        match linked.undefined.first() {
            Some(u) => Err(self.undefined_error(prog, u)),
            None => Ok(linked),
        }
    }

    /// Links program `prog` like [`ObjectSpec::link_program`], but leaves references to
    /// undefined symbols as they are and lists them in [`LinkedProgram::undefined`] (to show
    /// the program, as `corebpf inspect` does; the kernel would not take it).
    pub fn link_program_allow_undefined(&self, prog: usize) -> Result<LinkedProgram> {
        let p = self
            .programs
            .get(prog)
            .ok_or_else(|| ObjError::NoSuchProgram(format!("#{prog}")))?;
        let mut linker = Linker::new(self, p);
        // Linking a function appends each subprogram it calls when first reached and links
        // that one at once, before the caller's next instruction (depth first, libbpf's
        // `bpf_object__reloc_code` order, which decides where each subprogram lands).
        linker.link_function(linker.layout[0])?;
        let (func_info, line_info) = self.rebase_ext_info(&linker.layout);
        log::debug!(
            "prog '{}': linked {} insns ({} functions, {} map refs, {} extern refs)",
            p.name,
            linker.insns.len(),
            linker.layout.len(),
            linker.map_relocs.len(),
            linker.extern_relocs.len()
        );
        Ok(LinkedProgram {
            program: prog,
            insns: linker.insns,
            layout: linker.layout,
            map_relocs: linker.map_relocs,
            extern_relocs: linker.extern_relocs,
            func_info,
            line_info,
            undefined: linker.undefined,
        })
    }

    /// The undefined symbols (without a value) program `prog` reaches, in the order
    /// reached; empty if it links.
    pub fn undefined_symbols(&self, prog: usize) -> Result<Vec<UndefinedRef>> {
        Ok(self.link_program_allow_undefined(prog)?.undefined)
    }

    /// Gives every `LD_IMM64` of the undefined symbol `name` the 64-bit `value` it loads
    /// (e.g. inline asm `r0 = MY_CONST ll`), so the programs using it link. Returns how many
    /// instructions refer to it. A symbol only called as a function takes no value.
    pub fn set_symbol_value(&mut self, name: &str, value: u64) -> Result<usize> {
        let mut set = 0;
        let mut called = None;
        for f in &mut self.functions {
            for r in f.relocs.iter_mut().filter(|r| r.symbol == name) {
                match &mut r.kind {
                    RelocKind::Undefined {
                        call: false,
                        value: v,
                    } => {
                        *v = Some(value);
                        set += 1;
                    }
                    RelocKind::Undefined { call: true, .. } => called = Some(f.section.clone()),
                    _ => {}
                }
            }
        }
        match (set, called) {
            (0, Some(section)) => Err(ObjError::Symbol {
                symbol: name.to_string(),
                section,
                reason: "is called as a function; only an LD_IMM64 of an undefined symbol \
                         takes a value"
                    .into(),
            }),
            (0, None) => Err(ObjError::NoSuchSymbol(name.to_string())),
            (n, _) => Ok(n),
        }
    }

    /// The error for program `prog` reaching undefined reference `u`.
    fn undefined_error(&self, prog: usize, u: &UndefinedRef) -> ObjError {
        let f = &self.functions[u.function];
        ObjError::Undefined {
            program: self.programs[prog].name.clone(),
            symbol: u.symbol.clone(),
            function: f.name.clone(),
            section: f.section.clone(),
            insn: u.insn,
            call: u.call,
        }
    }

    /// func_info and line_info of the functions in `layout`, their `insn_off` rebased from
    /// the function's start to the linked program's (in instructions).
    pub(crate) fn rebase_ext_info(&self, layout: &[Placement]) -> (Vec<FuncInfo>, Vec<LineInfo>) {
        let mut func_info = Vec::new();
        let mut line_info = Vec::new();
        for pl in layout {
            let f = &self.functions[pl.function];
            func_info.extend(f.func_info.iter().map(|r| FuncInfo {
                insn_off: (pl.start + r.insn_idx) as u32,
                ..r.record
            }));
            line_info.extend(f.line_info.iter().map(|r| LineInfo {
                insn_off: (pl.start + r.insn_idx) as u32,
                ..r.record
            }));
        }
        (func_info, line_info)
    }

    /// The function starting at instruction `insn` of section `sec` (a call's target).
    pub(crate) fn function_starting_at(&self, sec: usize, insn: i64) -> Option<usize> {
        let insn = usize::try_from(insn).ok()?;
        self.functions
            .iter()
            .position(|g| g.section_index == sec && g.sec_insn_off == insn)
    }

    fn section_name(&self, sec: usize) -> String {
        self.functions
            .iter()
            .find(|f| f.section_index == sec)
            .map_or_else(|| format!("#{sec}"), |f| f.section.clone())
    }
}

/// Callee's instruction index in its section for a `Call` relocation: `sym_off` is a
/// function's (or 0 for the section symbol's) byte offset, `imm` is relative to the next insn.
fn call_reloc_target(sym_off: u64, imm: i32) -> i64 {
    (sym_off / 8) as i64 + imm as i64 + 1
}

/// Callee's instruction index in its section for a `SubprogAddr` relocation (`imm` is a
/// byte offset from the symbol).
fn subprog_addr_target(sym_off: u64, imm: i32) -> i64 {
    (sym_off as i64 + imm as i64) / 8
}

/// A call within its own section: `imm` is already relative to the next instruction.
fn local_call_target(f: &FunctionSpec, i: usize, imm: i32) -> i64 {
    (f.sec_insn_off + i) as i64 + imm as i64 + 1
}

/// The `imm` of a call at `at` reaching instruction `start` of the same program.
fn call_offset(at: usize, start: usize) -> i32 {
    (start as i64 - at as i64 - 1) as i32
}

/// One program being linked: its instructions so far, where each function landed, and the
/// references the loader must fill in.
struct Linker<'a> {
    spec: &'a ObjectSpec,
    prog: &'a ProgramSpec,
    insns: Vec<Insn>,
    layout: Vec<Placement>,
    map_relocs: Vec<MapReloc>,
    extern_relocs: Vec<ExternReloc>,
    undefined: Vec<UndefinedRef>,
    /// The `.kconfig` map, which kconfig externs point into.
    kcfg_map: Option<usize>,
}

impl<'a> Linker<'a> {
    /// Starts with the program's own function at instruction 0.
    fn new(spec: &'a ObjectSpec, prog: &'a ProgramSpec) -> Self {
        Linker {
            spec,
            prog,
            insns: spec.functions[prog.function].insns.clone(),
            layout: vec![Placement {
                function: prog.function,
                start: 0,
            }],
            map_relocs: Vec::new(),
            extern_relocs: Vec::new(),
            undefined: Vec::new(),
            kcfg_map: spec.maps.iter().position(|m| m.kind == MapKind::Kconfig),
        }
    }

    /// A linking error at instruction `insn` of `f`, naming the program being linked.
    fn err(&self, f: &FunctionSpec, insn: usize, reason: String) -> ObjError {
        ObjError::Call {
            program: self.prog.name.clone(),
            function: f.name.clone(),
            section: f.section.clone(),
            insn,
            reason,
        }
    }

    /// Applies the map, data and extern relocations of the function placed at `pl`, then
    /// links its calls and callback references in instruction order, relocated or (within
    /// its section) not.
    fn link_function(&mut self, pl: Placement) -> Result<()> {
        let f = &self.spec.functions[pl.function];
        let mut calls: Vec<Option<(&Reloc, Insn)>> = vec![None; f.insns.len()];
        let mut relocated = vec![false; f.insns.len()];
        for r in &f.relocs {
            let orig = self.reloc_site(f, r.insn_idx)?;
            relocated[r.insn_idx] = true;
            match r.kind {
                RelocKind::Undefined { call, value } => self.undefined_ref(pl, r, call, value),
                RelocKind::Call { .. } | RelocKind::SubprogAddr { .. } => {
                    calls[r.insn_idx] = Some((r, orig));
                }
                _ => self.apply_reloc(pl, f, r, orig)?,
            }
        }
        for (i, call) in calls.into_iter().enumerate() {
            match call {
                Some((r, orig)) => self.apply_reloc(pl, f, r, orig)?,
                None => self.link_local_call(pl, f, i, relocated[i])?,
            }
        }
        Ok(())
    }

    /// The original instruction a relocation patches, checked to lie within the function
    /// (both halves of an `LD_IMM64`).
    fn reloc_site(&self, f: &FunctionSpec, i: usize) -> Result<Insn> {
        let Some(orig) = f.insns.get(i).copied() else {
            return Err(self.err(f, i, "relocation past the function's end".into()));
        };
        if orig.is_ldimm64() && i + 1 >= f.insns.len() {
            return Err(self.err(f, i, "LD_IMM64 cut off by the function's end".into()));
        }
        Ok(orig)
    }

    /// Patches one relocated instruction: a call or callback address points at its
    /// (appended) callee; map, global data and extern references are recorded for the loader.
    fn apply_reloc(
        &mut self,
        pl: Placement,
        f: &FunctionSpec,
        r: &Reloc,
        orig: Insn,
    ) -> Result<()> {
        let i = r.insn_idx;
        let at = pl.start + i;
        match &r.kind {
            RelocKind::Call {
                section_index,
                sym_off,
            } => {
                let target = call_reloc_target(*sym_off, orig.imm);
                self.link_call(pl, f, i, *section_index, target)
            }
            RelocKind::SubprogAddr {
                section_index,
                sym_off,
            } => {
                let target = subprog_addr_target(*sym_off, orig.imm);
                self.insns[at].src = pseudo::FUNC;
                self.link_call(pl, f, i, *section_index, target)
            }
            RelocKind::Map { map } => {
                self.map_fd_ref(at, *map);
                Ok(())
            }
            RelocKind::Data { map, sym_off } => {
                let offset = u32::try_from(*sym_off as i64 + orig.imm as i64)
                    .ok()
                    .filter(|&o| u64::from(o) <= self.spec.maps[*map].value_ref_limit())
                    .ok_or_else(|| {
                        self.err(f, i, format!("'{}': offset outside its section", r.symbol))
                    })?;
                self.map_value_ref(at, *map, offset);
                Ok(())
            }
            RelocKind::Extern { ext } => self.extern_ref(f, i, at, orig, *ext),
            // Handled by `undefined_ref`.
            RelocKind::Undefined { .. } => Ok(()),
        }
    }

    /// A reference to an undefined symbol: an `LD_IMM64` given a value loads it; anything
    /// else is left as it is and listed.
    fn undefined_ref(&mut self, pl: Placement, r: &Reloc, call: bool, value: Option<u64>) {
        let at = pl.start + r.insn_idx;
        match value {
            Some(v) if !call => {
                self.insns[at].src = 0;
                self.insns[at].imm = v as u32 as i32;
                self.insns[at + 1].imm = (v >> 32) as u32 as i32;
            }
            _ => self.undefined.push(UndefinedRef {
                symbol: r.symbol.clone(),
                function: pl.function,
                insn: r.insn_idx,
                call,
            }),
        }
    }

    /// Instruction `i` of `f` if it is a call within its section: those need no
    /// relocation, their `imm` is relative already. A callback address (`BPF_PSEUDO_FUNC`)
    /// always has one.
    fn link_local_call(
        &mut self,
        pl: Placement,
        f: &FunctionSpec,
        i: usize,
        relocated: bool,
    ) -> Result<()> {
        let insn = f.insns[i];
        if insn.is_pseudo_call() && !relocated {
            let target = local_call_target(f, i, insn.imm);
            self.link_call(pl, f, i, f.section_index, target)?;
        } else if insn.is_pseudo_func() && !relocated {
            return Err(self.err(f, i, "missing subprog addr relo".into()));
        }
        Ok(())
    }

    /// Points the call (or callback address) at instruction `i` of the function placed at
    /// `pl` to its callee, which must be a function start in section `sec`, appending the
    /// callee first if the program doesn't hold it yet.
    fn link_call(
        &mut self,
        pl: Placement,
        f: &FunctionSpec,
        i: usize,
        sec: usize,
        target: i64,
    ) -> Result<()> {
        let callee = self.spec.function_starting_at(sec, target).ok_or_else(|| {
            self.err(
                f,
                i,
                format!(
                    "target insn #{target} of sec '{}' is not the start of a function",
                    self.spec.section_name(sec)
                ),
            )
        })?;
        let start = match self.layout.iter().find(|pl| pl.function == callee) {
            Some(placed) => placed.start,
            None => {
                let placed = self.place(callee);
                self.link_function(placed)?;
                placed.start
            }
        };
        let at = pl.start + i;
        self.insns[at].imm = call_offset(at, start);
        Ok(())
    }

    /// Appends `callee` (not in the program yet) at the end.
    fn place(&mut self, callee: usize) -> Placement {
        let g = &self.spec.functions[callee];
        let start = self.insns.len();
        log::debug!(
            "prog '{}': added {} insns from sub-prog '{}' at insn {}",
            self.prog.name,
            g.insns.len(),
            g.name,
            start
        );
        self.insns.extend_from_slice(&g.insns);
        let placed = Placement {
            function: callee,
            start,
        };
        self.layout.push(placed);
        placed
    }

    /// `LD_IMM64` at `at` becomes a map fd the loader fills in.
    fn map_fd_ref(&mut self, at: usize, map: usize) {
        self.insns[at].src = pseudo::MAP_FD;
        self.insns[at].imm = 0;
        self.map_relocs.push(MapReloc {
            insn_idx: at,
            map,
            kind: MapRelocKind::Fd,
        });
    }

    /// `LD_IMM64` at `at` becomes the address of `offset` in a map's value (global data,
    /// kconfig values).
    fn map_value_ref(&mut self, at: usize, map: usize, offset: u32) {
        self.insns[at].src = pseudo::MAP_VALUE;
        self.insns[at].imm = 0;
        self.insns[at + 1].imm = offset as i32;
        self.map_relocs.push(MapReloc {
            insn_idx: at,
            map,
            kind: MapRelocKind::Value { offset },
        });
    }

    /// An extern reference: a kconfig value, a kfunc call or a ksym's id or address.
    fn extern_ref(
        &mut self,
        f: &FunctionSpec,
        i: usize,
        at: usize,
        orig: Insn,
        ext: usize,
    ) -> Result<()> {
        let e = &self.spec.externs[ext];
        match (e.kind, orig.is_call()) {
            (ExternKind::Kconfig { data_off, .. }, false) => {
                let map = self
                    .kcfg_map
                    .ok_or_else(|| self.err(f, i, "no .kconfig map for a kconfig extern".into()))?;
                self.map_value_ref(at, map, data_off);
                Ok(())
            }
            (ExternKind::Kconfig { .. }, true) => {
                Err(self.err(f, i, format!("call to kconfig extern '{}'", e.name)))
            }
            (ExternKind::Ksym(kind), true) => {
                if !matches!(kind, KsymKind::Func { .. }) {
                    return Err(self.err(f, i, format!("call to non-function ksym '{}'", e.name)));
                }
                self.kfunc_call(at, ext);
                Ok(())
            }
            (ExternKind::Ksym(_), false) => {
                self.ksym_ldimm64(at, ext);
                Ok(())
            }
        }
    }

    /// A kfunc call: the kernel function's BTF id and, for a module's kfunc, the module's
    /// `fd_array` index in `off`; or a poisoned helper call for a missing `__weak` one.
    fn kfunc_call(&mut self, at: usize, ext: usize) {
        let insn = &mut self.insns[at];
        match &self.spec.externs[ext].resolved {
            Some(ExternValue::KsymBtf { btf_id, module }) => {
                insn.src = pseudo::KFUNC_CALL;
                insn.imm = *btf_id as i32;
                insn.off = module.as_ref().map_or(0, |m| m.fd_array_idx);
            }
            Some(ExternValue::Missing) => {
                insn.src = 0;
                insn.off = 0;
                insn.imm = POISON_CALL_KFUNC_BASE + ext as i32;
            }
            _ => {}
        }
        self.extern_relocs.push(ExternReloc {
            insn_idx: at,
            ext,
            call: true,
        });
    }

    /// A ksym `LD_IMM64`: a typed variable's (or kfunc's) BTF id, with a module's BTF
    /// object id in the second half where libbpf puts the module's BTF fd (the loader
    /// swaps in an fd); a typeless symbol's address; or 0 for a missing `__weak` one.
    fn ksym_ldimm64(&mut self, at: usize, ext: usize) {
        match &self.spec.externs[ext].resolved {
            Some(ExternValue::KsymBtf { btf_id, module }) => {
                self.insns[at].src = pseudo::BTF_ID;
                self.insns[at].imm = *btf_id as i32;
                self.insns[at + 1].imm = module.as_ref().map_or(0, |m| m.btf_obj_id as i32);
            }
            Some(ExternValue::KsymAddr(a)) => {
                self.insns[at].src = 0;
                self.insns[at].imm = *a as u32 as i32;
                self.insns[at + 1].imm = (*a >> 32) as u32 as i32;
            }
            Some(_) => {
                self.insns[at].src = 0;
                self.insns[at].imm = 0;
                self.insns[at + 1].imm = 0;
            }
            None => {}
        }
        self.extern_relocs.push(ExternReloc {
            insn_idx: at,
            ext,
            call: false,
        });
    }
}
