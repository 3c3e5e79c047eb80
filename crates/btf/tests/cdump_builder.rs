//! The C header dump on hand-built BTF: exact expected text for each construct, and
//! typed errors (never a hang or a crash) on hostile type graphs.

mod cdump_util;

use corebpf_btf::cdump::{self, CDumper, DumpOptions};
use corebpf_btf::{Btf, BtfBuilder, BtfError, Kind, MemberSpec, INT_BOOL, INT_CHAR, INT_SIGNED};

fn types_only() -> DumpOptions {
    DumpOptions {
        header: false,
        kfunc_prototypes: false,
        sorted: false,
    }
}

/// The types of `b` as C; where clang is installed, also checks that the text compiles and
/// reproduces every struct's, union's and enum's size and member offsets.
fn dump(b: &BtfBuilder) -> String {
    let btf = Btf::from_vec(b.build()).expect("valid BTF");
    let text = cdump::to_c_header_with(&btf, &types_only()).expect("dump");
    let caller = std::thread::current()
        .name()
        .unwrap_or("case")
        .replace(':', "_");
    cdump_util::check_layouts_if_clang(&btf, &caller);
    text
}

fn dump_err(b: &BtfBuilder) -> BtfError {
    let btf = Btf::from_vec(b.build()).expect("valid BTF");
    cdump::to_c_header_with(&btf, &types_only()).expect_err("dump must fail")
}

fn m(name: &str, ty: u32, byte_off: u32) -> MemberSpec {
    MemberSpec::new(name, ty, byte_off)
}

#[test]
fn pointer_cycle_gets_forward_declaration() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    // ids: a = 2, ptr to b = 3, b = 4, ptr to a = 5
    let a = b.next_id();
    let pb = a + 1;
    let sb = a + 2;
    let pa = a + 3;
    assert_eq!(b.add_struct("a", 16, &[m("b", pb, 0), m("x", int, 8)]), a);
    assert_eq!(b.add_ptr(sb), pb);
    assert_eq!(b.add_struct("b", 8, &[m("a", pa, 0)]), sb);
    assert_eq!(b.add_ptr(a), pa);
    assert_eq!(
        dump(&b),
        "struct b;\n\
         \n\
         struct a {\n\
         \tstruct b *b;\n\
         \tint x;\n\
         };\n\
         \n\
         struct b {\n\
         \tstruct a *a;\n\
         };\n\n"
    );
}

#[test]
fn self_referencing_struct_needs_no_forward_declaration() {
    let mut b = BtfBuilder::new();
    let node = b.next_id();
    b.add_struct(
        "list_head",
        16,
        &[m("next", node + 1, 0), m("prev", node + 1, 8)],
    );
    b.add_ptr(node);
    assert_eq!(
        dump(&b),
        "struct list_head {\n\tstruct list_head *next;\n\tstruct list_head *prev;\n};\n\n"
    );
}

#[test]
fn embedded_struct_is_defined_first() {
    let mut b = BtfBuilder::new();
    let outer = b.next_id();
    b.add_struct("outer", 4, &[m("in", outer + 1, 0)]);
    let int = outer + 2;
    b.add_struct("inner", 4, &[m("v", int, 0)]);
    b.add_int("int", 4, INT_SIGNED);
    assert_eq!(
        dump(&b),
        "struct inner {\n\tint v;\n};\n\nstruct outer {\n\tstruct inner in;\n};\n\n"
    );
}

#[test]
fn anonymous_nested_unions_and_structs_are_inline() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let ch = b.add_int("char", 1, INT_CHAR);
    let short = b.add_int("short", 2, INT_SIGNED);
    let u = b.add_union("", 4, &[m("a", int, 0), m("b", ch, 0)]);
    let s = b.add_struct("", 4, &[m("c", short, 0), m("d", short, 2)]);
    b.add_struct("outer", 12, &[m("x", int, 0), m("", u, 4), m("in", s, 8)]);
    assert_eq!(
        dump(&b),
        "struct outer {\n\
         \tint x;\n\
         \tunion {\n\
         \t\tint a;\n\
         \t\tchar b;\n\
         \t};\n\
         \tstruct {\n\
         \t\tshort c;\n\
         \t\tshort d;\n\
         \t} in;\n\
         };\n\n"
    );
}

#[test]
fn typedef_of_anonymous_struct() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let s = b.add_struct("", 4, &[m("a", int, 0)]);
    b.add_typedef("anon_t", s);
    assert_eq!(dump(&b), "typedef struct {\n\tint a;\n} anon_t;\n\n");
}

#[test]
fn bitfields_and_padding() {
    let mut b = BtfBuilder::new();
    let uint = b.add_int("unsigned int", 4, 0);
    let long = b.add_int("long", 8, INT_SIGNED);
    let ch = b.add_int("char", 1, INT_CHAR);
    b.add_struct(
        "bf",
        24,
        &[
            MemberSpec::bitfield("a", uint, 0, 3),
            MemberSpec::bitfield("b", uint, 3, 5),
            // 8 bits of hole inside the bitfield run
            MemberSpec::bitfield("c", uint, 16, 4),
            // the next storage unit: the hole up to it is spelled out inside the run
            MemberSpec::bitfield("l", long, 64, 1),
            // a plain char at byte 16, not where natural layout puts it (byte 9)
            MemberSpec::new("z", ch, 16),
        ],
    );
    assert_eq!(
        dump(&b),
        "struct bf {\n\
         \tunsigned int a: 3;\n\
         \tunsigned int b: 5;\n\
         \tshort: 8;\n\
         \tunsigned int c: 4;\n\
         \tlong: 44;\n\
         \tlong l: 1;\n\
         \tlong: 0;\n\
         \tchar z;\n\
         };\n\n"
    );
}

#[test]
fn explicit_padding_for_over_aligned_members() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    // `int y` at 64 (cacheline-aligned) in a 128-byte struct: natural layout puts it at 4.
    b.add_struct("cl", 128, &[m("x", int, 0), m("y", int, 64)]);
    assert_eq!(
        dump(&b),
        "struct cl {\n\
         \tint x;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tint y;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         \tlong: 64;\n\
         };\n\n"
    );
}

#[test]
fn packed_struct() {
    let mut b = BtfBuilder::new();
    let ch = b.add_int("char", 1, INT_CHAR);
    let int = b.add_int("int", 4, INT_SIGNED);
    b.add_struct("p", 5, &[m("c", ch, 0), m("i", int, 1)]);
    assert_eq!(
        dump(&b),
        "struct p {\n\tchar c;\n\tint i;\n} __attribute__((packed));\n\n"
    );
}

#[test]
fn duplicate_names_get_suffixes() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let ch = b.add_int("char", 1, INT_CHAR);
    let s1 = b.add_struct("dup", 4, &[m("a", int, 0)]);
    let s2 = b.add_struct("dup", 1, &[m("b", ch, 0)]);
    let t1 = b.add_typedef("dup_t", s1);
    let t2 = b.add_typedef("dup_t", s2);
    b.add_enum("e", 4, false, &[("ONE", 1), ("TWO", 2)]);
    b.add_enum("e", 4, false, &[("ONE", 1)]);
    let user = b.add_struct("user", 8, &[m("x", t1, 0), m("y", t2, 4)]);
    let btf = Btf::from_vec(b.build()).unwrap();
    let text = cdump::to_c_header_with(&btf, &types_only()).unwrap();
    assert_eq!(
        text,
        "struct dup {\n\tint a;\n};\n\n\
         struct dup___2 {\n\tchar b;\n};\n\n\
         typedef struct dup dup_t;\n\n\
         typedef struct dup___2 dup_t___2;\n\n\
         enum e {\n\tONE = 1,\n\tTWO = 2,\n};\n\n\
         enum e___2 {\n\tONE___2 = 1,\n};\n\n\
         struct user {\n\tdup_t x;\n\tdup_t___2 y;\n};\n\n"
    );
    cdump_util::check_layouts_if_clang(&btf, "duplicate_names");
    let mut d = CDumper::new(&btf).unwrap();
    d.dump_all(false).unwrap();
    assert_eq!(d.c_name(s2).as_deref(), Some("dup___2"));
    assert_eq!(d.c_name(t2).as_deref(), Some("dup_t___2"));
    assert_eq!(d.c_name(user).as_deref(), Some("user"));
    assert_eq!(d.c_name(int).as_deref(), None, "ints are not renamed");
}

#[test]
fn enums_signed_unsigned_and_sized() {
    let mut b = BtfBuilder::new();
    b.add_enum("s", 4, true, &[("NEG", -1), ("POS", 7)]);
    b.add_enum("u", 4, false, &[("BIG", 0xffff_fff0)]);
    b.add_enum("byte", 1, false, &[("B", 1)]);
    b.add_enum("word", 8, false, &[("W", 1)]);
    b.add_enum64("e64", 8, false, &[("HI", 0xffff_ffff_0000_0000), ("LO", 1)]);
    // Small negative values: C would make this 4 bytes without mode(word).
    b.add_enum64("s64", 8, true, &[("M", (-5i64) as u64), ("P", 5)]);
    b.add_enum64(
        "wide",
        8,
        true,
        &[("N", (-1i64) as u64), ("U", 0xffff_ffff)],
    );
    b.add_enum("half", 2, false, &[("H", 300)]);
    b.add_enum64("small64", 8, false, &[("S", 3)]);
    b.add_enum("fwd", 4, false, &[]);
    // An anonymous, unreferenced enum is a top-level list of constants.
    b.add_enum("", 4, false, &[("CONST_A", 1)]);
    assert_eq!(
        dump(&b),
        "enum s {\n\tNEG = -1,\n\tPOS = 7,\n};\n\n\
         enum u {\n\tBIG = 4294967280,\n};\n\n\
         enum byte {\n\tB = 1,\n} __attribute__((mode(byte)));\n\n\
         enum word {\n\tW = 1,\n} __attribute__((mode(word)));\n\n\
         enum e64 {\n\tHI = 18446744069414584320ULL,\n\tLO = 1ULL,\n};\n\n\
         enum s64 {\n\tM = -5LL,\n\tP = 5LL,\n} __attribute__((mode(word)));\n\n\
         enum wide {\n\tN = -1LL,\n\tU = 4294967295LL,\n};\n\n\
         enum half {\n\tH = 300,\n} __attribute__((mode(HI)));\n\n\
         enum small64 {\n\tS = 3ULL,\n} __attribute__((mode(word)));\n\n\
         enum fwd;\n\n\
         enum {\n\tCONST_A = 1,\n};\n\n"
    );
}

#[test]
fn function_pointers_and_prototypes() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let ch = b.add_int("char", 1, INT_CHAR);
    let pch = b.add_ptr(ch);
    let proto = b.add_func_proto(int, &[("", int), ("", pch)]);
    let pfn = b.add_ptr(proto);
    let void_proto = b.add_func_proto(0, &[]);
    let pvoid_fn = b.add_ptr(void_proto);
    let arr = b.add_array(pvoid_fn, int, 4);
    let var_proto = b.add_func_proto(int, &[("fmt", pch), ("", 0)]);
    let pvar = b.add_ptr(var_proto);
    // A function returning a pointer to a function: int (*(*get)(int))(int, char *)
    let getter = b.add_func_proto(pfn, &[("", int)]);
    let pgetter = b.add_ptr(getter);
    b.add_struct(
        "ops",
        64,
        &[
            m("fn", pfn, 0),
            m("cbs", arr, 8),
            m("log", pvar, 40),
            m("get", pgetter, 48),
        ],
    );
    b.add_typedef("handler_t", pfn);
    b.add_typedef("proto_t", proto);
    assert_eq!(
        dump(&b),
        "struct ops {\n\
         \tint (*fn)(int, char *);\n\
         \tvoid (*cbs[4])(void);\n\
         \tint (*log)(char *fmt, ...);\n\
         \tint (* (*get)(int))(int, char *);\n\
         \tlong: 64;\n\
         };\n\n\
         typedef int (*handler_t)(int, char *);\n\n\
         typedef int proto_t(int, char *);\n\n"
    );
}

#[test]
fn arrays_multidim_flexible_and_pointer_to_array() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let ch = b.add_int("char", 1, INT_CHAR);
    let row = b.add_array(int, int, 3);
    let grid = b.add_array(row, int, 2);
    let pa = b.add_ptr(row);
    let flex = b.add_array(ch, int, 0);
    b.add_struct(
        "arrs",
        40,
        &[
            m("m", grid, 0),
            m("pa", pa, 24),
            m("n", int, 32),
            m("data", flex, 36),
        ],
    );
    assert_eq!(
        dump(&b),
        "struct arrs {\n\
         \tint m[2][3];\n\
         \tint (*pa)[3];\n\
         \tint n;\n\
         \tchar data[0];\n\
         };\n\n"
    );
}

#[test]
fn qualifiers_and_base_types() {
    let mut b = BtfBuilder::new();
    let ch = b.add_int("char", 1, INT_CHAR);
    let cch = b.add_modifier(Kind::Const, ch);
    let pcch = b.add_ptr(cch);
    let cpcch = b.add_modifier(Kind::Const, pcch);
    let int = b.add_int("int", 4, INT_SIGNED);
    let vint = b.add_modifier(Kind::Volatile, int);
    let pint = b.add_ptr(int);
    let rpint = b.add_modifier(Kind::Restrict, pint);
    let boolean = b.add_int("_Bool", 1, INT_BOOL);
    let i128 = b.add_int("__int128", 16, INT_SIGNED);
    let dbl = b.add_float("double", 8);
    let user = b.add_type_tag("user", int);
    let puser = b.add_ptr(user);
    b.add_struct(
        "q",
        64,
        &[
            m("s", cpcch, 0),
            m("v", vint, 8),
            m("r", rpint, 16),
            m("b", boolean, 24),
            m("big", i128, 32),
            m("d", dbl, 48),
            m("u", puser, 56),
        ],
    );
    assert_eq!(
        dump(&b),
        "struct q {\n\
         \tconst char * const s;\n\
         \tvolatile int v;\n\
         \tint * restrict r;\n\
         \t_Bool b;\n\
         \t__int128 big;\n\
         \tdouble d;\n\
         \tint __attribute__((btf_type_tag(\"user\"))) *u;\n\
         };\n\n"
    );
}

#[test]
fn forward_declarations_and_builtin_va_list() {
    let mut b = BtfBuilder::new();
    let f = b.add_fwd("opaque", false);
    let u = b.add_fwd("uopaque", true);
    let pf = b.add_ptr(f);
    let pu = b.add_ptr(u);
    b.add_struct("h", 16, &[m("o", pf, 0), m("u", pu, 8)]);
    let ch = b.add_int("char", 1, INT_CHAR);
    let pch = b.add_ptr(ch);
    let va = b.add_typedef("__builtin_va_list", pch);
    b.add_typedef("va_list", va);
    assert_eq!(
        dump(&b),
        "struct opaque;\n\n\
         union uopaque;\n\n\
         struct h {\n\tstruct opaque *o;\n\tunion uopaque *u;\n};\n\n\
         typedef __builtin_va_list va_list;\n\n"
    );
}

#[test]
fn funcs_vars_and_datasecs_print_nothing_but_kfuncs_are_prototyped() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let proto = b.add_func_proto(int, &[("x", int)]);
    let f = b.add_func("bpf_thing", proto, corebpf_btf::Linkage::Global);
    b.add_decl_tag("bpf_kfunc", f, -1);
    let v = b.add_var("counter", int, corebpf_btf::Linkage::Global);
    b.add_datasec(".data", 4, &[(v, 0, 4)]);
    let btf = Btf::from_vec(b.build()).unwrap();
    assert_eq!(cdump::to_c_header_with(&btf, &types_only()).unwrap(), "");
    let full = cdump::to_c_header(&btf).unwrap();
    assert!(full.starts_with("#ifndef __VMLINUX_H__\n"));
    assert!(full.contains(
        "#ifndef BPF_NO_KFUNC_PROTOTYPES\nextern int bpf_thing(int x) __weak __ksym;\n#endif\n"
    ));
    assert!(full.ends_with("#endif /* __VMLINUX_H__ */\n"));
}

#[test]
fn dump_type_prints_dependencies_once() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let inner = b.add_struct("inner", 4, &[m("v", int, 0)]);
    let a = b.add_struct("a", 4, &[m("i", inner, 0)]);
    let c = b.add_struct("c", 4, &[m("i", inner, 0)]);
    let btf = Btf::from_vec(b.build()).unwrap();
    let mut d = CDumper::new(&btf).unwrap();
    d.dump_type(a).unwrap();
    let first = String::from_utf8(d.take_output()).unwrap();
    assert_eq!(
        first,
        "struct inner {\n\tint v;\n};\n\nstruct a {\n\tstruct inner i;\n};\n\n"
    );
    d.dump_type(c).unwrap();
    let second = String::from_utf8(d.take_output()).unwrap();
    assert_eq!(second, "struct c {\n\tstruct inner i;\n};\n\n");
    assert!(matches!(
        d.dump_type(99),
        Err(BtfError::TypeIdOutOfRange { id: 99, .. })
    ));
}

#[test]
fn pointer_to_itself_is_an_error() {
    let mut b = BtfBuilder::new();
    let p = b.next_id();
    b.add_ptr(p);
    assert!(matches!(dump_err(&b), BtfError::Dump(_)));
}

#[test]
fn embedding_cycle_is_an_error() {
    let mut b = BtfBuilder::new();
    let a = b.next_id();
    b.add_struct("a", 4, &[m("b", a + 1, 0)]);
    b.add_struct("b", 4, &[m("a", a, 0)]);
    let e = dump_err(&b);
    assert!(e.to_string().contains("cycle"), "{e}");
}

#[test]
fn anonymous_pointer_cycle_is_an_error() {
    let mut b = BtfBuilder::new();
    let s = b.next_id();
    b.add_struct("", 8, &[m("self_", s + 1, 0)]);
    b.add_ptr(s);
    assert!(matches!(dump_err(&b), BtfError::Dump(_)));
}

#[test]
fn huge_struct_is_an_error_not_gigabytes_of_padding() {
    let mut b = BtfBuilder::new();
    b.add_struct("huge", u32::MAX, &[]);
    let e = dump_err(&b);
    assert!(e.to_string().contains("large"), "{e}");
}

#[test]
fn exponentially_shared_anonymous_structs_are_an_error() {
    // u0 = union { int a, b; }, u(n+1) = union { u(n) a, b; }: the text doubles per level.
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let mut prev = b.add_union("", 4, &[m("a", int, 0), m("b", int, 0)]);
    for _ in 0..40 {
        prev = b.add_union("", 4, &[m("a", prev, 0), m("b", prev, 0)]);
    }
    b.add_typedef("big_t", prev);
    assert!(matches!(dump_err(&b), BtfError::Dump(_)));
}

#[test]
fn long_reference_chains_neither_overflow_the_stack_nor_fail_in_id_order() {
    let mut b = BtfBuilder::new();
    let mut prev = b.add_int("int", 4, INT_SIGNED);
    for i in 0..20_000 {
        prev = if i % 2 == 0 {
            b.add_ptr(prev)
        } else {
            b.add_typedef(&format!("t{i}"), prev)
        };
    }
    let s = b.add_struct("s", 8, &[m("p", prev, 0)]);
    let btf = Btf::from_vec(b.build()).unwrap();
    // In id order each typedef needs only the one before it, already printed.
    let text = cdump::to_c_header_with(&btf, &types_only()).unwrap();
    assert!(text.starts_with("typedef int *t1;\n\ntypedef t1 *t3;\n\n"));
    assert!(text.ends_with("typedef t19997 *t19999;\n\nstruct s {\n\tt19999 p;\n};\n\n"));
    // Starting from the struct, the chain is 20000 deep: a typed error, not a crash.
    let mut d = CDumper::new(&btf).unwrap();
    assert!(matches!(d.dump_type(s), Err(BtfError::Dump(_))));
}
