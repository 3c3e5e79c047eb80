// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "primitives": char, int, enum (different enum type in the target: enums are
 * compatible with enums regardless of name/values), void pointer and function pointer, all
 * moved around in the target. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

enum core_reloc_prim_enum { PRIM_A = 0, PRIM_B = 1 };
typedef int (*core_reloc_prim_fn)(int);

struct core_reloc_primitives {
	char a;				/* 0 */
	int b;				/* 4 */
	enum core_reloc_prim_enum c;	/* 8 */
	void *d;			/* 16 */
	core_reloc_prim_fn f;		/* 24 */
} __pai;

COREBPF_INPUT_BUFFER;

struct core_primitives_out {
	__u64 a, b, c, d, f;
} out SEC(".bss");

SEC("syscall")
int core_primitives(void *ctx)
{
	struct core_reloc_primitives *in = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.a = in->a;			/* 0:0 local 0  -> 16 */
	out.b = in->b;			/* 0:1 local 4  -> 32 */
	out.c = in->c;			/* 0:2 local 8  -> 0 */
	out.d = (__u64)in->d;		/* 0:3 local 16 -> 24 */
	out.f = (__u64)in->f;		/* 0:4 local 24 -> 8 */
	return 0;
}

#else /* TARGET */

enum core_reloc_prim_enum___t { T_X = 0, T_Y = 1, T_Z = 2 };
typedef int (*core_reloc_prim_fn_t)(int);

struct core_reloc_primitives___target {
	enum core_reloc_prim_enum___t c;	/* 0 */
	core_reloc_prim_fn_t f;			/* 8 */
	char a;					/* 16 */
	void *d;				/* 24 */
	int b;					/* 32 */
};						/* sizeof 40 */

COREBPF_TARGET_INPUT(struct core_reloc_primitives___target) = {
	.c = T_Z, .f = (core_reloc_prim_fn_t)0, .a = 'x', .d = (void *)0, .b = 0x12345678,
};

#endif
