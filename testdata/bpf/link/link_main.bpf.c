// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Static linking, the main half (linked with link_lib.bpf.c; see crates/obj/tests/linker.rs).
 * - extern functions (`lib_add`, `lib_core`, `bump`), an extern variable (`lib_counter`)
 *   and an extern map (`shared_map`) that link_lib.bpf.c defines;
 * - strong `weak_var` and `weak_fn`, which beat link_lib's weak ones;
 * - its own static `helper` (link_lib has another); an extern `__hidden` function;
 * - `both_weak`, weak here and in link_lib;
 * - CO-RE relocations (field offset, enum value) and a __kconfig extern both files declare.
 * Runnable (SEC("syscall")):
 *   main_prog: r = lib_add(5, 42) [= 50] + weak_fn(10) [= 12] = 62; r += helper(r)
 *             [= 2062] = 2124; + 100 * offsetof(bpf_insn, off) [= 200]
 *             + 10000 * lib_core() [= 40000] + 100000 * BPF_MAP_TYPE_RINGBUF [= 2700000]
 *             = 2742324;
 *   main_map  = bump(1), then the calls counter of shared_map[1] (= bump's count);
 *   main_weak = lib_hidden(both_weak(1)) = 3 * 21 = 63 when link_main is linked first,
 *               3 * 11 = 33 when link_lib is (the first weak definition wins). */
#include <linux/bpf.h>
#include "corebpf_test.h"
#include "link_shared.h"

char LICENSE[] SEC("license") = "GPL";

extern LINK_SHARED_MAP_DEF shared_map SEC(".maps");

extern int lib_counter;
int weak_var = 42;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;

extern int lib_add(int a, int b);
extern int lib_core(void);
extern int bump(__u32 key);
extern __hidden int lib_hidden(int x);

/* The kernel's struct bpf_insn has off at byte 2; the local flavor puts it at 0. */
struct bpf_insn___main {
	short off;
} __pai;

static __noinline int helper(int x)
{
	return x + 2000;
}

__noinline int weak_fn(int x)
{
	return x + 2;
}

SEC("syscall")
int main_prog(void *ctx)
{
	int r = lib_add(lib_counter, weak_var);

	r += weak_fn(10);
	r += helper(r);
	r += bpf_core_field_offset(struct bpf_insn___main, off) * 100;
	r += lib_core() * 10000;
	r += bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF) * 100000;
	if (LINUX_KERNEL_VERSION == 0)
		return -1;
	return r;
}

/* Weak in both files: the first input's wins (x + 20 here, x + 10 in link_lib). */
__weak __noinline int both_weak(int x)
{
	return x + 20;
}

SEC("syscall")
int main_weak(void *ctx)
{
	return lib_hidden(both_weak(1));
}

SEC("syscall")
int main_map(void *ctx)
{
	struct stats *s;
	__u32 key = 1;

	bump(1);
	s = bpf_map_lookup_elem(&shared_map, &key);
	return s ? (int)s->calls : -1;
}
