// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Static linking, the library half (linked with link_main.bpf.c; see crates/obj/tests/linker.rs).
 * - defines the map `shared_map`, which link_main.bpf.c declares extern;
 * - defines globals `lib_counter` (.data) and `lib_scale` (.rodata), which link_main reads;
 * - a weak `weak_var` and a weak `weak_fn`, both overridden by link_main's strong ones;
 * - a `__hidden` global function (`lib_hidden`) and `both_weak`, weak in both files;
 * - global subprograms called from the other file (`lib_add`, `lib_core`, `bump`);
 * - a static `helper` with the same name as link_main's (each file keeps its own);
 * - CO-RE relocations (a field offset through a flavored struct) and a __kconfig extern.
 * Runnable (SEC("syscall")): lib_prog returns helper(lib_core()) + bump(1) = 1004 + calls. */
#include <linux/bpf.h>
#include "corebpf_test.h"
#include "link_shared.h"

char LICENSE[] SEC("license") = "GPL";

LINK_SHARED_MAP_DEF shared_map SEC(".maps");

int lib_counter = 5;
const volatile int lib_scale = 3;
int weak_var __weak = 1;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;

/* The kernel's struct bpf_insn has imm at byte 4; the local flavor puts it at 0. */
struct bpf_insn___lib {
	int imm;
} __pai;

static __noinline int helper(int x)
{
	return x + 1000;
}

__noinline int lib_add(int a, int b)
{
	return a + b + lib_scale;
}

__weak __noinline int weak_fn(int x)
{
	return x + 1;
}

/* Hidden: global for the linker, static towards the kernel (verified in its caller). */
__hidden __noinline int lib_hidden(int x)
{
	return x * 3;
}

/* Weak in both files: the first input's wins. */
__weak __noinline int both_weak(int x)
{
	return x + 10;
}

__noinline int lib_core(void)
{
	return bpf_core_field_offset(struct bpf_insn___lib, imm);
}

__noinline int bump(__u32 key)
{
	struct stats *s = bpf_map_lookup_elem(&shared_map, &key);

	if (!s)
		return -1;
	s->calls++;
	return (int)s->calls;
}

SEC("syscall")
int lib_prog(void *ctx)
{
	if (LINUX_KERNEL_VERSION == 0)
		return -1;
	return helper(lib_core()) + bump(1);
}
