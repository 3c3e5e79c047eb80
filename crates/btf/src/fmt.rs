//! Types printed as libbpf prints them in its logs: `struct pt_regs`, `[22] struct pt_regs`,
//! `int`, `enum <anon>`.

use crate::types::Type;

/// Displays `<kind> <name>` as libbpf's CO-RE log does (`btf_kind_str` then the name, or
/// `<anon>` for an anonymous type).
#[derive(Clone, Copy)]
pub struct KindName<'a>(pub Type<'a>);

impl std::fmt::Display for KindName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.0;
        if t.id() == 0 {
            return f.write_str("void");
        }
        let name = t.name();
        let name = if name.is_empty() { "<anon>" } else { name };
        if t.is_unknown_kind() {
            // libbpf's `btf_kind_str` says "unknown" for kinds it does not know.
            return write!(f, "unknown kind {} {}", t.raw_kind(), name);
        }
        write!(f, "{} {}", t.kind(), name)
    }
}

/// Displays `[<id>] <kind> <name>`, the form of libbpf's `CO-RE relocating` lines.
#[derive(Clone, Copy)]
pub struct IdKindName<'a>(pub Type<'a>);

impl std::fmt::Display for IdKindName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.0.id(), KindName(self.0))
    }
}

impl<'a> Type<'a> {
    /// `[<id>] <kind> <name>`, e.g. `[22] struct pt_regs`.
    pub fn with_id(&self) -> IdKindName<'a> {
        IdKindName(*self)
    }
}

/// `<kind> <name>`, e.g. `struct pt_regs` or `enum <anon>`.
impl std::fmt::Display for Type<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        KindName(*self).fmt(f)
    }
}
