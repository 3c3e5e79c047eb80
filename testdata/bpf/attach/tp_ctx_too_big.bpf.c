// SPDX-License-Identifier: GPL-2.0
/* A tracepoint program that reads its context far past the end of
 * syscalls/sys_enter_getpid's record: it loads (the verifier allows tracepoint context
 * reads up to PERF_MAX_TRACE_SIZE), but the kernel refuses to attach it (EACCES). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp/syscalls/sys_enter_getpid")
int read_too_far(unsigned long *ctx)
{
	return ctx[64] != 0;
}
