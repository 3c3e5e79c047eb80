// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "size": bpf_core_field_size() on int, struct, union, array, pointer, enum and
 * float members (all bigger or smaller in the target), and bpf_core_type_size() on a struct,
 * a typedef of int and an enum (packed, so 1 byte, in the target). */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

enum core_reloc_size_enum { SE_A };
typedef int core_reloc_size_int_t;

struct core_reloc_size {
	int int_field;
	struct {
		int x;
	} struct_field;
	union {
		int x;
	} union_field;
	int arr_field[4];
	void *ptr_field;
	enum core_reloc_size_enum enum_field;
	float float_field;
} __pai;	/* sizeof 48 */

COREBPF_INPUT_BUFFER;

struct core_size_out {
	__u64 int_sz, struct_sz, union_sz, arr_sz, arr_elem_sz, ptr_sz, enum_sz, float_sz;
	__u64 struct_type_sz, int_typedef_sz, enum_type_sz;
} out SEC(".bss");

SEC("syscall")
int core_size(void *ctx)
{
	struct core_reloc_size *in = (void *)corebpf_in;

	out.int_sz = bpf_core_field_size(in->int_field);		/* 0:0 4 -> 8 */
	out.struct_sz = bpf_core_field_size(in->struct_field);		/* 0:1 4 -> 16 */
	out.union_sz = bpf_core_field_size(in->union_field);		/* 0:2 4 -> 12 */
	out.arr_sz = bpf_core_field_size(in->arr_field);		/* 0:3 16 -> 32 */
	out.arr_elem_sz = bpf_core_field_size(in->arr_field[1]);	/* 0:3:1 4 -> 4 */
	out.ptr_sz = bpf_core_field_size(in->ptr_field);		/* 0:4 8 -> 8 */
	out.enum_sz = bpf_core_field_size(in->enum_field);		/* 0:5 4 -> 1 */
	out.float_sz = bpf_core_field_size(in->float_field);		/* 0:6 4 -> 8 */
	out.struct_type_sz = bpf_core_type_size(struct core_reloc_size);	/* 48 -> 96 */
	out.int_typedef_sz = bpf_core_type_size(core_reloc_size_int_t);	/* 4 -> 8 */
	out.enum_type_sz = bpf_core_type_size(enum core_reloc_size_enum);	/* 4 -> 1 */
	return 0;
}

#else /* TARGET */

enum __attribute__((packed)) core_reloc_size_enum { SE_A, SE_B };
typedef long core_reloc_size_int_t;

struct core_reloc_size___target {
	long int_field;			/* 0 */
	struct {
		int x;
		long y;
	} struct_field;			/* 8, 16 bytes */
	union {
		int x;
		char y[12];
	} union_field;			/* 24, 12 bytes */
	int arr_field[8];		/* 36, 32 bytes */
	void *ptr_field;		/* 72 */
	enum core_reloc_size_enum enum_field;	/* 80, 1 byte */
	double float_field;		/* 88 */
};					/* sizeof 96 */

/* No run input is needed (the program reads nothing), but keep every target type in BTF. */
COREBPF_TARGET_INPUT(struct core_reloc_size___target);
core_reloc_size_int_t int_sink SEC(".bss");

#endif
