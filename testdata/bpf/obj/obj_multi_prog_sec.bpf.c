// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: several programs in one ELF section (libbpf >= 0.7 style): each global
 * function symbol in the section is its own program, found by symbol offset and size. Also
 * two XDP programs sharing `xdp`, and a static subprogram in .text used by both tp programs. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

__u64 hits[3];

static __noinline int bump(int i)
{
	hits[i & 3] += 1;
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int getpid_first(void *ctx)
{
	return bump(0);
}

SEC("tp/syscalls/sys_enter_getpid")
int getpid_second(void *ctx)
{
	return bump(1);
}

SEC("xdp")
int xdp_first(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_second(struct xdp_md *ctx)
{
	return XDP_DROP;
}
