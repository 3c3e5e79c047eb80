/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* The body of usdt_args.bpf.c (libbpf 1.1's installed usdt.bpf.h) and usdt_args17.bpf.c
 * (libbpf 1.7's, vendored in testdata/include/libbpf17): USDT programs written as libbpf's
 * users write them, for crates/corebpf/tests/usdt.rs and testdata/usdt's test program.
 *
 * - usdt_any (SEC("usdt"), attached by the test to any probe with a USDT cookie naming
 *   it): appends a `struct hit` to `hits` with the cookie, bpf_usdt_arg_cnt() and every
 *   bpf_usdt_arg() value and return code.
 * - usdt_sema_typed (SEC("usdt")): BPF_USDT with typed arguments, for corebpf:sema
 *   (long i, int -i): typed[0] += 1, typed[1] = i, typed[2] = -i.
 * - usdt_lib_auto (SEC("usdt/libcorebpf_usdt.so:corebpf_lib:lib"): attaches by SEC name):
 *   BPF_USDT(long i, unsigned short u2, int s4): typed[3] += 1, typed[4..6] = i, u2, s4.
 * Only events of target_pid's process count (0: any). */

char LICENSE[] SEC("license") = "GPL";

#define MAX_HITS 64

struct hit {
	__u64 cookie;
	__s64 arg_cnt;
	__s64 args[12];
	__s32 ret[12];
	__u32 pid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_HITS);
	__type(key, __u32);
	__type(value, struct hit);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __s64);
} typed SEC(".maps");

const volatile __u32 target_pid = 0;
__u32 nhits = 0;

static __always_inline int mine(void)
{
	return !target_pid || (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

static __always_inline void set(__u32 slot, __s64 v)
{
	__s64 *p = bpf_map_lookup_elem(&typed, &slot);

	if (p)
		*p = v;
}

static __always_inline void bump(__u32 slot)
{
	__s64 *p = bpf_map_lookup_elem(&typed, &slot);

	if (p)
		__sync_fetch_and_add(p, 1);
}

SEC("usdt")
int usdt_any(struct pt_regs *ctx)
{
	struct hit *h;
	__u32 i;

	if (!mine())
		return 0;
	/* Not atomic (clang 14's BPF v1 has no fetch-and-add with a result): the test
	 * program is single-threaded. */
	i = nhits;
	nhits = i + 1;
	h = bpf_map_lookup_elem(&hits, &i);
	if (!h)
		return 0;
	h->cookie = bpf_usdt_cookie(ctx);
	h->arg_cnt = bpf_usdt_arg_cnt(ctx);
	h->pid = bpf_get_current_pid_tgid() >> 32;
#pragma unroll
	for (int k = 0; k < 12; k++) {
		long v = 0;

		h->ret[k] = bpf_usdt_arg(ctx, k, &v);
		h->args[k] = v;
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(usdt_sema_typed, long i, int neg)
{
	if (!mine())
		return 0;
	bump(0);
	set(1, i);
	set(2, neg);
	return 0;
}

SEC("usdt/libcorebpf_usdt.so:corebpf_lib:lib")
int BPF_USDT(usdt_lib_auto, long i, unsigned short u2, int s4)
{
	if (!mine())
		return 0;
	bump(3);
	set(4, i);
	set(5, u2);
	set(6, s4);
	return 0;
}
