// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Parallel verification: 16 SEC("tc") programs whose verification takes real time (a
 * bounded loop of ITERS iterations over an unknown value, with a branch the verifier
 * explores each time), each with CO-RE relocations against the kernel's `struct sk_buff`
 * and `struct task_struct`, and one shared map. Program `many_N` (data_in = any packet of
 * `len` bytes) returns collatz(len + N, ITERS) & 0xffff, where
 *   collatz(a, n) = for i in 0..n: a = (a odd ? 3a + 1 : a / 2) ^ i   (u32 arithmetic)
 * plus 0x10000 if the kernel's `struct task_struct` has `pid` (it always has). Each run also
 * adds 1 to slot N of `runs`. many_progs_heavy.bpf.c is the same with a longer loop, for the
 * load benchmark. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef ITERS
#define ITERS 300
#endif

struct task_struct {
	int pid;
} __pai;

struct sk_buff {
	unsigned int len;
} __pai;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

static __always_inline int many(struct __sk_buff *skb, __u32 n)
{
	__u32 acc = skb->len + n;
	__u64 *count;

	for (__u32 i = 0; i < ITERS; i++) {
		if (acc & 1)
			acc = acc * 3 + 1;
		else
			acc >>= 1;
		acc ^= i;
	}
	count = bpf_map_lookup_elem(&runs, &n);
	if (count)
		__sync_fetch_and_add(count, 1);
	acc &= 0xffff;
	if (bpf_core_field_exists(struct task_struct, pid) &&
	    bpf_core_field_size(struct sk_buff, len) == 4)
		acc |= 0x10000;
	return acc;
}

#define MANY(N)                                      \
	SEC("tc")                                    \
	int many_##N(struct __sk_buff *skb)          \
	{                                            \
		return many(skb, N);                 \
	}

MANY(0) MANY(1) MANY(2) MANY(3) MANY(4) MANY(5) MANY(6) MANY(7)
MANY(8) MANY(9) MANY(10) MANY(11) MANY(12) MANY(13) MANY(14) MANY(15)
