// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Programs whose verification times differ: twelve SEC("tc") programs `light_N` with a
 * bounded loop of 300 iterations (as many_progs.bpf.c), then `heavy_12`, last in program
 * order, whose loop runs 1,500 iterations of two steps: longer, and about ten times as long
 * to verify, as in real objects, where the long programs are the ones that verify long.
 * Taken in program order by two threads, the heavy one would start once the light ones are
 * done and verify alone at the end; the loader takes the longest first. The object of the
 * whole-object load benchmark. Program `light_N` (data_in = any packet of `len` bytes)
 * returns collatz(len, 300) & 0xffff, `heavy_12` returns
 * (collatz(len, 1500) ^ collatz(len ^ 0x5a5a, 1500)) & 0xffff, with collatz as in
 * many_progs.bpf.c. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#define STEP(acc, i)                       \
	do {                               \
		if (acc & 1)               \
			acc = acc * 3 + 1; \
		else                       \
			acc >>= 1;         \
		acc ^= i;                  \
	} while (0)

#define SPIN(NAME, ITERS)                           \
	SEC("tc")                                   \
	int NAME(struct __sk_buff *skb)             \
	{                                           \
		__u32 acc = skb->len;               \
		for (__u32 i = 0; i < ITERS; i++)   \
			STEP(acc, i);               \
		return acc & 0xffff;                \
	}

SPIN(light_0, 300) SPIN(light_1, 300) SPIN(light_2, 300) SPIN(light_3, 300)
SPIN(light_4, 300) SPIN(light_5, 300) SPIN(light_6, 300) SPIN(light_7, 300)
SPIN(light_8, 300) SPIN(light_9, 300) SPIN(light_10, 300) SPIN(light_11, 300)

SEC("tc")
int heavy_12(struct __sk_buff *skb)
{
	__u32 acc = skb->len, other = skb->len ^ 0x5a5a;

	for (__u32 i = 0; i < 1500; i++) {
		STEP(acc, i);
		STEP(other, i);
	}
	return (acc ^ other) & 0xffff;
}
