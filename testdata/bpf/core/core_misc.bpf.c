// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "misc":
 * - several target candidates for one local type: `___bad` does not match (its members are
 *   char arrays, not ints), `___good` and `___dup` both match with the same offsets (no
 *   ambiguity), so libbpf logs one non-matching and two matching candidates;
 * - bpf_core_field_offset() used as a value (ALU immediate, not a memory access);
 * - relocations inside a static and a global subprogram (logged under the subprogram name,
 *   with instruction numbers relative to the subprogram). */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct core_reloc_misc {
	int x;	/* 0 */
	int y;	/* 4 */
} __pai;

COREBPF_INPUT_BUFFER;

struct core_misc_out {
	__u64 x, y_static, y_global, off_y;
} out SEC(".bss");

/* Global subprograms are verified on their own, with pointer arguments sized by their local
 * type: a `struct core_reloc_misc *` would be an 8-byte region and the relocated read at 8
 * would be out of bounds. So the whole buffer type is passed and cast inside. */
struct core_misc_buf {
	__u64 b[COREBPF_CTX_SIZE / 8];
};

__noinline int core_misc_global(struct core_misc_buf *buf)
{
	struct core_reloc_misc *in = (void *)buf;
	int y = 0;

	if (!buf)
		return -1;
	bpf_core_read(&y, sizeof(y), &in->y);	/* 0:1 -> 8 (ALU add imm) */
	return y;
}

static __noinline int core_misc_static(struct core_reloc_misc *in)
{
	return in->y;				/* 0:1 -> 8 (LDX off) */
}

SEC("syscall")
int core_misc(void *ctx)
{
	struct core_reloc_misc *in = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.x = in->x;					/* 0:0 -> 12 */
	out.y_static = core_misc_static(in);
	out.y_global = core_misc_global((struct core_misc_buf *)corebpf_in);
	out.off_y = bpf_core_field_offset(in->y);	/* 0:1 -> 8 */
	return 0;
}

#else /* TARGET */

struct core_reloc_misc___bad {
	char x[4];
	char y[4];
};

struct core_reloc_misc___good {
	long long pad;	/* 0 */
	int y;		/* 8 */
	int x;		/* 12 */
};

struct core_reloc_misc___dup {
	long long pad;
	int y;
	int x;
};

COREBPF_TARGET_INPUT(struct core_reloc_misc___good) = { .pad = -1, .y = 2, .x = 1 };
/* Referenced so the other candidates land in BTF. */
struct core_reloc_misc___bad bad_sink SEC(".bss");
struct core_reloc_misc___dup dup_sink SEC(".bss");

#endif
