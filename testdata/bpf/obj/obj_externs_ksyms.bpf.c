// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: .ksyms externs, resolved against kernel BTF (typed) or kallsyms (typeless):
 * - typed per-CPU variable `runqueues` used through bpf_per_cpu_ptr (LD_IMM64 with
 *   BPF_PSEUDO_BTF_ID, imm = BTF id of the VAR in vmlinux);
 * - typeless `_stext`: resolved from /proc/kallsyms into a plain LD_IMM64 of its address
 *   (src_reg 0). (The classic example is bpf_prog_fops, but a kernel without
 *   CONFIG_KALLSYMS_ALL - like the 6.18 test machine - lists no data symbols in kallsyms.);
 * - kfuncs bpf_task_acquire/bpf_task_release in a tp_btf program (BPF_PSEUDO_KFUNC_CALL,
 *   imm = BTF id of the FUNC);
 * - a __weak kfunc that does not exist (call patched to an unreachable guard; bpf_ksym_exists).
 * Load-only (tracing): bpftool prog loadall accepts it on 6.18. */
#include "vmlinux.h"
#include "corebpf_test.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

extern const struct rq runqueues __ksym;
extern const void _stext __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void corebpf_no_such_kfunc(void) __ksym __weak;

__u64 nr_running_cpu0;
__u64 stext_addr;
__u32 acquired_pid;

SEC("raw_tp/sys_enter")
int ksym_vars(void *ctx)
{
	const struct rq *rq = bpf_per_cpu_ptr(&runqueues, 0);

	if (rq)
		nr_running_cpu0 = rq->nr_running;
	stext_addr = (__u64)&_stext;
	return 0;
}

SEC("tp_btf/task_newtask")
int BPF_PROG(ksym_kfunc, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *t = bpf_task_acquire(task);

	if (!t)
		return 0;
	acquired_pid = t->pid;
	bpf_task_release(t);
	if (&corebpf_no_such_kfunc)	/* false: a missing weak kfunc has address 0 */
		corebpf_no_such_kfunc();
	return 0;
}
