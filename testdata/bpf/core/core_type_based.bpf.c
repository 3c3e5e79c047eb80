// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "type_based": bpf_core_type_exists() (TYPE_EXISTS, any clang) and
 * bpf_core_type_matches() (TYPE_MATCHES, clang >= 15 only: clang 14 rejects the builtin's
 * kind 2, so those lines are compiled out and the clang14 object has no type_matches records).
 * TYPE_EXISTS only needs a same-kind type with the same essential name; TYPE_MATCHES also
 * compares members by name and type (ints: size and signedness; offsets are ignored). */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct a_struct {
	int x;
	char y;
};
struct b_struct {
	int x;	/* target: long, so it exists but does not match */
};
union a_union {
	int x;
	char c;
};
enum an_enum { AN_ONE = 1, AN_TWO = 2 };
typedef int int_typedef;
typedef int (*func_proto_typedef)(long);
typedef char arr_typedef[20];
struct missing_struct {
	int x;
};

struct core_type_based_out {
	__u64 struct_exists, b_struct_exists, union_exists, enum_exists, int_typedef_exists,
		func_proto_typedef_exists, arr_typedef_exists, missing_exists;
	__u64 struct_matches, b_struct_matches, union_matches, enum_matches, int_typedef_matches,
		missing_matches;
} out SEC(".bss");

SEC("syscall")
int core_type_based(void *ctx)
{
	out.struct_exists = bpf_core_type_exists(struct a_struct);		/* 1 */
	out.b_struct_exists = bpf_core_type_exists(struct b_struct);		/* 1 */
	out.union_exists = bpf_core_type_exists(union a_union);			/* 1 */
	out.enum_exists = bpf_core_type_exists(enum an_enum);			/* 1 */
	out.int_typedef_exists = bpf_core_type_exists(int_typedef);		/* 1 */
	out.func_proto_typedef_exists = bpf_core_type_exists(func_proto_typedef); /* 1 */
	out.arr_typedef_exists = bpf_core_type_exists(arr_typedef);		/* 1 */
	out.missing_exists = bpf_core_type_exists(struct missing_struct);	/* 0 */
#if COREBPF_HAVE_TYPE_MATCHES
	out.struct_matches = bpf_core_type_matches(struct a_struct);		/* 1 */
	out.b_struct_matches = bpf_core_type_matches(struct b_struct);		/* 0 */
	out.union_matches = bpf_core_type_matches(union a_union);		/* 1 */
	out.enum_matches = bpf_core_type_matches(enum an_enum);			/* 1 */
	out.int_typedef_matches = bpf_core_type_matches(int_typedef);		/* 1 */
	out.missing_matches = bpf_core_type_matches(struct missing_struct);	/* 0 */
#endif
	return 0;
}

#else /* TARGET */

struct a_struct___t {
	char y;		/* reordered: offsets don't matter to TYPE_MATCHES */
	int x;
	long extra;	/* extra target members are fine */
};
struct b_struct {
	long x;
};
union a_union {
	char c;
	int x;
};
enum an_enum { AN_ZERO = 0, AN_ONE = 10, AN_TWO = 20 };
typedef int int_typedef;
typedef int (*func_proto_typedef)(long);
typedef char arr_typedef[20];

struct core_type_based_sinks {
	struct a_struct___t a;
	struct b_struct b;
	union a_union u;
	enum an_enum e;
	int_typedef i;
	func_proto_typedef f;
	arr_typedef arr;
} sinks SEC(".bss");

#endif
