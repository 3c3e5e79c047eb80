// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Hidden global functions and variables (issue 13, item 3): libbpf's rule that a global or
 * weak symbol with hidden (or internal) ELF visibility is static as far as the kernel is
 * concerned.
 *
 * - `hidden_store` and `weak_hidden_store` (the shape of libbpf's usdt.bpf.h
 *   `__weak __hidden int bpf_usdt_arg(..., long *res)`) store through a pointer argument
 *   without a NULL check. Verified as global functions (alone, each pointer argument maybe
 *   NULL) the verifier rejects them: "R2 invalid mem access 'mem_or_null'". libbpf marks
 *   their BTF FUNC static before loading, so the verifier checks them with the caller's
 *   state, where `res` is the caller's stack slot: `hidden_call` loads and returns 43 + 7.
 * - `global_store` is the same body with default visibility: it stays global and
 *   `global_call` fails verification, as it does with libbpf.
 * - `hidden_total` (hidden, in `.data.hid`) becomes a static VAR; its map is then not
 *   BPF_F_MMAPABLE (libbpf's map_is_mmapable: only sections with a non-static VAR are).
 *   `shown_total` (default visibility, `.data.shown`) keeps both.
 * Socket filters so they run on every kernel the suite covers; see tests/permissive.rs. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

__hidden __u64 hidden_total SEC(".data.hid") = 1;
__u64 shown_total SEC(".data.shown") = 2;

__hidden __noinline int hidden_store(__u64 x, long *res)
{
	*res = x * 2;
	return 1;
}

__weak __hidden __noinline int weak_hidden_store(__u64 x, long *res)
{
	*res = x + 5;
	return 2;
}

__noinline int global_store(__u64 x, long *res)
{
	*res = x * 2;
	return 1;
}

/* 21 * 2 + 1 = 43, plus 2 + 5 = 7: returns 50; hidden_total grows by 50 per run. */
SEC("socket")
int hidden_call(struct __sk_buff *skb)
{
	long a = 0, b = 0;
	int r = hidden_store(21, &a) + weak_hidden_store(2, &b);

	hidden_total += a + b + r - 2;
	shown_total += 1;
	return a + b + r - 2;
}

/* Rejected by the verifier: global_store is checked alone and *res may be NULL. */
SEC("socket")
int global_call(struct __sk_buff *skb)
{
	long a = 0;

	global_store(21, &a);
	return a;
}
