// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Runnable: __arena globals in an arena the kernel places. `arena` (4 pages) has no map_extra,
 * so its user address is wherever the loader's first mmap of it lands, which must happen before
 * the program is loaded.
 *
 * clang >= 18 (COREBPF_HAVE_ARENA): __arena globals `runs` = 40 (initial data the loader copies
 * into the arena), `table` (a pointer) and `seed` = 5. arena_globals_run (SEC("syscall"), no
 * ctx): runs += 1; on the first run allocates 2 pages with one bpf_arena_alloc_pages call
 * (returns 1 if that fails) and stores their address in `table`; then writes
 * table[i] = i * runs + seed for i < 16 and table[512 + i] = runs - i (the second page), and
 * returns runs (41 on the first run, 42 on the second, same table).
 *
 * clang 14 (no address spaces): no globals; arena_globals_run returns 1 if it can allocate a page
 * (the arena has its address range only once the loader mapped it), else 2. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, COREBPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4);
} arena SEC(".maps");

#if COREBPF_HAVE_ARENA

__u64 __arena runs = 40;
__u64 __arena *__arena table;
__u64 __arena seed = 5;

void __arena *bpf_arena_alloc_pages(void *map, void __arena *addr, __u32 page_cnt, int node_id,
				    __u64 flags) __ksym;

SEC("syscall")
int arena_globals_run(void *ctx)
{
	__u64 r = ++runs;

	if (!table) {
		table = bpf_arena_alloc_pages(&arena, 0, 2, -1, 0);
		if (!table)
			return 1;
	}
	for (int i = 0; i < 16; i++) {
		table[i] = i * r + seed;
		table[512 + i] = r - i;
	}
	return r;
}

#else

void *bpf_arena_alloc_pages(void *map, void *addr, __u32 page_cnt, int node_id,
			    __u64 flags) __ksym;

SEC("syscall")
int arena_globals_run(void *ctx)
{
	return bpf_arena_alloc_pages(&arena, 0, 1, -1, 0) ? 1 : 2;
}

#endif
