//! The make-style dependency file clang writes with `-MD -MF`: every file a compilation
//! read, which `build.rs` hands to cargo as `rerun-if-changed`.

use std::path::PathBuf;

/// The prerequisites of the (single) rule in depfile `text`: `out.o: a.c b.h \`
/// continued lines, spaces in names escaped as `\ `.
pub fn prerequisites(text: &str) -> Vec<PathBuf> {
    let joined = text.replace("\\\n", " ");
    let Some((_, deps)) = split_rule(&joined) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push(' ');
                chars.next();
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut cur)));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(PathBuf::from(cur));
    }
    out
}

/// `target: deps` split at the first `:` that is not part of a Windows-style drive or an
/// escaped name (BPF builds run on Linux: the first `": "` or trailing `:` ends the target).
fn split_rule(text: &str) -> Option<(&str, &str)> {
    let i = text
        .find(": ")
        .or_else(|| text.trim_end().strip_suffix(':').map(str::len))?;
    Some((&text[..i], text.get(i + 1..).unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continued_lines_and_escaped_spaces() {
        let d = "out.o: src/a.bpf.c /usr/include/linux/bpf.h \\\n  my\\ dir/x.h \\\n  vmlinux.h\n";
        let p = prerequisites(d);
        assert_eq!(
            p,
            [
                "src/a.bpf.c",
                "/usr/include/linux/bpf.h",
                "my dir/x.h",
                "vmlinux.h"
            ]
            .map(PathBuf::from)
        );
        assert!(prerequisites("garbage").is_empty());
        assert!(prerequisites("out.o:").is_empty());
    }
}
