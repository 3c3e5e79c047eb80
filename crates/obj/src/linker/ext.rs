//! `.BTF.ext` rebasing (libbpf's `linker_append_btf_ext` and `finalize_btf_ext`): each
//! input's func_info, line_info and CO-RE records follow their section to its place in the
//! output section (instruction offsets shifted), with type ids and strings renumbered.

use corebpf_btf::{CoreRelo, FuncInfo, LineInfo};

use super::error::LinkError;
use super::Linker;

/// Record sizes written (the kernel ABI's).
const FUNC_INFO_SIZE: u32 = 8;
const LINE_INFO_SIZE: u32 = 16;
const CORE_RELO_SIZE: u32 = 16;
/// `struct btf_ext_header` with the CO-RE fields.
const EXT_HEADER_LEN: u32 = 32;

impl<'a> Linker<'a> {
    /// Moves input `i`'s records to the output sections (type ids before dedup).
    pub(crate) fn rebase_ext(&mut self, i: usize) -> Result<(), LinkError> {
        let input = &self.inputs[i];
        let (Some(ext), Some(btf)) = (&input.ext, &input.btf) else {
            return Ok(());
        };
        let map = &self.btf.type_maps[i];
        let bad = |e: corebpf_btf::BtfError| input.err(format!(".BTF.ext: {e}"));
        let place = |sec: &str| -> Result<(usize, u32), LinkError> {
            let s = input.elf.section_by_name(sec).ok_or_else(|| {
                input.err(format!(
                    ".BTF.ext refers to section '{sec}', which does not exist"
                ))
            })?;
            let (out, off) = self.placements[i][s.index].ok_or_else(|| {
                input.err(format!(
                    ".BTF.ext refers to section '{sec}', which is not linked"
                ))
            })?;
            let off = u32::try_from(off).map_err(|_| input.err("section past 4 GiB"))?;
            Ok((out, off))
        };
        let ty = |id: u32| map.get(id as usize).copied().unwrap_or(0);
        let mut func = Vec::new();
        for s in &ext.func_info {
            let (out, off) = place(&s.sec_name)?;
            for r in &s.records {
                func.push((
                    out,
                    FuncInfo {
                        insn_off: r.insn_off.wrapping_add(off),
                        type_id: ty(r.type_id),
                    },
                ));
            }
        }
        let mut line = Vec::new();
        for s in &ext.line_info {
            let (out, off) = place(&s.sec_name)?;
            for r in &s.records {
                let file = btf.str_bytes_at(r.file_name_off).map_err(bad)?;
                let text = btf.str_bytes_at(r.line_off).map_err(bad)?;
                line.push((
                    out,
                    LineInfo {
                        insn_off: r.insn_off.wrapping_add(off),
                        file_name_off: self.btf.strings.add(file),
                        line_off: self.btf.strings.add(text),
                        line_col: r.line_col,
                    },
                ));
            }
        }
        let mut core = Vec::new();
        for s in &ext.core_relo {
            let (out, off) = place(&s.sec_name)?;
            for r in &s.records {
                let access = btf.str_bytes_at(r.access_str_off).map_err(bad)?;
                core.push((
                    out,
                    CoreRelo {
                        insn_off: r.insn_off.wrapping_add(off),
                        type_id: ty(r.type_id),
                        access_str_off: self.btf.strings.add(access),
                        kind: r.kind,
                    },
                ));
            }
        }
        for (out, r) in func {
            self.sections[out].func_info.push(r);
        }
        for (out, r) in line {
            self.sections[out].line_info.push(r);
        }
        for (out, r) in core {
            self.sections[out].core_relo.push(r);
        }
        Ok(())
    }

    /// Adds the names of sections with records to the BTF strings (before it is encoded).
    pub(crate) fn intern_ext_section_names(&mut self) {
        for s in &self.sections {
            if !(s.func_info.is_empty() && s.line_info.is_empty() && s.core_relo.is_empty()) {
                self.btf.strings.add(s.name.as_bytes());
            }
        }
    }

    /// The encoded `.BTF.ext`, type ids through `dedup_map`; `None` without records.
    pub(crate) fn encode_ext(&mut self, dedup_map: &[u32]) -> Option<Vec<u8>> {
        let ty = |id: u32| dedup_map.get(id as usize).copied().unwrap_or(0);
        let mut func = Subsection::new(FUNC_INFO_SIZE);
        let mut line = Subsection::new(LINE_INFO_SIZE);
        let mut core = Subsection::new(CORE_RELO_SIZE);
        for s in &self.sections {
            if s.func_info.is_empty() && s.line_info.is_empty() && s.core_relo.is_empty() {
                continue;
            }
            let name = self.btf.strings.add(s.name.as_bytes());
            func.section(
                name,
                s.func_info.iter().map(|r| vec![r.insn_off, ty(r.type_id)]),
            );
            line.section(
                name,
                s.line_info
                    .iter()
                    .map(|r| vec![r.insn_off, r.file_name_off, r.line_off, r.line_col]),
            );
            core.section(
                name,
                s.core_relo
                    .iter()
                    .map(|r| vec![r.insn_off, ty(r.type_id), r.access_str_off, r.kind]),
            );
        }
        if func.empty && line.empty && core.empty {
            return None;
        }
        let (f, l, c) = (func.finish(), line.finish(), core.finish());
        let mut out = Vec::new();
        out.extend_from_slice(&corebpf_btf::BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        let (fl, ll, cl) = (f.len() as u32, l.len() as u32, c.len() as u32);
        for w in [EXT_HEADER_LEN, 0, fl, fl, ll, fl + ll, cl] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend(f);
        out.extend(l);
        out.extend(c);
        Some(out)
    }
}

/// One of func_info, line_info, core_relo: a record size, then per section its name,
/// record count and records.
struct Subsection {
    bytes: Vec<u8>,
    empty: bool,
}

impl Subsection {
    fn new(rec_size: u32) -> Subsection {
        Subsection {
            bytes: rec_size.to_le_bytes().to_vec(),
            empty: true,
        }
    }

    fn section(&mut self, name: u32, recs: impl ExactSizeIterator<Item = Vec<u32>>) {
        if recs.len() == 0 {
            return;
        }
        self.empty = false;
        self.bytes.extend_from_slice(&name.to_le_bytes());
        self.bytes
            .extend_from_slice(&(recs.len() as u32).to_le_bytes());
        for r in recs {
            for w in r {
                self.bytes.extend_from_slice(&w.to_le_bytes());
            }
        }
    }

    /// The bytes, or nothing when no section had records.
    fn finish(self) -> Vec<u8> {
        if self.empty {
            Vec::new()
        } else {
            self.bytes
        }
    }
}
