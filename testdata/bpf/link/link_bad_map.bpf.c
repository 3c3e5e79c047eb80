// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Static linking, bad input: declares link_lib.bpf.c's `shared_map` extern with another
 * max_entries (8, not 4). */
#include <linux/bpf.h>
#include "corebpf_test.h"
#include "link_shared.h"

char LICENSE[] SEC("license") = "GPL";

extern struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct stats);
} shared_map SEC(".maps");

SEC("syscall")
int bad_map_prog(void *ctx)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&shared_map, &key) ? 1 : 0;
}
