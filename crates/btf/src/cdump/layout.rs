//! Layout questions the emitter asks: alignment (libbpf's `btf__align_of`, memoized),
//! size (`btf__resolve_size`), packedness, and the explicit padding that makes a compiler
//! put each member at its BTF offset.

use super::CDumper;
use crate::raw::Kind;
use crate::Result;

/// Memo marker: alignment of this type is being computed (a cycle if seen again).
const COMPUTING: u8 = 0xff;

impl CDumper<'_> {
    /// Alignment of type `id` in bytes as libbpf computes it: scalars align to their size
    /// capped at the pointer size, a struct to its largest member unless its layout shows
    /// it was packed (then 1). 0 means no alignment (void, functions, cycles).
    pub(super) fn align_of(&mut self, id: u32) -> u32 {
        match self.align.get(id as usize).copied() {
            None | Some(COMPUTING) => return 0,
            Some(0) => {}
            Some(v) => return (v - 1) as u32,
        }
        // Its own depth count, so the answer never depends on where it is asked from.
        if self.align_depth > super::MAX_DEPTH {
            return 0;
        }
        self.align[id as usize] = COMPUTING;
        self.align_depth += 1;
        let t = self.ty(id);
        let a = match t.kind() {
            Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Float => self.ptr_sz.min(t.size()),
            Kind::Ptr => self.ptr_sz,
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                self.align_of(t.type_id().unwrap_or(0))
            }
            Kind::Array => self.align_of(t.array().map_or(0, |a| a.elem_type)),
            Kind::Struct | Kind::Union => {
                let mut max = 1;
                let mut packed = false;
                let mut bad = false;
                for m in t.members() {
                    let a = self.align_of(m.type_id);
                    if a == 0 {
                        bad = true;
                        break;
                    }
                    max = max.max(a);
                    // A member its type's alignment does not allow here: packed.
                    if m.bitfield_size == 0 && m.bit_offset as u64 % (8 * a as u64) != 0 {
                        packed = true;
                        break;
                    }
                }
                if bad {
                    0
                } else if packed || t.size() % max != 0 {
                    1
                } else {
                    max
                }
            }
            // The empty placeholder struct of a type of unknown kind.
            _ if t.is_unknown_kind() => 1,
            _ => 0,
        };
        self.align_depth -= 1;
        // Alignments are at most the pointer size (8), so they fit the memo byte.
        self.align[id as usize] = a.min(0xfd) as u8 + 1;
        a
    }

    /// Size of type `id` in bytes (libbpf's `btf__resolve_size`), `None` if it has none.
    pub(super) fn resolve_size(&self, id: u32) -> Option<u64> {
        self.btf.size_of(id).ok().map(u64::from)
    }

    /// Whether a struct's layout is only reachable with `__attribute__((packed))`: some
    /// non-bitfield member is misaligned for its type, or the size is not a multiple of
    /// the largest member alignment.
    pub(super) fn is_struct_packed(&mut self, id: u32) -> bool {
        let t = self.ty(id);
        let mut max_align = 1;
        for m in t.members() {
            let align = self.align_of(m.type_id);
            if align != 0 && m.bitfield_size == 0 && m.bit_offset as u64 % (8 * align as u64) != 0 {
                return true;
            }
            max_align = max_align.max(align);
        }
        t.size() % max_align != 0
    }

    /// Prints anonymous bitfields that move the next member from bit `cur_off` to bit
    /// `next_off` (libbpf's `btf_dump_emit_bit_padding`): the largest of `long`, `int`,
    /// `short`, `char` whose natural alignment lands on a boundary at or before
    /// `next_off`, then full-width pads, then one smaller pad for the rest.
    pub(super) fn emit_bit_padding(
        &mut self,
        cur_off: u64,
        next_off: u64,
        next_align: u32,
        in_bitfield: bool,
        lvl: u32,
    ) -> Result<()> {
        if cur_off >= next_off {
            return Ok(());
        }
        let pads: [(&[u8], u64); 4] = [
            (b"long", self.ptr_sz as u64 * 8),
            (b"int", 32),
            (b"short", 16),
            (b"char", 8),
        ];
        let mut cur = cur_off;
        let (mut pad_type, mut pad_bits) = pads[3];
        let mut new_off = 0;
        for &(name, bits) in &pads {
            (pad_type, pad_bits) = (name, bits);
            new_off = roundup(cur, bits);
            if new_off <= next_off {
                break;
            }
        }
        if new_off > cur && new_off <= next_off {
            // An explicit `<type>: 0` is needed when the next member's own alignment would
            // not land on new_off, or when a `<type>: X` would fit the hole and be ignored.
            let align_bits = (next_align as u64).max(1) * 8;
            if in_bitfield
                || (new_off == next_off && roundup(cur, align_bits) != new_off)
                || (new_off != next_off && next_off - new_off <= new_off - cur)
            {
                self.w(b"\n");
                self.pfx(lvl);
                self.w(pad_type);
                self.w(b": ");
                self.num(if in_bitfield { new_off - cur } else { 0 });
                self.w(b";");
            }
            cur = new_off;
        }
        // Whole `<type>: <bits>;` lines, then one for the remainder in the smallest type
        // that holds it. A hole of gigabytes prints millions of equal lines, so the line is
        // formatted once and repeated, and its steps are charged together.
        let gap = next_off - cur;
        self.emit_pad_lines(pad_type, pad_bits, gap / pad_bits, lvl)?;
        let rem = gap % pad_bits;
        if rem != 0 {
            if let Some(&(name, _)) = pads.iter().rev().find(|&&(_, b)| b >= rem) {
                self.emit_pad_lines(name, rem, 1, lvl)?;
            }
        }
        Ok(())
    }

    /// `count` lines of `\n<tabs><pad_type>: <bits>;`, charged as `count` steps.
    fn emit_pad_lines(&mut self, pad_type: &[u8], bits: u64, count: u64, lvl: u32) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        self.charge_many(count)?;
        let start = self.out.len();
        self.w(b"\n");
        self.pfx(lvl);
        self.w(pad_type);
        self.w(b": ");
        self.num(bits);
        self.w(b";");
        let line = self.out.len() - start;
        if (count as usize).saturating_mul(line) > self.out_limit.saturating_sub(start) {
            return Err(super::too_large());
        }
        for _ in 1..count {
            self.out.extend_from_within(start..start + line);
        }
        Ok(())
    }
}

fn roundup(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}
