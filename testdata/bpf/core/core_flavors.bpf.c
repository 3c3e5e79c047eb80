// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "flavors": a `___suffix` on a type name is ignored when matching.
 * - local `struct core_reloc_flavors` matches the target's `core_reloc_flavors___reversed`
 *   (renamed flavor, fields in reverse order);
 * - a second *local* flavor `core_reloc_flavors___weird` (a different local view of the same
 *   kernel type, with only c) matches the same target type.
 * Direct member reads, so the relocations patch LDX offsets. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct core_reloc_flavors {
	int a;	/* offset 0 */
	int b;	/* offset 4 */
	int c;	/* offset 8 */
} __pai;

struct core_reloc_flavors___weird {
	long long pad;	/* offset 0 */
	int c;		/* offset 8 */
} __pai;

COREBPF_INPUT_BUFFER;

struct core_flavors_out {
	__u64 a, b, c, weird_c;
} out SEC(".bss");

SEC("syscall")
int core_flavors(void *ctx)
{
	struct core_reloc_flavors *in = (void *)corebpf_in;
	struct core_reloc_flavors___weird *in_weird = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.a = in->a;			/* byte_off 0:0 -> 8 */
	out.b = in->b;			/* byte_off 0:1 -> 4 */
	out.c = in->c;			/* byte_off 0:2 -> 0 */
	out.weird_c = in_weird->c;	/* byte_off 0:1 of ___weird -> 0 */
	return 0;
}

#else /* TARGET */

struct core_reloc_flavors___reversed {
	int c;	/* offset 0 */
	int b;	/* offset 4 */
	int a;	/* offset 8 */
};

COREBPF_TARGET_INPUT(struct core_reloc_flavors___reversed) = { .a = 1, .b = 2, .c = 3 };

#endif
