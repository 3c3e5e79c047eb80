// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* A realistic tracing object against vmlinux.h, compiled once and relocated by tests against
 * the 5.10/6.1/6.12 BTF in testdata/btf and the running kernel:
 * - task_struct: pid, tgid, comm, real_parent->tgid, cred->uid (BPF_CORE_READ chains);
 * - task_struct::__state (>= 5.14) vs ::state (older) via the `___flavor` trick and
 *   bpf_core_field_exists, as in libbpf's documentation;
 * - pt_regs argument via PT_REGS_PARM1_CORE in a kprobe;
 * - sk_buff len, protocol and dev->ifindex in a tp_btf and a socket-filter-free path (kprobe
 *   on a function taking an skb), plus a tracepoint program.
 * Events go to a ring buffer. */
#include "vmlinux.h"
#include "corebpf_test.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Pre-5.14 layout: `long state`. Only the name matters for matching. */
struct task_struct___pre514 {
	long state;
} __pai;

struct event {
	__u32 pid, tgid, ppid, uid;
	__u64 state;
	__u32 skb_len, skb_ifindex;
	__u16 skb_protocol;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

static __always_inline __u64 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline void fill_task(struct event *e, struct task_struct *t)
{
	e->pid = BPF_CORE_READ(t, pid);
	e->tgid = BPF_CORE_READ(t, tgid);
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->uid = BPF_CORE_READ(t, cred, uid.val);
	e->state = task_state(t);
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
}

static __always_inline void fill_skb(struct event *e, struct sk_buff *skb)
{
	e->skb_len = BPF_CORE_READ(skb, len);
	e->skb_protocol = BPF_CORE_READ(skb, protocol);
	e->skb_ifindex = BPF_CORE_READ(skb, dev, ifindex);
}

/* kprobe: the first argument through pt_regs, CO-RE (pt_regs layout is arch-specific) */
SEC("kprobe/dev_queue_xmit")
int BPF_KPROBE(trace_xmit_kprobe)
{
	struct sk_buff *skb = (struct sk_buff *)PT_REGS_PARM1_CORE(ctx);
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	fill_task(e, (struct task_struct *)bpf_get_current_task());
	fill_skb(e, skb);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* tp_btf: typed arguments, direct (BTF-checked) pointer reads are allowed too */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(trace_xmit_btf, struct sk_buff *skb)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	fill_task(e, bpf_get_current_task_btf());
	fill_skb(e, skb);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* classic tracepoint: the context is the tracepoint's record, read through CO-RE too */
SEC("tracepoint/sched/sched_process_exec")
int trace_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	fill_task(e, (struct task_struct *)bpf_get_current_task());
	e->skb_len = BPF_CORE_READ(ctx, pid);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* socket filter: __sk_buff is the UAPI mirror; the kernel rewrites these loads itself (no
 * CO-RE), so this program has no CO-RE relocations, which is worth testing too. */
SEC("socket")
int trace_socket(struct __sk_buff *skb)
{
	return skb->len > 0 && skb->protocol != 0 && skb->ifindex >= 0 ? skb->len : 0;
}
