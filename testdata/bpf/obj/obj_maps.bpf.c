// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: BTF-defined maps (.maps) of many types and every definition attribute:
 * key/value by __type (sizes from BTF) and by __uint(key_size/value_size), map_flags,
 * numa_node, map_extra, pinning, keyless maps (queue/stack/bloom/ringbuf).
 * Each definition's comment states the map spec a parser must produce. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

/* key/value by BTF type: key_size 4, value_size 8 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} m_array SEC(".maps");

/* key/value by size only (no BTF key/value type) and BPF_F_NO_PREALLOC */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__uint(key_size, 8);
	__uint(value_size, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} m_hash_sized SEC(".maps");

struct pair {
	__u32 a;
	__u32 b;
};

/* struct value type: value_size 8 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct pair);
} m_percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} m_percpu_array SEC(".maps");

/* numa_node is only used by the kernel with BPF_F_NUMA_NODE in map_flags */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32);
	__type(key, __u64);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NUMA_NODE);
	__uint(numa_node, 0);
} m_lru_hash SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

/* LPM tries must be created with BPF_F_NO_PREALLOC */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__type(key, struct lpm_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} m_lpm SEC(".maps");

/* queue/stack: no key (key_size 0) */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} m_queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__uint(value_size, 8);
} m_stack SEC(".maps");

/* bloom filter: no key, map_extra = number of hash functions */
struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 100);
	__type(value, __u64);
	__uint(map_extra, 3);
} m_bloom SEC(".maps");

/* ring buffer: max_entries is the byte size (a power-of-2 multiple of the page size) */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16384);
} m_ringbuf SEC(".maps");

/* perf event array: key/value sizes 4, max_entries 0 means "number of CPUs" for libbpf */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} m_perf SEC(".maps");

/* stack traces: value is an array of 127 u64 instruction pointers */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16);
	__type(key, __u32);
	__uint(value_size, 127 * sizeof(__u64));
} m_stack_trace SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} m_sockmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} m_devmap SEC(".maps");

/* pinned by name under the pin root (libbpf default /sys/fs/bpf/m_pinned) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} m_pinned SEC(".maps");

/* One program touching a few maps, so the object loads and map references get relocated
 * (LD_IMM64 with src_reg BPF_PSEUDO_MAP_FD). Not SEC("syscall"): that one is sleepable, and
 * sleepable programs may not use queue or bloom filter maps. */
SEC("xdp")
int obj_maps_touch(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&m_array, &k);
	__u64 x = 7;

	if (v)
		*v += 1;
	bpf_map_push_elem(&m_queue, &k, 0);
	bpf_map_push_elem(&m_bloom, &x, 0);
	return XDP_PASS;
}
