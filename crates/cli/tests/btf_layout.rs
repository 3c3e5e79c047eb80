//! BTF with a layout section (a 32-byte header, as pahole 1.31+ writes for Linux 7.1+) on
//! the command line: `relocate --btf` takes it (it used to fail with `bad header: unknown
//! non-zero header fields`), `btf dump --summary` shows the layout and counts the types of
//! kinds corebpf does not know.

mod common;

use common::{corebpf, gunzip_btf, obj, TempDir};
use corebpf::btf::{Btf, BtfBuilder, KindLayout, INT_SIGNED};

#[test]
fn relocate_takes_a_7_2_kernel_btf_with_a_layout_section() {
    let dir = TempDir::new("btf-layout");
    let plain = gunzip_btf("7.2", dir.path());
    let btf = Btf::parse(&std::fs::read(&plain).unwrap()).unwrap();
    let mut b = BtfBuilder::from_btf(&btf).unwrap();
    b.set_layout(Some(KindLayout::known()));
    let layout = dir.path().join("7.2-layout.btf");
    std::fs::write(&layout, b.build()).unwrap();
    let layout = layout.to_string_lossy().to_string();
    let r = corebpf(&[
        "relocate",
        &obj("core_tracing.bpf.o"),
        "--btf",
        &plain,
        "--btf",
        &layout,
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for v in ["7.2.btf", "7.2-layout.btf"] {
        let s = format!("{v}: 40 relocations: 37 patched, 3 poisoned, 0 failed: relocates");
        assert!(r.stdout.contains(&s), "{s} in\n{}", r.stdout);
    }
    // Both columns are the same: the layout changes nothing in how the types read. A row
    // is SEC RELO FUNCTION INSN, a cell per BTF, then the spec (`<kind> [id] ...`).
    let mut rows = 0;
    for line in r
        .stdout
        .lines()
        .filter(|l| l.contains(" <") && l.contains("] "))
    {
        let words: Vec<&str> = line[..line.find(" <").unwrap()]
            .split_whitespace()
            .collect();
        let cells = &words[words.len() - 2..];
        assert_eq!(cells[0], cells[1], "{line}");
        rows += 1;
    }
    assert!(rows >= 40, "{rows} rows in\n{}", r.stdout);
    let r = corebpf(&["btf", "dump", &layout, "--summary"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("\nlayout section: 20 kinds\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn the_summary_counts_types_of_unknown_kinds() {
    let dir = TempDir::new("btf-layout-unknown");
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    b.add_raw(0, 25 << 24 | 1, 0, &[int, 7]);
    b.add_ptr(2);
    let mut layout = KindLayout::known();
    layout.resize(26, KindLayout::default());
    layout[25].elem_sz = 8;
    b.set_layout(Some(layout));
    let path = dir.path().join("unknown.btf");
    std::fs::write(&path, b.build()).unwrap();
    let r = corebpf(&["btf", "dump", &path.to_string_lossy(), "--summary"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("\nlayout section: 26 kinds\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n  UNKNOWN_25 1\n"), "{}", r.stdout);
    assert!(r.stdout.contains("\ntypes: 3\n"), "{}", r.stdout);
    // The C header declares it as an opaque placeholder.
    let r = corebpf(&["btf", "dump", &path.to_string_lossy(), "--format", "c"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("struct __btf_unknown_kind25_id2 {};"),
        "{}",
        r.stdout
    );
}
