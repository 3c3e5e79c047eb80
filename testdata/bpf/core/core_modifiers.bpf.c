// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "modifiers": const/volatile and typedef chains on members and on the root type
 * (the program uses `core_reloc_mods_t *`, a typedef of the struct). Modifiers and typedefs
 * are skipped when comparing member types; the target has different ones on every member. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

typedef const int cint_t;
typedef cint_t *cint_ptr_t;
typedef volatile long vlong_t;
typedef struct {
	int w;
	int x;	/* not first, so clang records f.x (0:5:1), not just f */
} __pai anon_s_t;

struct core_reloc_mods {
	int a;			/* 0 */
	cint_t b;		/* 4 */
	const volatile int c;	/* 8 */
	vlong_t d;		/* 16 */
	cint_ptr_t e;		/* 24 */
	anon_s_t f;		/* 32 */
} __pai;		/* sizeof 40 */
typedef struct core_reloc_mods core_reloc_mods_t;

COREBPF_INPUT_BUFFER;

struct core_modifiers_out {
	__u64 a, b, c, d, e, fx;
} out SEC(".bss");

SEC("syscall")
int core_modifiers(void *ctx)
{
	core_reloc_mods_t *in = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.a = in->a;		/* 0:0 local 0  -> 40 */
	out.b = in->b;		/* 0:1 local 4  -> 36 */
	out.c = in->c;		/* 0:2 local 8  -> 32 */
	out.d = in->d;		/* 0:3 local 16 -> 24 */
	out.e = (__u64)in->e;	/* 0:4 local 24 -> 16 */
	out.fx = in->f.x;	/* 0:5:1 local 36 -> 8 */
	return 0;
}

#else /* TARGET */

typedef int int_t;
typedef int_t *int_ptr_t;
typedef struct {
	long pad;
	int x;
} anon_s2_t;

struct core_reloc_mods___target {
	anon_s2_t f;		/* 0, f.x at 8 */
	int_ptr_t e;		/* 16 */
	long d;			/* 24 */
	volatile int c;		/* 32 */
	int_t b;		/* 36 */
	const int a;		/* 40 */
};				/* sizeof 48 */
/* Should the root relocation be recorded against the typedef, the target has one too. */
typedef struct core_reloc_mods___target core_reloc_mods_t;

COREBPF_TARGET_INPUT(core_reloc_mods_t) = {
	.f = { .pad = -1, .x = 6 }, .e = (int_ptr_t)0, .d = -5, .c = 3, .b = 2, .a = 1,
};

#endif
