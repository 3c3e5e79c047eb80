// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: subprograms and calls.
 * - static __noinline and global (non-static, verified on their own) subprograms;
 * - a call chain of depth 3 (prog -> level1 -> level2 -> level3), no recursion;
 * - a subprogram (`shared_add`) called from two programs: the loader must append it to both;
 * - callbacks: bpf_loop and bpf_for_each_map_elem (the callback is a subprogram referenced
 *   by an LD_IMM64 with src_reg BPF_PSEUDO_FUNC, not by a call).
 * Runnable (SEC("syscall"), no ctx): return values in expected/runs.json. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

static __noinline int level3(int x)
{
	return x * 2;
}

static __noinline int level2(int x)
{
	return level3(x) + 1;
}

/* global: verified independently, args are scalars */
__noinline int level1(int x)
{
	return level2(x) + 10;
}

static __noinline int shared_add(int a, int b)
{
	return a + b;
}

/* call chain: level1(5) = (5*2 + 1) + 10 = 21 */
SEC("syscall")
int subprog_chain(void *ctx)
{
	return shared_add(level1(5), 0);
}

struct loop_ctx {
	__u64 sum;
};

static int loop_cb(__u32 i, void *data)
{
	struct loop_ctx *c = data;

	c->sum += i;
	return 0;
}

/* bpf_loop: sum of 0..9 = 45, plus shared_add(45, 100) = 145 */
SEC("syscall")
int subprog_loop(void *ctx)
{
	struct loop_ctx c = { .sum = 0 };

	bpf_loop(10, loop_cb, &c, 0);
	return shared_add((int)c.sum, 100);
}

static __u64 each_cb(void *map, __u32 *key, __u64 *val, struct loop_ctx *c)
{
	c->sum += *val + *key;
	return 0;
}

static __always_inline void set_val(__u32 k, __u64 v)
{
	bpf_map_update_elem(&vals, &k, &v, BPF_ANY);
}

/* bpf_for_each_map_elem over vals = {1, 2, 3, 4} (set here first): (1+2+3+4) + (0+1+2+3) = 16 */
SEC("syscall")
int subprog_for_each(void *ctx)
{
	struct loop_ctx c = { .sum = 0 };

	set_val(0, 1);
	set_val(1, 2);
	set_val(2, 3);
	set_val(3, 4);
	bpf_for_each_map_elem(&vals, each_cb, &c, 0);
	return (int)c.sum;
}
