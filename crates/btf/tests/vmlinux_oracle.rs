//! The running kernel's BTF, checked type by type against `bpftool btf dump file` (the
//! oracle: a different implementation, libbpf's, reading the same bytes).
//!
//! Needs `/sys/kernel/btf/vmlinux` and `bpftool` (CI installs it); fails loudly without them.

use std::process::Command;

use corebpf_btf::{Btf, Kind};

fn bpftool_dump(path: &str) -> String {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file", path])
        .output()
        .expect("bpftool must be installed (apt-get install bpftool) for the BTF oracle tests");
    assert!(
        out.status.success(),
        "bpftool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("bpftool output is UTF-8")
}

/// bpftool's upper-case kind names.
fn bpftool_kind(k: Kind) -> &'static str {
    match k {
        Kind::Void => "VOID",
        Kind::Int => "INT",
        Kind::Ptr => "PTR",
        Kind::Array => "ARRAY",
        Kind::Struct => "STRUCT",
        Kind::Union => "UNION",
        Kind::Enum => "ENUM",
        Kind::Fwd => "FWD",
        Kind::Typedef => "TYPEDEF",
        Kind::Volatile => "VOLATILE",
        Kind::Const => "CONST",
        Kind::Restrict => "RESTRICT",
        Kind::Func => "FUNC",
        Kind::FuncProto => "FUNC_PROTO",
        Kind::Var => "VAR",
        Kind::Datasec => "DATASEC",
        Kind::Float => "FLOAT",
        Kind::DeclTag => "DECL_TAG",
        Kind::TypeTag => "TYPE_TAG",
        Kind::Enum64 => "ENUM64",
    }
}

/// The value of `key=` in a bpftool line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!(" {key}=");
    let start = line.find(&pat)? + pat.len();
    line[start..]
        .split_whitespace()
        .next()
        .map(|v| v.trim_end_matches(','))
}

/// Compares every type header and every struct/union member line of bpftool's dump with
/// what corebpf decodes. Returns how many types were compared.
fn compare_with_bpftool(btf: &Btf, path: &str) -> usize {
    let dump = bpftool_dump(path);
    let mut compared = 0;
    let mut current: Option<(u32, Vec<String>)> = None;
    let check_members = |id: u32, lines: &[String]| {
        let t = btf.type_by_id(id).unwrap();
        if !t.is_composite() {
            return;
        }
        let members: Vec<_> = t.members().collect();
        assert_eq!(members.len(), lines.len(), "[{id}] member count");
        for (m, line) in members.iter().zip(lines) {
            let name = line.trim().split('\'').nth(1).unwrap();
            let name = if name == "(anon)" { "" } else { name };
            assert_eq!(m.name(), name, "[{id}] member name in {line}");
            assert_eq!(
                field(line, "type_id").unwrap(),
                m.type_id.to_string(),
                "[{id}] {line}"
            );
            assert_eq!(
                field(line, "bits_offset").unwrap(),
                m.bit_offset.to_string(),
                "[{id}] {line}"
            );
            let bf = field(line, "bitfield_size").map_or(0, |v| v.parse().unwrap());
            assert_eq!(bf, m.bitfield_size, "[{id}] {line}");
        }
    };
    for line in dump.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            if let Some((id, lines)) = current.take() {
                check_members(id, &lines);
            }
            let (id, rest) = rest.split_once("] ").unwrap();
            let id: u32 = id.parse().unwrap();
            let (kind, rest) = rest.split_once(' ').unwrap();
            let name = rest.split('\'').nth(1).unwrap();
            let t = btf.type_by_id(id).unwrap_or_else(|e| panic!("[{id}]: {e}"));
            assert_eq!(bpftool_kind(t.kind()), kind, "[{id}] kind");
            let ours = if t.name().is_empty() {
                "(anon)"
            } else {
                t.name()
            };
            assert_eq!(ours, name, "[{id}] name");
            if let Some(size) = field(line, "size") {
                assert_eq!(size, t.size().to_string(), "[{id}] size");
            }
            if let Some(vlen) = field(line, "vlen") {
                assert_eq!(vlen, t.vlen().to_string(), "[{id}] vlen");
            }
            if matches!(
                t.kind(),
                Kind::Ptr
                    | Kind::Typedef
                    | Kind::Const
                    | Kind::Volatile
                    | Kind::Restrict
                    | Kind::Func
                    | Kind::Var
                    | Kind::TypeTag
            ) {
                assert_eq!(
                    field(line, "type_id").unwrap(),
                    t.type_id().unwrap().to_string(),
                    "[{id}] type_id"
                );
            }
            if let Some(a) = t.array() {
                assert_eq!(field(line, "type_id").unwrap(), a.elem_type.to_string());
                assert_eq!(
                    field(line, "index_type_id").unwrap(),
                    a.index_type.to_string()
                );
                assert_eq!(field(line, "nr_elems").unwrap(), a.nelems.to_string());
            }
            if t.kind() == Kind::Int {
                assert_eq!(field(line, "nr_bits").unwrap(), t.int_bits().to_string());
            }
            if t.kind() == Kind::Fwd {
                let fk = field(line, "fwd_kind").unwrap();
                assert_eq!(fk == "union", t.fwd_is_union(), "[{id}] fwd kind");
            }
            compared += 1;
            current = Some((id, Vec::new()));
        } else if line.starts_with('\t') {
            if let Some((_, lines)) = current.as_mut() {
                lines.push(line.to_string());
            }
        }
    }
    if let Some((id, lines)) = current.take() {
        check_members(id, &lines);
    }
    compared
}

#[test]
fn vmlinux_matches_bpftool_type_by_type() {
    let btf = Btf::from_sys_fs().expect("/sys/kernel/btf/vmlinux must parse");
    assert_eq!(btf.name(), "vmlinux");
    let compared = compare_with_bpftool(&btf, "/sys/kernel/btf/vmlinux");
    assert_eq!(compared as u32, btf.type_count() - 1, "every type compared");
    assert!(compared > 10_000, "vmlinux has many types, got {compared}");
}

#[test]
fn vmlinux_passes_the_full_validation() {
    let btf = Btf::from_sys_fs().unwrap();
    btf.validate().expect("kernel BTF is valid");
    // The same bytes through the untrusted path give the same types.
    let full = Btf::parse(btf.raw_bytes()).unwrap();
    assert_eq!(full.type_count(), btf.type_count());
}

#[test]
fn vmlinux_name_lookups_agree_with_a_linear_scan() {
    let btf = Btf::from_sys_fs().unwrap();
    let mut checked = 0;
    for t in btf.types().step_by(97) {
        if t.name().is_empty() {
            continue;
        }
        // The first type of that name and kind, by brute force (libbpf's own semantics).
        let first = btf
            .types()
            .find(|u| u.kind() == t.kind() && u.name() == t.name())
            .unwrap()
            .id();
        assert_eq!(
            btf.find_by_name_kind(t.name(), t.kind()),
            Some(first),
            "{t:?}"
        );
        assert!(btf.find_by_name(t.name()).any(|id| id == t.id()), "{t:?}");
        checked += 1;
    }
    assert!(checked > 500);
    for (name, kind) in [
        ("task_struct", Kind::Struct),
        ("pt_regs", Kind::Struct),
        ("sk_buff", Kind::Struct),
        ("bpf_prog_type", Kind::Enum),
        ("u32", Kind::Typedef),
        ("int", Kind::Int),
        ("schedule", Kind::Func),
    ] {
        let id = btf
            .find_by_name_kind(name, kind)
            .unwrap_or_else(|| panic!("{name}"));
        let t = btf.type_by_id(id).unwrap();
        assert_eq!((t.name(), t.kind()), (name, kind));
    }
    assert_eq!(
        btf.find_by_name_kind("no_such_type_anywhere", Kind::Struct),
        None
    );
}

#[test]
fn vmlinux_sizes_match_well_known_layouts() {
    let btf = Btf::from_sys_fs().unwrap();
    let list_head = btf.find_by_name_kind("list_head", Kind::Struct).unwrap();
    assert_eq!(btf.size_of(list_head).unwrap(), 16);
    assert_eq!(btf.align_of(list_head).unwrap(), 8);
    let u8_ = btf.find_by_name_kind("u8", Kind::Typedef).unwrap();
    assert_eq!(btf.size_of(u8_).unwrap(), 1);
    assert_eq!(btf.pointer_size(), 8);
    let pt_regs = btf.find_by_name_kind("pt_regs", Kind::Struct).unwrap();
    let t = btf.type_by_id(pt_regs).unwrap();
    let di = t.members().find(|m| m.name() == "di").unwrap();
    // x86-64 pt_regs: r15..r8 (8), bp, bx... di is member 14 at byte 112.
    assert_eq!((di.index, di.bit_offset / 8), (14, 112));
    assert_eq!(
        format!("{}", t.with_id()),
        format!("[{pt_regs}] struct pt_regs")
    );
}

#[test]
fn every_module_btf_on_this_machine_parses_as_split_btf() {
    let vmlinux = std::sync::Arc::new(Btf::from_sys_fs().unwrap());
    let modules = Btf::sys_fs_modules().unwrap();
    for m in &modules {
        let btf =
            Btf::from_sys_fs_module(m, vmlinux.clone()).unwrap_or_else(|e| panic!("{m}: {e}"));
        assert_eq!(btf.start_id(), vmlinux.type_count());
        btf.validate().unwrap();
        let path = format!("/sys/kernel/btf/{m}");
        let out = Command::new("bpftool")
            .args([
                "btf",
                "dump",
                "file",
                &path,
                "base",
                "/sys/kernel/btf/vmlinux",
            ])
            .output()
            .unwrap();
        let last = String::from_utf8_lossy(&out.stdout)
            .lines()
            .rfind(|l| l.starts_with('['))
            .map(|l| l[1..l.find(']').unwrap()].parse::<u32>().unwrap());
        assert_eq!(last, Some(btf.type_count() - 1), "{m}: last id");
    }
    eprintln!("module BTF parsed: {} ({:?})", modules.len(), modules);
}
