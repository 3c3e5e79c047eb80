//! A minimal writer for the `newc` cpio format, the one the kernel unpacks as an initramfs.
//!
//! Entries are collected in a map keyed by guest path, so a later insert replaces an earlier
//! one (used to put the real `ip` over busybox's applet link), and parent directories are
//! created implicitly. Output is deterministic: sorted paths, mtime 0, fixed inode numbers.

use std::collections::BTreeMap;
use std::io::{self, Write};

/// One entry of the archive.
enum Entry {
    Dir,
    File { data: Vec<u8>, mode: u32 },
    Symlink(String),
}

/// An initramfs under construction.
#[derive(Default)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
}

impl Archive {
    /// Creates an empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory (and its parents).
    pub fn dir(&mut self, path: &str) {
        let path = normalize(path);
        if path.is_empty() {
            return;
        }
        self.parents(&path);
        self.entries.entry(path).or_insert(Entry::Dir);
    }

    /// Adds a regular file with permission bits `mode` (e.g. `0o755`).
    pub fn file(&mut self, path: &str, data: Vec<u8>, mode: u32) {
        let path = normalize(path);
        self.parents(&path);
        self.entries.insert(path, Entry::File { data, mode });
    }

    /// Adds a symbolic link at `path` pointing to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) {
        let path = normalize(path);
        self.parents(&path);
        self.entries
            .insert(path, Entry::Symlink(target.to_string()));
    }

    /// Whether `path` is already in the archive.
    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(&normalize(path))
    }

    fn parents(&mut self, path: &str) {
        let mut acc = String::new();
        let comps: Vec<&str> = path.split('/').collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(c);
            self.entries.entry(acc.clone()).or_insert(Entry::Dir);
        }
    }

    /// Writes the archive in `newc` format, trailer included.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut off = 0usize;
        // BTreeMap order puts "a" before "a/b", so parents always precede children.
        for (ino, (path, entry)) in self.entries.iter().enumerate() {
            let (mode, data): (u32, &[u8]) = match entry {
                Entry::Dir => (0o040_755, &[]),
                Entry::File { data, mode } => (0o100_000 | mode, data),
                Entry::Symlink(t) => (0o120_777, t.as_bytes()),
            };
            let nlink = if matches!(entry, Entry::Dir) { 2 } else { 1 };
            off += write_entry(out, path, ino as u32 + 1, mode, nlink, data, off)?;
        }
        write_entry(out, "TRAILER!!!", 0, 0, 1, &[], off)?;
        Ok(())
    }
}

fn normalize(path: &str) -> String {
    path.trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

/// Writes one header+name+data record, padding to 4 bytes, and returns the bytes written.
fn write_entry(
    out: &mut impl Write,
    name: &str,
    ino: u32,
    mode: u32,
    nlink: u32,
    data: &[u8],
    off: usize,
) -> io::Result<usize> {
    let namesize = name.len() + 1;
    let header = format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
        0, 0, 0, data.len(), 0, 0, 0, 0, 0
    );
    let mut n = 0;
    out.write_all(header.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    n += header.len() + namesize;
    let pad = (4 - (off + n) % 4) % 4;
    out.write_all(&[0; 3][..pad])?;
    n += pad;
    out.write_all(data)?;
    n += data.len();
    let pad = (4 - (off + n) % 4) % 4;
    out.write_all(&[0; 3][..pad])?;
    Ok(n + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_layout() {
        let mut a = Archive::new();
        a.file("/bin/x", b"hello".to_vec(), 0o755);
        a.symlink("/bin/sh", "x");
        let mut out = Vec::new();
        a.write_to(&mut out).unwrap();
        assert_eq!(out.len() % 4, 0);
        let s = String::from_utf8_lossy(&out);
        assert!(s.starts_with("070701"));
        // "bin" directory is created implicitly and comes first.
        assert_eq!(&out[110..114], b"bin\0");
        assert!(s.contains("TRAILER!!!"));
        assert!(s.contains("hello"));
    }
}
