// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* execsnoop: one ring buffer event per exec(), from the sched_process_exec tracepoint.
 * The parent pid comes from task_struct through CO-RE (BPF_CORE_READ), so this one object
 * runs unchanged on every kernel with BTF; corebpf logs each relocation it makes. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 _pad;
	char comm[16];
	char filename[128];
};
/* So that clang describes struct event in the object's BTF, for the skeleton. */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Set from userspace before load: only report children of this process (0: everyone). */
const volatile __u32 target_ppid = 0;

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	struct event *e;

	if (target_ppid && ppid != target_ppid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = ppid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->_pad = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	/* __data_loc: the low 16 bits are the string's offset from the start of the record. */
	bpf_probe_read_kernel_str(&e->filename, sizeof(e->filename),
				  (void *)ctx + (ctx->__data_loc_filename & 0xFFFF));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
