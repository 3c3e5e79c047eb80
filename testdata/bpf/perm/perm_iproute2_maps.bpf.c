// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* iproute2-style legacy map definitions (issue 13, item 8): `struct bpf_elf_map` in
 * SEC("maps"), 36 bytes where libbpf's `struct bpf_map_def` has 20. libbpf 1.x refuses legacy
 * maps; libbpf < 1.0 refused non-zero bytes past bpf_map_def. cilium/ebpf keeps them as
 * `MapSpec.Extra`. corebpf reads them as iproute2 does:
 * - `pinning`: PIN_GLOBAL_NS (2) and PIN_OBJECT_NS (1) pin by name under the pin root;
 * - `id` / `inner_id` / `inner_idx`: map-in-map. The outer map's `inner_id` names the map
 *   (by `id`) that is its inner template, and that map goes into slot `inner_idx` of it.
 * `elf_maps_count` (socket filter) bumps `pinned_counts[0]`, then adds 5 to the inner
 * array's slot 0 through `outer` and returns the new value (5, 10, ...). */
#include <linux/bpf.h>
#include "corebpf_test.h"

/* iproute2's include/bpf_elf.h */
struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

#define PIN_NONE 0
#define PIN_OBJECT_NS 1
#define PIN_GLOBAL_NS 2

#define INNER_ID 42

char LICENSE[] SEC("license") = "GPL";

struct bpf_elf_map SEC("maps") pinned_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 4,
	.pinning = PIN_GLOBAL_NS,
};

struct bpf_elf_map SEC("maps") inner_vals = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 1,
	.id = INNER_ID,
	.inner_idx = 0,
};

struct bpf_elf_map SEC("maps") outer = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 1,
	.inner_id = INNER_ID,
};

SEC("socket")
int elf_maps_count(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *c = bpf_map_lookup_elem(&pinned_counts, &k);
	void *inner;
	__u32 *v;

	if (c)
		__sync_fetch_and_add(c, 1);
	inner = bpf_map_lookup_elem(&outer, &k);
	if (!inner)
		return 0;
	v = bpf_map_lookup_elem(inner, &k);
	if (!v)
		return 1;
	*v += 5;
	return *v;
}
