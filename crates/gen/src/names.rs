//! Rust identifiers from C names: keywords escaped (`r#type`), other characters replaced,
//! and per-namespace uniqueness with a stable suffix.

use std::collections::HashSet;

/// Rust keywords (2021 edition, strict and reserved) a C name may spell.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "union", "unsafe", "unsized",
    "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers; they get a trailing `_` instead.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// `name` as an identifier: characters outside `[A-Za-z0-9_]` become `_`, a leading digit
/// gets a `_` in front, an empty name becomes `_anon`. Not escaped (see [`escape`]).
pub(crate) fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() {
        s.push_str("_anon");
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// `ident` written so that Rust reads it as an identifier: `r#type`, `self_`.
pub(crate) fn escape(ident: &str) -> String {
    if NOT_RAW.contains(&ident) {
        format!("{ident}_")
    } else if KEYWORDS.contains(&ident) {
        format!("r#{ident}")
    } else {
        ident.to_string()
    }
}

/// `snake_case` or `kebab.name` → `CamelCase` (for the skeleton's type names).
pub(crate) fn camel(name: &str) -> String {
    sanitize(name)
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// One namespace of identifiers (a module's types, a struct's fields, an impl's methods).
#[derive(Default)]
pub(crate) struct Namespace {
    used: HashSet<String>,
}

impl Namespace {
    /// A namespace where `reserved` are taken.
    pub(crate) fn with_reserved(reserved: &[&str]) -> Namespace {
        Namespace {
            used: reserved.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Whether `name` (sanitized) is taken.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.used.contains(&sanitize(name))
    }

    /// Takes a getter and setter pair, `name` and `set_name` (or `name_2` and `set_name_2`,
    /// …), both free.
    pub(crate) fn take_pair(&mut self, name: &str) -> (String, String) {
        let base = sanitize(name);
        let mut n = 1;
        loop {
            let (get, set) = match n {
                1 => (base.clone(), format!("set_{base}")),
                n => (format!("{base}_{n}"), format!("set_{base}_{n}")),
            };
            if !self.contains(&get) && !self.contains(&set) {
                return (self.take(&get), self.take(&set));
            }
            n += 1;
        }
    }

    /// Takes `name` (sanitized) or, if taken, `name_2`, `name_3`, …; returns the identifier,
    /// escaped.
    pub(crate) fn take(&mut self, name: &str) -> String {
        let base = sanitize(name);
        let mut candidate = base.clone();
        let mut n = 2;
        while !self.used.insert(candidate.clone()) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        escape(&candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_clashes() {
        assert_eq!(escape("type"), "r#type");
        assert_eq!(escape("self"), "self_");
        assert_eq!(escape("pid"), "pid");
        assert_eq!(sanitize("foo.bar"), "foo_bar");
        assert_eq!(sanitize("1x"), "_1x");
        assert_eq!(camel("obj_globals"), "ObjGlobals");
        let mut ns = Namespace::with_reserved(&["Bytes"]);
        assert_eq!(ns.take("Bytes"), "Bytes_2");
        assert_eq!(ns.take("type"), "r#type");
        assert_eq!(ns.take("type"), "type_2");
    }
}
