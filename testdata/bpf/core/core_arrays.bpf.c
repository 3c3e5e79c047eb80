// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "arrays": one-dim, multi-dim, arrays of structs (whose element type changes
 * size in the target, so the stride changes) and a flexible array member. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct core_reloc_arrays_elem {
	int pad;	/* 0 */
	int v;		/* 4 */
} __pai;		/* sizeof 8; __pai so `.v` is relocated too */

struct core_reloc_arrays {
	int a[5];				/* 0 */
	char b[2][3][4];			/* 20 */
	struct core_reloc_arrays_elem c[3];	/* 44 */
	int f[];				/* 68 */
} __pai;

COREBPF_INPUT_BUFFER;

struct core_arrays_out {
	__u64 a2, b123, c1v, f1;
} out SEC(".bss");

SEC("syscall")
int core_arrays(void *ctx)
{
	struct core_reloc_arrays *in = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.a2 = in->a[2];		/* 0:0:2     local 8  -> 56 */
	out.b123 = in->b[1][2][3];	/* clang records b[1] only (0:1:1, 32 -> 24), adds [2][3] as a fixed 11: 35 */
	out.c1v = in->c[1].v;		/* 0:2:1:1   local 56 -> 104 (target element is 16 bytes) */
	/* Not covered: a 2-D array of structs (`d[1][0].v`): clang 14 and 19 encode it as the
	 * access string of d[1][1] (the [0] is dropped), which no loader can relocate right. */
	out.f1 = in->f[1];		/* 0:3:1     local 72 -> 148 (flexible: no bound check) */
	return 0;
}

#else /* TARGET */

struct core_reloc_arrays_elem___t {
	long long pad;	/* 0 */
	int v;		/* 8 */
};			/* sizeof 16 */

struct core_reloc_arrays___target {
	int pad[3];					/* 0 */
	char b[3][3][4];				/* 12 */
	int a[7];					/* 48 */
	struct core_reloc_arrays_elem___t c[4];		/* 80 */
	int f[];					/* 144 */
};							/* sizeof 144 */

/* The input is the target struct followed by its flexible array's first elements. */
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
struct core_arrays_input {
	struct core_reloc_arrays___target s;
	int f[2];	/* the flexible array's first elements, at 144 */
};

COREBPF_TARGET_INPUT(struct core_arrays_input) = {
	.s = {
		.a = { 0, 0, 102 },
		.b = { [1] = { [2] = { [3] = 123 } } },
		.c = { [1] = { .pad = -1, .v = 201 } },
			},
	.f = { 400, 401 },
};

#endif
