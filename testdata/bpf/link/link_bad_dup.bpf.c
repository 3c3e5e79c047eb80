// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Static linking, bad input: a second strong definition of link_lib.bpf.c's `lib_add`. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

__noinline int lib_add(int a, int b)
{
	return a - b;
}

SEC("syscall")
int dup_prog(void *ctx)
{
	return lib_add(2, 1);
}
