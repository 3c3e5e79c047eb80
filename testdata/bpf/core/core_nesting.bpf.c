// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "nesting": accesses through named and anonymous nested structs and unions.
 * The target moves every member, wraps them in extra padding, and turns the anonymous struct
 * holding x/y around; matching is by member *name* at every level, through anonymous members. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct core_reloc_nesting {
	union {
		struct {
			int a;
		} a;
	} a;			/* a.a.a at 0 */
	struct {
		union {
			int b;
		} b;
	} b;			/* b.b.b at 4 */
	struct {
		int x;		/* at 8 */
		int y;		/* at 12 */
	};			/* anonymous */
} __pai;

COREBPF_INPUT_BUFFER;

struct core_nesting_out {
	__u64 aaa, bbb, y;
} out SEC(".bss");

SEC("syscall")
int core_nesting(void *ctx)
{
	struct core_reloc_nesting *in = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.aaa = in->a.a.a;	/* byte_off 0:0:0:0 -> 36 */
	out.bbb = in->b.b.b;	/* byte_off 0:1:0:0 -> 24 */
	out.y = in->y;		/* byte_off 0:2:1   -> 4 (anonymous struct, target: first member) */
	return 0;
}

#else /* TARGET */

struct core_reloc_nesting___target {
	int pad0;			/* 0 */
	struct {
		int y;			/* 4 */
		int x;			/* 8 */
	};
	struct {
		int pad;		/* 16 */
		union {
			long long pad2;
			int b;		/* 24 */
		} b;			/* 24 (8-aligned) */
	} b;				/* 16 */
	union {
		struct {
			int pad3;	/* 32 */
			int a;		/* 36 */
		} a;
	} a;				/* 32 */
};					/* sizeof 40 */

COREBPF_TARGET_INPUT(struct core_reloc_nesting___target) = {
	.pad0 = -1, .y = 12, .x = 11, .b = { .pad = -1, .b = { .b = 22 } }, .a = { .a = { .pad3 = -1, .a = 33 } },
};

#endif
