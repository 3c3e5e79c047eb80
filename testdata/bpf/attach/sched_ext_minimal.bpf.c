// SPDX-License-Identifier: GPL-2.0
/* A minimal sched_ext scheduler in the style of scx_simple's global FIFO: every task is
 * inserted into the global dispatch queue with the default slice. Callbacks count
 * themselves so a test sees that tasks ran on it; `exit` records why the scheduler
 * stopped. No vmlinux.h: the local struct sched_ext_ops holds only the members used
 * (matched by name). sched_ext registers through a link only (.struct_ops.link). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Complete (if empty) so the kfunc prototype matches the kernel's. */
struct task_struct {};

enum scx_exit_kind { SCX_EXIT_NONE };

struct scx_exit_info {
	enum scx_exit_kind kind;
} __attribute__((preserve_access_index));

struct sched_ext_ops {
	void (*enqueue)(struct task_struct *p, __u64 enq_flags);
	void (*running)(struct task_struct *p);
	void (*exit)(struct scx_exit_info *ei);
	__u64 flags;
	char name[128];
};

#define SCX_DSQ_GLOBAL ((1ULL << 63) | 1)
#define SCX_SLICE_DFL 20000000ULL

extern void scx_bpf_dsq_insert(struct task_struct *p, __u64 dsq_id, __u64 slice,
			       __u64 enq_flags) __ksym;

__u64 enqueued, ran;
int exit_kind = -1;

SEC("struct_ops/minimal_enqueue")
void BPF_PROG(minimal_enqueue, struct task_struct *p, __u64 enq_flags)
{
	__sync_fetch_and_add(&enqueued, 1);
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SEC("struct_ops/minimal_running")
void BPF_PROG(minimal_running, struct task_struct *p)
{
	__sync_fetch_and_add(&ran, 1);
}

SEC("struct_ops/minimal_exit")
void BPF_PROG(minimal_exit, struct scx_exit_info *ei)
{
	exit_kind = ei->kind;
}

SEC(".struct_ops.link")
struct sched_ext_ops minimal_ops = {
	.enqueue = (void *)minimal_enqueue,
	.running = (void *)minimal_running,
	.exit = (void *)minimal_exit,
	.name = "corebpf_minimal",
};
