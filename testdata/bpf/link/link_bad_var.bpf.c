// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Static linking, bad input: declares link_lib.bpf.c's `int lib_counter` as a long. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

extern long lib_counter;

SEC("syscall")
int bad_var_prog(void *ctx)
{
	return (int)lib_counter;
}
