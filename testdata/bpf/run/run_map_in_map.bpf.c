// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Runnable: maps of maps with initial values. `outer_arr` (ARRAY_OF_MAPS) and `outer_hash`
 * (HASH_OF_MAPS) declare their inner map type with `__array(values, struct inner)`; slot 0
 * of outer_arr is inner_a and key 5 of outer_hash is inner_b (ELF relocations in .maps).
 * The inner arrays start zeroed; the program writes
 * inner_a[0] = 11 and inner_b[0] = 22 through the outer maps, then returns
 * inner_a[0] + inner_b[0] = 33 (SEC("syscall"), no ctx). Missing entries return -1/-2. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer_arr SEC(".maps") = {
	.values = { [0] = &inner_a },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_hash SEC(".maps") = {
	.values = { [5] = &inner_b },
};

static __always_inline __u64 *slot0(void *outer, __u32 key)
{
	__u32 zero = 0;
	void *in = bpf_map_lookup_elem(outer, &key);

	return in ? bpf_map_lookup_elem(in, &zero) : 0;
}

SEC("syscall")
int map_in_map(void *ctx)
{
	__u64 *a = slot0(&outer_arr, 0);
	__u64 *b = slot0(&outer_hash, 5);

	if (!a)
		return -1;
	if (!b)
		return -2;
	*a = 11;
	*b = 22;
	return *a + *b;
}
