// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "ptr_as_array": indexing the root pointer (`in[2].a`, `&in[1]`). The first
 * access index multiplies the *target* type's size. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct core_reloc_ptr_as_arr {
	int a;
} __pai;	/* sizeof 4 */

COREBPF_INPUT_BUFFER;

struct core_ptr_as_array_out {
	__u64 a0, a2, off1;
} out SEC(".bss");

SEC("syscall")
int core_ptr_as_array(void *ctx)
{
	struct core_reloc_ptr_as_arr *in = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.a0 = in[0].a;	/* 0:0 local 0 -> 4 */
	out.a2 = in[2].a;	/* 2:0 local 8 -> 2*16+4 = 36 */
	/* `&in[1]` relocated as an address: access "1", byte_off local 4 -> 16 */
	out.off1 = (__u64)((char *)__builtin_preserve_access_index(&in[1]) - (char *)in);
	return 0;
}

#else /* TARGET */

struct core_reloc_ptr_as_arr___diff {
	int pad;	/* 0 */
	int a;		/* 4 */
	long long x;	/* 8 */
};			/* sizeof 16 */

struct core_ptr_as_array_input {
	struct core_reloc_ptr_as_arr___diff e[3];
};

COREBPF_TARGET_INPUT(struct core_ptr_as_array_input) = {
	.e = { { .pad = -1, .a = 10 }, { .pad = -1, .a = 11 }, { .pad = -1, .a = 12 } },
};

#endif
