// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "type_id": bpf_core_type_id_local() (TYPE_ID_LOCAL: the type's id in the
 * program's own BTF, no candidate search) and bpf_core_type_id_kernel() (TYPE_ID_TARGET: the
 * matching type's id in the target BTF, 0 when there is none). Ids depend on BTF numbering, so
 * expected/core_type_id.json names the type whose id is expected instead of a number. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct core_type_id_a {
	int x;
};
typedef struct core_type_id_a core_type_id_a_t;
struct core_type_id_missing {
	int x;
};

struct core_type_id_out {
	__u64 local_a, local_a_t, local_int, target_a, target_a_t, target_int, target_missing;
} out SEC(".bss");

SEC("syscall")
int core_type_id(void *ctx)
{
	out.local_a = bpf_core_type_id_local(struct core_type_id_a);
	out.local_a_t = bpf_core_type_id_local(core_type_id_a_t);
	out.local_int = bpf_core_type_id_local(int);
	out.target_a = bpf_core_type_id_kernel(struct core_type_id_a);		/* struct core_type_id_a___t */
	out.target_a_t = bpf_core_type_id_kernel(core_type_id_a_t);		/* typedef core_type_id_a_t */
	out.target_int = bpf_core_type_id_kernel(int);				/* int */
	out.target_missing = bpf_core_type_id_kernel(struct core_type_id_missing);	/* 0 */
	return 0;
}

#else /* TARGET */

/* Padding types first so target ids differ from local ids. */
struct core_type_id_pad1 { long a; };
struct core_type_id_pad2 { long b; };
struct core_type_id_a___t {
	int x;
	int y;
};
typedef struct core_type_id_a___t core_type_id_a_t;

struct core_type_id_sinks {
	struct core_type_id_pad1 p1;
	struct core_type_id_pad2 p2;
	core_type_id_a_t a;
	int i;
} sinks SEC(".bss");

#endif
