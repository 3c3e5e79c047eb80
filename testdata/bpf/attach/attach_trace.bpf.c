// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Attach tests (crates/corebpf/tests/attach*.rs): one counter per program in `counts`,
 * bumped only for the test thread whose tid is in the .rodata `target_tid` (the tests set it
 * with OpenObject::set_global), so parallel tests and other processes do not disturb the
 * counts. Each test loads only the programs it needs (fentry/fexit/fmod_ret/lsm loads are
 * refused on kernels in lockdown). */
#include "vmlinux.h"
#include "corebpf_test.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

enum {
	C_TP = 0,
	C_RAW_TP = 1,
	C_TP_BTF = 2,
	C_UPROBE = 3,
	C_URETPROBE = 4,
	C_KPROBE = 5,
	C_KRETPROBE = 6,
	C_KSYSCALL = 7,
	C_FENTRY = 8,
	C_FEXIT = 9,
	C_FMOD_RET = 10,
	C_LSM = 11,
	C_PERF_EVENT = 12,
	C_UPROBE_ARG = 13,
	C_MAX = 16,
};

const volatile __u32 target_tid = 0;
/* The syscall number raw_tp/tp_btf on sys_enter count (getpid). */
const volatile __s64 target_nr = -1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int mine(void)
{
	return (__u32)bpf_get_current_pid_tgid() == target_tid;
}

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void bump_by(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("tp/syscalls/sys_enter_getpid")
int tp_getpid(void *ctx)
{
	if (mine())
		bump(C_TP);
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_tp_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (mine() && (__s64)ctx->args[1] == target_nr)
		bump(C_RAW_TP);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(tp_btf_sys_enter, struct pt_regs *regs, long id)
{
	if (mine() && id == target_nr)
		bump(C_TP_BTF);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(uprobe_target, __u64 x)
{
	if (mine()) {
		bump(C_UPROBE);
		/* The argument, to check the probe sits at the function's entry. */
		bump_by(C_UPROBE_ARG, x);
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_target, __u64 ret)
{
	if (mine())
		bump(C_URETPROBE);
	return 0;
}

SEC("kprobe")
int kprobe_any(void *ctx)
{
	if (mine())
		bump(C_KPROBE);
	return 0;
}

SEC("kretprobe")
int kretprobe_any(void *ctx)
{
	if (mine())
		bump(C_KRETPROBE);
	return 0;
}

SEC("ksyscall/getpid")
int ksyscall_getpid(void *ctx)
{
	if (mine())
		bump(C_KSYSCALL);
	return 0;
}

SEC("fentry/do_sys_openat2")
int BPF_PROG(fentry_openat2)
{
	if (mine())
		bump(C_FENTRY);
	return 0;
}

SEC("fexit/do_sys_openat2")
int BPF_PROG(fexit_openat2)
{
	if (mine())
		bump(C_FEXIT);
	return 0;
}

/* fmod_ret may attach to security_* functions (and error-injectable ones) since 5.7;
 * returning 0 leaves the return value alone. Triggered by opening a file. */
SEC("fmod_ret/security_file_open")
int BPF_PROG(fmod_ret_file_open, struct file *file, int ret)
{
	if (mine())
		bump(C_FMOD_RET);
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	if (mine())
		bump(C_LSM);
	return 0;
}

SEC("perf_event")
int perf_sample(void *ctx)
{
	bump(C_PERF_EVENT);
	return 0;
}

/* iter/task: one line "tgid pid comm" per task. */
SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	BPF_SEQ_PRINTF(seq, "%d %d %s\n", task->tgid, task->pid, task->comm);
	return 0;
}
