//! Linking one program (libbpf's `bpf_object__relocate` minus CO-RE, which runs before):
//! appends every subprogram the program reaches (calls and callback references,
//! recursively, each once), points calls at them, marks map/global-data/extern references
//! for the loader, and rebases func_info/line_info to the final instruction indexes.

use corebpf_btf::{FuncInfo, LineInfo};

use crate::error::{ObjError, Result};
use crate::externs::{ExternKind, ExternValue, KsymKind};
use crate::insn::{pseudo, Insn};
use crate::maps::MapKind;
use crate::object::ObjectSpec;
use crate::reloc::RelocKind;

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

/// An extern reference in a linked program. Resolved externs are already patched (a
/// vmlinux BTF id, an address, a poisoned call); the loader still fills module BTF fds
/// (`insn[1].imm` of an `LD_IMM64`, `off` of a kfunc call as an `fd_array` index).
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
    pub fn link_program(&self, prog: usize) -> Result<LinkedProgram> {
        let p = self
            .programs
            .get(prog)
            .ok_or_else(|| ObjError::NoSuchProgram(format!("#{prog}")))?;
        let main = p.function;
        let mut insns = self.functions[main].insns.clone();
        let mut layout = vec![Placement {
            function: main,
            start: 0,
        }];
        let mut map_relocs = Vec::new();
        let mut extern_relocs = Vec::new();
        let kcfg_map = self.maps.iter().position(|m| m.kind == MapKind::Kconfig);

        let mut k = 0;
        while k < layout.len() {
            let Placement {
                function: fi,
                start: base,
            } = layout[k];
            k += 1;
            let f = &self.functions[fi];
            let call_err = |insn: usize, reason: String| ObjError::Call {
                program: p.name.clone(),
                function: f.name.clone(),
                section: f.section.clone(),
                insn,
                reason,
            };
            // Callee by (section, instruction index in section): must be a function start.
            let place = |insns: &mut Vec<Insn>,
                         layout: &mut Vec<Placement>,
                         i: usize,
                         sec: usize,
                         target: i64|
             -> Result<()> {
                let callee = usize::try_from(target)
                    .ok()
                    .and_then(|t| {
                        self.functions
                            .iter()
                            .position(|g| g.section_index == sec && g.sec_insn_off == t)
                    })
                    .ok_or_else(|| {
                        call_err(
                            i,
                            format!(
                                "target insn #{target} of sec '{}' is not the start of a function",
                                self.section_name(sec)
                            ),
                        )
                    })?;
                let start = match layout.iter().find(|pl| pl.function == callee) {
                    Some(pl) => pl.start,
                    None => {
                        let start = insns.len();
                        log::debug!(
                            "prog '{}': added {} insns from sub-prog '{}' at insn {}",
                            p.name,
                            self.functions[callee].insns.len(),
                            self.functions[callee].name,
                            start
                        );
                        insns.extend_from_slice(&self.functions[callee].insns);
                        layout.push(Placement {
                            function: callee,
                            start,
                        });
                        start
                    }
                };
                let at = base + i;
                insns[at].imm = (start as i64 - at as i64 - 1) as i32;
                Ok(())
            };

            let mut relocated = vec![false; f.insns.len()];
            for r in &f.relocs {
                let i = r.insn_idx;
                let Some(orig) = f.insns.get(i).copied() else {
                    return Err(call_err(i, "relocation past the function's end".into()));
                };
                relocated[i] = true;
                if orig.is_ldimm64() && i + 1 >= f.insns.len() {
                    return Err(call_err(i, "LD_IMM64 cut off by the function's end".into()));
                }
                let at = base + i;
                match &r.kind {
                    RelocKind::Call {
                        section_index,
                        sym_off,
                    } => {
                        let target = (*sym_off / 8) as i64 + orig.imm as i64 + 1;
                        place(&mut insns, &mut layout, i, *section_index, target)?;
                    }
                    RelocKind::SubprogAddr {
                        section_index,
                        sym_off,
                    } => {
                        let target = (*sym_off as i64 + orig.imm as i64) / 8;
                        insns[at].src = pseudo::FUNC;
                        place(&mut insns, &mut layout, i, *section_index, target)?;
                    }
                    RelocKind::Map { map } => {
                        insns[at].src = pseudo::MAP_FD;
                        insns[at].imm = 0;
                        map_relocs.push(MapReloc {
                            insn_idx: at,
                            map: *map,
                            kind: MapRelocKind::Fd,
                        });
                    }
                    RelocKind::Data { map, sym_off } => {
                        let offset = u32::try_from(*sym_off as i64 + orig.imm as i64)
                            .ok()
                            .filter(|&o| o <= self.maps[*map].value_size)
                            .ok_or_else(|| {
                                call_err(i, format!("'{}': offset outside its section", r.symbol))
                            })?;
                        insns[at].src = pseudo::MAP_VALUE;
                        insns[at].imm = 0;
                        insns[at + 1].imm = offset as i32;
                        map_relocs.push(MapReloc {
                            insn_idx: at,
                            map: *map,
                            kind: MapRelocKind::Value { offset },
                        });
                    }
                    RelocKind::Extern { ext } => {
                        let e = &self.externs[*ext];
                        let call = orig.is_call();
                        match (e.kind, call) {
                            (ExternKind::Kconfig { data_off, .. }, false) => {
                                let map = kcfg_map.ok_or_else(|| {
                                    call_err(i, "no .kconfig map for a kconfig extern".into())
                                })?;
                                insns[at].src = pseudo::MAP_VALUE;
                                insns[at].imm = 0;
                                insns[at + 1].imm = data_off as i32;
                                map_relocs.push(MapReloc {
                                    insn_idx: at,
                                    map,
                                    kind: MapRelocKind::Value { offset: data_off },
                                });
                            }
                            (ExternKind::Kconfig { .. }, true) => {
                                return Err(call_err(
                                    i,
                                    format!("call to kconfig extern '{}'", e.name),
                                ))
                            }
                            (ExternKind::Ksym(kind), true) => {
                                if !matches!(kind, KsymKind::Func { .. }) {
                                    return Err(call_err(
                                        i,
                                        format!("call to non-function ksym '{}'", e.name),
                                    ));
                                }
                                match &e.resolved {
                                    Some(ExternValue::KsymBtf { btf_id, .. }) => {
                                        insns[at].src = pseudo::KFUNC_CALL;
                                        insns[at].imm = *btf_id as i32;
                                        insns[at].off = 0;
                                    }
                                    Some(ExternValue::Missing) => {
                                        insns[at].src = 0;
                                        insns[at].off = 0;
                                        insns[at].imm = POISON_CALL_KFUNC_BASE + *ext as i32;
                                    }
                                    _ => {}
                                }
                                extern_relocs.push(ExternReloc {
                                    insn_idx: at,
                                    ext: *ext,
                                    call: true,
                                });
                            }
                            (ExternKind::Ksym(_), false) => {
                                match &e.resolved {
                                    Some(ExternValue::KsymBtf { btf_id, .. }) => {
                                        insns[at].src = pseudo::BTF_ID;
                                        insns[at].imm = *btf_id as i32;
                                        insns[at + 1].imm = 0;
                                    }
                                    Some(ExternValue::KsymAddr(a)) => {
                                        insns[at].src = 0;
                                        insns[at].imm = *a as u32 as i32;
                                        insns[at + 1].imm = (*a >> 32) as u32 as i32;
                                    }
                                    Some(_) => {
                                        insns[at].src = 0;
                                        insns[at].imm = 0;
                                        insns[at + 1].imm = 0;
                                    }
                                    None => {}
                                }
                                extern_relocs.push(ExternReloc {
                                    insn_idx: at,
                                    ext: *ext,
                                    call: false,
                                });
                            }
                        }
                    }
                }
            }
            // Calls within one section need no relocation: imm is relative already.
            for (i, insn) in f.insns.iter().enumerate() {
                if insn.is_pseudo_call() && !relocated[i] {
                    let target = (f.sec_insn_off + i) as i64 + insn.imm as i64 + 1;
                    place(&mut insns, &mut layout, i, f.section_index, target)?;
                } else if insn.is_pseudo_func() && !relocated[i] {
                    return Err(call_err(i, "missing subprog addr relo".into()));
                }
            }
        }

        let mut func_info = Vec::new();
        let mut line_info = Vec::new();
        for pl in &layout {
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
        log::debug!(
            "prog '{}': linked {} insns ({} functions, {} map refs, {} extern refs)",
            p.name,
            insns.len(),
            layout.len(),
            map_relocs.len(),
            extern_relocs.len()
        );
        Ok(LinkedProgram {
            program: prog,
            insns,
            layout,
            map_relocs,
            extern_relocs,
            func_info,
            line_info,
        })
    }

    fn section_name(&self, sec: usize) -> String {
        self.functions
            .iter()
            .find(|f| f.section_index == sec)
            .map_or_else(|| format!("#{sec}"), |f| f.section.clone())
    }
}
