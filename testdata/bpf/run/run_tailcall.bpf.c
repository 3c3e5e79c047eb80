// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Runnable: tail calls through a BPF_MAP_TYPE_PROG_ARRAY whose slots are filled by the loader
 * from the map's initial values (`.values = { [0] = &tail_a, [2] = &tail_b }`, relocations in
 * the `.maps` section against program symbols). Entry `tail_entry` (SEC("tc"), data_in = any
 * 14+ byte packet) tail-calls slot `slot` (.rodata, default 0): tail_a returns 42, tail_b 84;
 * an empty slot falls through and returns 7. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 slot = 0;

SEC("tc")
int tail_a(struct __sk_buff *skb)
{
	return 42;
}

SEC("tc")
int tail_b(struct __sk_buff *skb)
{
	return 84;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jmp_table SEC(".maps") = {
	.values = {
		[0] = (void *)&tail_a,
		[2] = (void *)&tail_b,
	},
};

SEC("tc")
int tail_entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp_table, slot);
	return 7;
}
