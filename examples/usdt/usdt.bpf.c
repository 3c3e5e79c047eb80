// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* usdt: one ring buffer event per hit of a USDT probe, with every argument as libbpf's
 * usdt.bpf.h reads it (bpf_usdt_arg_cnt, bpf_usdt_arg). SEC("usdt") without a target:
 * the example attaches it to the probe given on its command line. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

struct event {
	__u32 pid;
	__s32 arg_cnt;
	__s64 args[12];
};
/* So that clang describes struct event in the object's BTF, for the skeleton. */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("usdt")
int on_probe(struct pt_regs *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->arg_cnt = bpf_usdt_arg_cnt(ctx);
#pragma unroll
	for (int k = 0; k < 12; k++) {
		long v = 0;

		bpf_usdt_arg(ctx, k, &v);
		e->args[k] = v;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
