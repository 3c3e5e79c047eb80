/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* Types both halves of the link_* project include: after linking, BTF dedup must leave one
 * copy of each (the self-referential `struct stats` tests dedup through a cycle). */
#pragma once

struct stats {
	__u64 calls;
	struct stats *self;
};

/* The shared map's definition: link_lib.bpf.c defines it, link_main.bpf.c declares it
 * extern with the same definition (libbpf requires extern maps to match exactly). */
#define LINK_SHARED_MAP_DEF                              \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_ARRAY);        \
		__uint(max_entries, 4);                  \
		__type(key, __u32);                      \
		__type(value, struct stats);             \
	}
