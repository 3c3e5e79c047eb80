// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Error fixtures for CO-RE poisoning, relocated against any kernel BTF (none has these types):
 * - poisoned_reachable: reads struct corebpf_nonexist::non_exist unconditionally: the
 *   relocation fails, the instruction becomes `call 0xbad2310`, and the verifier rejects the
 *   program with "invalid func unknown#195896080" (marker BAD_CORE_REACHABLE);
 * - poisoned_dead: the same read behind bpf_core_field_exists() (patched to 0): poisoned but
 *   on a dead branch, so the program loads and returns 1. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct corebpf_nonexist {
	int pad;
	int non_exist;
} __pai;

__u64 buf[2];

SEC("syscall")
int poisoned_reachable(void *ctx)
{
	struct corebpf_nonexist *p = (void *)buf;

	return p->non_exist; /* BAD_CORE_REACHABLE */
}

SEC("syscall")
int poisoned_dead(void *ctx)
{
	struct corebpf_nonexist *p = (void *)buf;

	if (bpf_core_field_exists(p->non_exist))
		return p->non_exist; /* BAD_CORE_DEAD */
	return 1;
}
