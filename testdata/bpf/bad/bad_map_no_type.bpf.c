// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Error fixture: a BTF-defined map without `type`. The map type is then 0 (UNSPEC), which the
 * kernel rejects at MAP_CREATE; corebpf should report it at parse time, naming the map. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} no_type SEC(".maps");

SEC("syscall")
int uses_no_type(void *ctx)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&no_type, &k) != 0;
}
