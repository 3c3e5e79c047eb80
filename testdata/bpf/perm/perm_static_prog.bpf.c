// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Static entry programs (issue 13, item 8): `static` functions in a program section.
 * libbpf refuses the whole object ("sec 'socket': program 'static_seven' is static and not
 * supported"); cilium/ebpf loads them as programs, and so does corebpf. `__attribute__((used))`
 * keeps clang from dropping a static function nothing calls. `static_calls_static` also
 * calls `static_twice`, a static program of the same section used as a subprogram.
 * Socket filters, run with BPF_PROG_TEST_RUN in tests/permissive.rs. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

/* Returns 7. */
SEC("socket") __attribute__((used))
static int static_seven(struct __sk_buff *skb)
{
	return 7;
}

/* Returns 2 * skb->len. */
SEC("socket") __attribute__((used)) __noinline
static int static_twice(struct __sk_buff *skb)
{
	return skb->len * 2;
}

/* Returns static_twice(skb) + 1. */
SEC("socket") __attribute__((used))
static int static_calls_static(struct __sk_buff *skb)
{
	return static_twice(skb) + 1;
}

/* A global program next to them: returns 3. */
SEC("socket")
int global_three(struct __sk_buff *skb)
{
	return 3;
}
