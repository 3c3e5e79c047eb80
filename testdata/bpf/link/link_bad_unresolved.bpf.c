// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Static linking, bad input: calls `nowhere`, which no object defines (a strong extern). */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

extern int nowhere(int x);

SEC("syscall")
int unresolved_prog(void *ctx)
{
	return nowhere(1);
}
