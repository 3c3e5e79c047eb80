// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Runnable: a linked list built in an arena (BPF_MAP_TYPE_ARENA, Linux 6.9) by a program and
 * walked from user space.
 *
 * clang >= 18 (COREBPF_HAVE_ARENA): `arena` has 16 pages and map_extra = 1 << 44, declared with
 * __ulong (an ENUM64 in the BTF), so the arena lives at that user address. __arena globals
 * (section .addr_space.1): `list_head` (first node), `node_count`, and `magic` = 0xc0ffee,
 * initial data the loader copies into the arena. arena_list_build (SEC("syscall"), no ctx)
 * returns 2 unless it reads magic == 0xc0ffee, then carves NODES 64-byte nodes out of arena
 * pages it allocates with bpf_arena_alloc_pages (a page per 64 nodes; returns 1 if one fails),
 * pushing each at the head: node i has index i, value i * 3 + 1 and tag[j] = i * 8 + j, so the
 * list runs from node NODES - 1 down to 0. It then sets node_count = NODES, magic = 0xdecaf and
 * returns 0. Pointers stored in the arena are user addresses: user space follows them as they
 * are.
 *
 * clang 14 (no address spaces): the same map with map_extra 0 (clang 14 cannot emit ENUM64:
 * __ulong gives a 32-bit ENUM), no __arena globals, and arena_list_build returns 1 if it can
 * allocate a page (the arena has its address range only once the loader mapped it), else 2. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#define NODES 200
#define ARENA_PAGE 4096

struct {
	__uint(type, COREBPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 16);
#if COREBPF_HAVE_ARENA
	__ulong(map_extra, 1ull << 44);
#else
	__ulong(map_extra, 0);
#endif
} arena SEC(".maps");

#if COREBPF_HAVE_ARENA

struct node {
	struct node __arena *next;
	__u64 value;
	__u32 index;
	__u32 pad;
	__u64 tag[5];
};

struct node __arena *__arena list_head;
__u32 __arena node_count;
__u64 __arena magic = 0xc0ffee;

void __arena *bpf_arena_alloc_pages(void *map, void __arena *addr, __u32 page_cnt, int node_id,
				    __u64 flags) __ksym;

SEC("syscall")
int arena_list_build(void *ctx)
{
	char __arena *page = 0;
	__u32 used = ARENA_PAGE;

	if (magic != 0xc0ffee)
		return 2;
	for (int i = 0; i < NODES; i++) {
		struct node __arena *n;

		if (used + sizeof(*n) > ARENA_PAGE) {
			page = bpf_arena_alloc_pages(&arena, 0, 1, -1, 0);
			if (!page)
				return 1;
			used = 0;
		}
		n = (struct node __arena *)(page + used);
		used += sizeof(*n);
		n->index = i;
		n->value = i * 3 + 1;
		for (int j = 0; j < 5; j++)
			n->tag[j] = i * 8 + j;
		n->next = list_head;
		list_head = n;
	}
	node_count = NODES;
	magic = 0xdecaf;
	return 0;
}

#else

void *bpf_arena_alloc_pages(void *map, void *addr, __u32 page_cnt, int node_id,
			    __u64 flags) __ksym;

SEC("syscall")
int arena_list_build(void *ctx)
{
	return bpf_arena_alloc_pages(&arena, 0, 1, -1, 0) ? 1 : 2;
}

#endif
