// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Skeleton generator (crates/gen): one object with every C layout the generator maps to Rust:
 * padding, bitfields (signed, bool, enum, spanning bytes), a union and anonymous members,
 * enums (signed, 64-bit), a keyword-named member, a packed struct, a flexible array member,
 * an anonymous struct behind a typedef, char and nested arrays, a pointer, a ring buffer
 * event type reached only through --type, and a .rodata config struct.
 * Runnable: SEC("syscall") `gen_fill` builds an `event` from the .rodata config into the
 * .bss global `last` and the hash map `by_pid`; returns cfg.mul * 10 + 1. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

enum kind { KIND_NONE = 0, KIND_EXEC = 1, KIND_EXIT = 2 };
enum sgn { SGN_NEG = -2, SGN_POS = 3 };
enum big { BIG_ONE = 1, BIG_HUGE = 0xf000000000000000ULL };

typedef struct {
	__u32 mul;
	__u8 enabled;
	/* 3 bytes of padding */
	__u64 tag;
} cfg_t;

struct flags {
	unsigned int small : 3;
	int neg : 5;
	_Bool on : 1;
	enum kind k : 4;
	unsigned long long wide : 40;
	__u16 after;
};

struct __attribute__((packed)) packed_hdr {
	__u8 version;
	__u32 len;
	__u16 type;
};

struct event {
	__u32 pid;
	/* 4 bytes of padding */
	__u64 ts;
	char comm[16];
	union {
		__u32 as_u32;
		__u64 as_u64;
		struct {
			__u16 lo;
			__u16 hi;
		} parts;
	};
	struct flags flags;
	enum kind kind;
	enum sgn sgn;
	enum big big;
	__u32 type;
	__u16 grid[2][3];
	struct packed_hdr hdr;
	void *ptr;
	__u32 nargs;
	__u64 args[];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct event);
} by_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct ring_event {
	__u32 pid;
	__u8 data[3];
};

/* A ring buffer event is in the BTF only through a use like this one (bpf2go's rule). */
struct ring_event *unused_ring_event __attribute__((unused));

const volatile cfg_t cfg = { .mul = 1, .enabled = 1, .tag = 7 };
struct event last;
__u64 fills = 0;

SEC("syscall")
int gen_fill(void *ctx)
{
	__u32 key = 42;
	struct event *e = &last;

	if (!cfg.enabled)
		return 0;
	e->pid = 42;
	e->ts = cfg.tag;
	e->comm[0] = 'g';
	e->comm[1] = 'e';
	e->comm[2] = 'n';
	e->as_u64 = 0x1122334455667788ULL;
	e->flags.small = 5;
	e->flags.neg = -3;
	e->flags.on = 1;
	e->flags.k = KIND_EXIT;
	e->flags.wide = 0xabcdef1234ULL;
	e->flags.after = 0xbeef;
	e->kind = KIND_EXEC;
	e->sgn = SGN_NEG;
	e->big = BIG_HUGE;
	e->type = cfg.mul;
	e->grid[1][2] = 12;
	e->hdr.version = 2;
	e->hdr.len = 0x01020304;
	e->hdr.type = 9;
	e->nargs = 0;
	fills++;
	bpf_map_update_elem(&by_pid, &key, e, BPF_ANY);
	return cfg.mul * 10 + 1;
}
