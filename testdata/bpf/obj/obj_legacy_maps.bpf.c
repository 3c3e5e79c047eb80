// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: legacy `SEC("maps")` map definitions (struct bpf_map_def), as in pre-BTF
 * objects and the kernel's old samples/bpf. libbpf 1.x removed the struct and refuses such
 * maps ("legacy map definitions in 'maps' section are not supported by libbpf v1.0+");
 * corebpf supports them, reading each symbol's bytes as the 5 (or more) u32 fields below.
 * Also carries a `version` section (LINUX_VERSION_CODE, used by old kprobe loaders). */
#include <linux/bpf.h>
#include "corebpf_test.h"

/* The layout libbpf < 1.0 used; defined here because libbpf 1.x dropped it. */
struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

char LICENSE[] SEC("license") = "GPL";
/* 6.1.0 = (6 << 16) | (1 << 8) | 0 */
__u32 _version SEC("version") = 0x060100;

struct bpf_map_def SEC("maps") legacy_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 16,
	.map_flags = BPF_F_NO_PREALLOC,
};

/* Run via test_run: bumps legacy_array[0] and returns its new value (1 on the first run). */
SEC("socket")
int legacy_count(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&legacy_array, &k);

	if (!v)
		return 0;
	*v += 1;
	return *v;
}
