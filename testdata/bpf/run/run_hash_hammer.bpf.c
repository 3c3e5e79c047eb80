// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Runnable: a hash map written by BPF and by user space at once (tests/concurrency.rs).
 * `hammer` (BPF_F_NO_PREALLOC: an update replaces the element, so readers see the old or
 * the new value whole) maps a u32 key to a pair {a, b} that every writer keeps equal.
 * `hammer_write` (SEC("raw_tp"), run with BPF_PROG_TEST_RUN, ctx = {u64 key, u64 val})
 * sets key to {val, val}, then counts the run in key 0's pair with two atomic adds (key 0
 * is created by user space; it returns 1 if key 0 was there, else 0). */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct pair {
	__u64 a;
	__u64 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct pair);
} hammer SEC(".maps");

SEC("raw_tp")
int hammer_write(__u64 *ctx)
{
	__u32 key = ctx[0], zero = 0;
	struct pair p = { ctx[1], ctx[1] }, *hits;

	bpf_map_update_elem(&hammer, &key, &p, BPF_ANY);
	hits = bpf_map_lookup_elem(&hammer, &zero);
	if (!hits)
		return 0;
	__sync_fetch_and_add(&hits->a, 1);
	__sync_fetch_and_add(&hits->b, 1);
	return 1;
}
