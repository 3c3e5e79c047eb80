//! USDT notes: the committed test binaries of testdata/usdt (gcc-built `<sys/sdt.h>` probes
//! in an executable and a shared library) decode into call sites whose file offsets hold
//! the probes' NOPs, and hostile notes in hand-built ELF files give typed errors naming
//! the note and probe.

use std::path::PathBuf;

use corebpf_obj::usdt::{
    ArgError, ArgLocation, ElfKind, UsdtError, UsdtFile, UsdtTarget, EM_X86_64,
};

fn usdt_out(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/usdt/out")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn one(file: &UsdtFile, provider: &str, name: &str) -> UsdtTarget {
    let t = file.targets(provider, name).unwrap();
    assert_eq!(t.len(), 1, "{provider}:{name} call sites");
    t.into_iter().next().unwrap()
}

#[test]
fn test_program_probes_resolve_to_nops_and_semaphores() {
    let bytes = usdt_out("usdt_prog");
    let file = UsdtFile::parse(&bytes).unwrap();
    assert_eq!(file.kind, ElfKind::Dyn); // PIE
    assert_eq!(file.machine, EM_X86_64);
    let names: Vec<String> = file.notes().iter().map(|n| n.probe()).collect();
    assert_eq!(
        names,
        ["corebpf:regs", "corebpf:mem", "corebpf:sib", "corebpf:sema"]
    );
    for n in file.notes() {
        let t = file.resolve(n).unwrap();
        // sys/sdt.h's probe point is a one-byte NOP.
        assert_eq!(bytes[t.file_offset as usize], 0x90, "{}", n.probe());
    }
    let regs = one(&file, "corebpf", "regs");
    assert_eq!(regs.args.len(), 9);
    assert!(regs
        .args
        .iter()
        .take(8)
        .all(|a| matches!(a.loc, ArgLocation::Reg(_))));
    let sizes: Vec<(u8, bool)> = regs.args.iter().map(|a| (a.size, a.signed)).collect();
    assert_eq!(
        sizes,
        [
            (1, true),
            (1, false),
            (2, true),
            (2, false),
            (4, true),
            (4, false),
            (8, true),
            (8, false),
            (4, true)
        ]
    );
    assert_eq!(regs.args[8].loc, ArgLocation::Const(-42));
    assert_eq!(regs.sema_offset, 0);
    let mem = one(&file, "corebpf", "mem");
    assert!(mem
        .args
        .iter()
        .all(|a| matches!(a.loc, ArgLocation::Deref { .. })));
    let sib = one(&file, "corebpf", "sib");
    assert!(sib
        .args
        .iter()
        .all(|a| matches!(a.loc, ArgLocation::Sib { scale: 8, .. })));
    let sema = one(&file, "corebpf", "sema");
    assert_ne!(sema.sema_offset, 0);
    assert_eq!(&bytes[sema.sema_offset as usize..][..2], [0, 0]);
    assert!(file.targets("corebpf", "nope").unwrap().is_empty());
}

#[test]
fn shared_library_probes_resolve() {
    let bytes = usdt_out("libcorebpf_usdt.so");
    let file = UsdtFile::parse(&bytes).unwrap();
    assert_eq!(file.kind, ElfKind::Dyn);
    let lib = one(&file, "corebpf_lib", "lib");
    assert_eq!(bytes[lib.file_offset as usize], 0x90);
    assert_eq!(lib.args.len(), 3);
    assert_eq!(lib.sema_offset, 0);
    let sema = one(&file, "corebpf_lib", "libsema");
    assert_ne!(sema.sema_offset, 0);
}

#[test]
fn a_binary_without_probes_is_no_notes() {
    let bpf = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/bpf/out/clang19/obj_maps.bpf.o");
    let e = UsdtFile::parse(&std::fs::read(bpf).unwrap()).unwrap_err();
    assert!(matches!(e, UsdtError::Elf(_)), "{e}"); // ET_REL
    assert!(matches!(
        UsdtFile::parse(b"not an elf"),
        Err(UsdtError::Elf(_))
    ));
    assert!(matches!(UsdtFile::parse(&[]), Err(UsdtError::Elf(_))));
}

/// A minimal ELF64 x86-64 ET_DYN: an executable PT_LOAD [0x1000, 0x2000) at file offset
/// 0x1000, a writable one [0x4000, 0x5000) at 0x3000, and sections `.note.stapsdt`
/// (`notes`, SHT_NOTE) and `.stapsdt.base` at `base`.
fn elf_with_notes(notes: &[u8], base: u64) -> Vec<u8> {
    let shstrtab = b"\0.note.stapsdt\0.stapsdt.base\0.shstrtab\0";
    let mut f = vec![0u8; 0x5000];
    let notes_off = 0x4000;
    f[notes_off..notes_off + notes.len()].copy_from_slice(notes);
    let strtab_off = notes_off + notes.len();
    f[strtab_off..strtab_off + shstrtab.len()].copy_from_slice(shstrtab);
    let shoff = (strtab_off + shstrtab.len()).next_multiple_of(8);
    f.resize(shoff + 4 * 64, 0);
    let w16 = |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let w32 = |f: &mut Vec<u8>, at: usize, v: u32| f[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let w64 = |f: &mut Vec<u8>, at: usize, v: u64| f[at..at + 8].copy_from_slice(&v.to_le_bytes());
    f[0..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // little-endian
    f[6] = 1;
    w16(&mut f, 16, 3); // ET_DYN
    w16(&mut f, 18, EM_X86_64);
    w32(&mut f, 20, 1);
    w64(&mut f, 32, 64); // e_phoff
    w64(&mut f, 40, shoff as u64);
    w16(&mut f, 52, 64);
    w16(&mut f, 54, 56);
    w16(&mut f, 56, 2); // e_phnum
    w16(&mut f, 58, 64);
    w16(&mut f, 60, 4); // e_shnum
    w16(&mut f, 62, 3); // e_shstrndx
    for (i, (flags, vaddr, off)) in [(5u32, 0x1000u64, 0x1000u64), (6, 0x4000, 0x3000)]
        .into_iter()
        .enumerate()
    {
        let p = 64 + i * 56;
        w32(&mut f, p, 1); // PT_LOAD
        w32(&mut f, p + 4, flags);
        w64(&mut f, p + 8, off);
        w64(&mut f, p + 16, vaddr);
        w64(&mut f, p + 32, 0x1000); // filesz
        w64(&mut f, p + 40, 0x1000); // memsz
    }
    let sections = [
        (1u32, 7u32, 0u64, notes_off, notes.len(), 4u64), // .note.stapsdt: SHT_NOTE
        (15, 1, base, 0x1800, 1, 1),                      // .stapsdt.base
        (29, 3, 0, strtab_off, shstrtab.len(), 1),        // .shstrtab
    ];
    for (i, (name, ty, addr, off, size, align)) in sections.into_iter().enumerate() {
        let s = shoff + (i + 1) * 64;
        w32(&mut f, s, name);
        w32(&mut f, s + 4, ty);
        w64(&mut f, s + 16, addr);
        w64(&mut f, s + 24, off as u64);
        w64(&mut f, s + 32, size as u64);
        w64(&mut f, s + 48, align);
    }
    f
}

/// A note with owner `name`, type `ty` and description `desc`, padded to 4.
fn note(name: &[u8], ty: u32, desc: &[u8]) -> Vec<u8> {
    let mut n = Vec::new();
    n.extend((name.len() as u32).to_le_bytes());
    n.extend((desc.len() as u32).to_le_bytes());
    n.extend(ty.to_le_bytes());
    n.extend(name);
    n.resize(n.len().next_multiple_of(4), 0);
    n.extend(desc);
    n.resize(n.len().next_multiple_of(4), 0);
    n
}

/// A USDT description: addresses, then the strings as given (NULs included by the caller).
fn desc(loc: u64, base: u64, sema: u64, strings: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend(loc.to_le_bytes());
    d.extend(base.to_le_bytes());
    d.extend(sema.to_le_bytes());
    d.extend(strings);
    d
}

fn stapsdt(loc: u64, base: u64, sema: u64, strings: &[u8]) -> Vec<u8> {
    note(b"stapsdt\0", 3, &desc(loc, base, sema, strings))
}

#[test]
fn prelink_base_and_segments_give_file_offsets() {
    // The note says base 0x1700 but .stapsdt.base now is at 0x1800: +0x100.
    let n = stapsdt(0x1010, 0x1700, 0x4010, b"p\0n\0-4@%edi 8@$3\0");
    let file = UsdtFile::parse(&elf_with_notes(&n, 0x1800)).unwrap();
    assert_eq!(file.base_addr, Some(0x1800));
    let t = one(&file, "p", "n");
    assert_eq!(t.addr, 0x1110);
    assert_eq!(t.file_offset, 0x1110);
    assert_eq!(t.sema_offset, 0x3010);
    assert_eq!(t.args_str, "-4@%edi 8@$3");
    // Without a base in the note, no adjustment.
    let n = stapsdt(0x1010, 0, 0, b"p\0n\0\0");
    let t = one(
        &UsdtFile::parse(&elf_with_notes(&n, 0x1800)).unwrap(),
        "p",
        "n",
    );
    assert_eq!((t.addr, t.args.len()), (0x1010, 0));
}

fn parse_err(notes: &[u8]) -> UsdtError {
    UsdtFile::parse(&elf_with_notes(notes, 0)).unwrap_err()
}

fn resolve_err(notes: &[u8]) -> UsdtError {
    let file = UsdtFile::parse(&elf_with_notes(notes, 0)).unwrap();
    file.resolve(&file.notes()[0]).unwrap_err()
}

fn assert_note_err(e: UsdtError, index: usize, probe: Option<&str>, reason: &str) {
    match &e {
        UsdtError::Note {
            note,
            probe: p,
            reason: r,
        } => {
            assert_eq!((*note, p.as_deref()), (index, probe), "{e}");
            assert!(r.contains(reason), "{e}");
        }
        _ => panic!("not a note error: {e}"),
    }
}

#[test]
fn malformed_notes_are_typed_errors() {
    let good = stapsdt(0x1010, 0, 0, b"p\0n\0\0");
    let with = |bad: Vec<u8>| [good.clone(), bad].concat();
    assert_note_err(
        parse_err(&with(note(b"GNU\0", 3, &[0; 32]))),
        1,
        None,
        "not a 'stapsdt' note",
    );
    assert_note_err(
        parse_err(&with(note(b"stapsdt\0", 4, &[0; 32]))),
        1,
        None,
        "note type 4",
    );
    assert_note_err(
        parse_err(&with(note(b"stapsdt\0", 3, &[0; 26]))),
        1,
        None,
        "shorter than 27",
    );
    let e = parse_err(&with(stapsdt(0, 0, 0, b"provider-without-nul")));
    assert_note_err(e, 1, None, "provider is not NUL-terminated");
    assert_note_err(
        parse_err(&with(stapsdt(0, 0, 0, b"p\0\0\0"))),
        1,
        None,
        "empty probe name",
    );
    let e = parse_err(&with(stapsdt(0, 0, 0, b"p\0name-without-nul")));
    assert_note_err(e, 1, None, "probe name is not NUL-terminated");
    assert_note_err(
        parse_err(&with(stapsdt(0, 0, 0, b"p\0n\0"))),
        1,
        Some("p:n"),
        "missing argument",
    );
    let e = parse_err(&with(stapsdt(0, 0, 0, b"p\0n\0-4@%eax")));
    assert_note_err(e, 1, Some("p:n"), "argument string is not NUL-terminated");
    // Sizes that run past the section, including ones near u32::MAX.
    let mut huge = good.clone();
    huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_note_err(parse_err(&huge), 0, None, "runs past the section");
    let mut huge = good.clone();
    huge[0..4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    assert_note_err(parse_err(&huge), 0, None, "runs past the section");
    assert_note_err(parse_err(&good[..8]), 0, None, "truncated note header");
}

#[test]
fn bad_locations_and_arguments_name_the_probe() {
    let e = resolve_err(&stapsdt(0x9000, 0, 0, b"p\0n\0\0"));
    assert!(
        matches!(&e, UsdtError::Location { probe, .. } if probe == "p:n"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("probe address 0x9000 is in no PT_LOAD segment"),
        "{e}"
    );
    // A probe in the data segment, a semaphore in the code segment.
    let e = resolve_err(&stapsdt(0x4010, 0, 0, b"p\0n\0\0"));
    assert!(e.to_string().contains("which is not executable"), "{e}");
    let e = resolve_err(&stapsdt(0x1010, 0, 0x1020, b"p\0n\0\0"));
    assert!(
        e.to_string().contains(
            "semaphore address 0x1020 is in segment [0x1000, 0x2000), which is executable"
        ),
        "{e}"
    );
    let e = resolve_err(&stapsdt(0x1010, 0, 0, b"p\0n\0-4@%edi 3@%eax\0"));
    match &e {
        UsdtError::Arg {
            note,
            probe,
            arg,
            spec,
            reason,
        } => {
            assert_eq!(
                (*note, probe.as_str(), *arg, spec.as_str()),
                (0, "p:n", 1, "3@%eax")
            );
            assert_eq!(*reason, ArgError::BadSize(3));
        }
        _ => panic!("{e}"),
    }
    assert_eq!(
        e.to_string(),
        "USDT probe 'p:n' (note #0): arg #1 '3@%eax': unsupported argument size 3 (expected 1, 2, 4 or 8, negative when signed)"
    );
    let e = resolve_err(&stapsdt(0x1010, 0, 0, b"p\0n\08@%rax 8@%rax 8@%rax 8@%rax 8@%rax 8@%rax 8@%rax 8@%rax 8@%rax 8@%rax 8@%rax 8@%rax 8@%rax\0"));
    assert!(
        matches!(&e, UsdtError::TooManyArgs { probe, .. } if probe == "p:n"),
        "{e}"
    );
    let e = resolve_err(&stapsdt(0x1010, 0, 0, b"p\0n\08@%foo\0"));
    assert!(
        e.to_string().contains("unrecognized register '%foo'"),
        "{e}"
    );
}

#[test]
fn a_file_offset_past_u64_is_an_error() {
    // Found by fuzzing: a segment whose p_offset + (addr - p_vaddr) overflows.
    let n = stapsdt(0x1010, 0, 0, b"p\0n\0\0");
    let mut f = elf_with_notes(&n, 0);
    f[64 + 8..64 + 16].copy_from_slice(&u64::MAX.to_le_bytes()); // first PT_LOAD's p_offset
    let file = UsdtFile::parse(&f).unwrap();
    let e = file.resolve(&file.notes()[0]).unwrap_err();
    assert!(e.to_string().contains("its file offset overflows"), "{e}");
}
