// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "existence": bpf_core_field_exists() on fields that do and don't exist in the
 * target, on an array index beyond the target's bound, and on a type the target lacks
 * entirely (no candidate: field_exists becomes 0, it is never poisoned). A read of a missing
 * field guarded by field_exists sits on a dead branch: poisoned, but the verifier prunes it. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct core_reloc_existence {
	int a;			/* 0 */
	struct {
		int b;		/* 4 */
	};
	int c;			/* 8 */
	int arr[4];		/* 12 */
	int missing_int;	/* 28 */
	struct {
		int z;
	} missing_struct;	/* 32 */
} __pai;

struct core_reloc_existence_gone {
	int g;
} __pai;

COREBPF_INPUT_BUFFER;

struct core_existence_out {
	__u64 a_exists, b_exists, c_exists, arr_exists, arr3_exists, missing_int_exists,
		missing_struct_z_exists, gone_g_exists, b, missing_int_or_ff;
} out SEC(".bss");

SEC("syscall")
int core_existence(void *ctx)
{
	struct core_reloc_existence *in = (void *)corebpf_in;
	struct core_reloc_existence_gone *gone = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.a_exists = bpf_core_field_exists(in->a);			/* 0:0 -> 1 */
	out.b_exists = bpf_core_field_exists(in->b);			/* 0:1:0 -> 1 */
	out.c_exists = bpf_core_field_exists(in->c);			/* 0:2 -> 1 */
	out.arr_exists = bpf_core_field_exists(in->arr);		/* 0:3 -> 1 */
	out.arr3_exists = bpf_core_field_exists(in->arr[3]);		/* 0:3:3 -> 0 (target arr[2]) */
	out.missing_int_exists = bpf_core_field_exists(in->missing_int);	/* 0:4 -> 0 */
	out.missing_struct_z_exists = bpf_core_field_exists(in->missing_struct.z); /* 0:5:0 -> 0 */
	out.gone_g_exists = bpf_core_field_exists(gone->g);		/* 0:0, no candidate -> 0 */
	out.b = in->b;							/* 0:1:0 -> 8 */
	if (bpf_core_field_exists(in->missing_int))			/* 0:4 -> 0 */
		out.missing_int_or_ff = in->missing_int;		/* 0:4 poisoned, dead */
	else
		out.missing_int_or_ff = 0xff;
	return 0;
}

#else /* TARGET */

struct core_reloc_existence___target {
	int c;		/* 0 */
	int a;		/* 4 */
	int b;		/* 8: no longer inside an anonymous struct */
	int arr[2];	/* 12 */
};

COREBPF_TARGET_INPUT(struct core_reloc_existence___target) = { .c = 3, .a = 1, .b = 2, .arr = { 10, 11 } };

#endif
