// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: __ksym externs as libbpf 1.7 resolves them, without vmlinux.h (the object
 * does not depend on the build machine's kernel). `corebpf relocate --dump` must give the
 * instructions libbpf's bpf_object__prepare() gives (crates/cli/tests/relocate_ksyms.rs).
 * - kfunc_pid (tc, runnable with BPF_PROG_TEST_RUN, Linux 6.2+): kfuncs bpf_task_from_pid and
 *   bpf_task_release, the latter by a flavored name (`___local`: resolved by its essential
 *   name); a resolved weak kfunc's address (`&bpf_task_from_pid___exists`: LD_IMM64
 *   BPF_PSEUDO_BTF_ID of the FUNC); a weak kfunc whose prototype does not match the kernel's
 *   (`bpf_task_from_pid___badproto`: counts as missing, its call is poisoned with
 *   2002000000 + extern index and its address is 0); a missing weak variable (address 0);
 *   typeless `_stext` (address from kallsyms). Returns the pid of task 2 (kthreadd, which
 *   every kernel has; task 1 may not be acquirable in a sandbox): 2, stores
 *   `_stext` and a flags word (bit 0: &bpf_task_from_pid___exists non-zero; bit 1:
 *   &bpf_task_from_pid___badproto non-zero; bit 2: &corebpf_no_such_var non-zero): 1.
 * - ksym_percpu (tc): typed per-CPU variable `runqueues` via bpf_this_cpu_ptr (LD_IMM64
 *   BPF_PSEUDO_BTF_ID of the VAR); loads only where kallsyms lists it (not on a kernel
 *   without CONFIG_KALLSYMS_ALL). */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct task_struct {
	int pid;
} __pai;

struct rq {
	unsigned int nr_running;
} __pai;

extern struct task_struct *bpf_task_from_pid(int pid) __ksym;
extern void bpf_task_release___local(struct task_struct *p) __ksym;
extern struct task_struct *bpf_task_from_pid___exists(int pid) __ksym __weak;
extern struct task_struct *bpf_task_from_pid___badproto(int pid, int extra) __ksym __weak;
extern const int corebpf_no_such_var __ksym __weak;
extern const void _stext __ksym;
extern const struct rq runqueues __ksym;

__u64 stext_addr;
__u32 flags;
__u32 nr_running;

SEC("tc")
int kfunc_pid(struct __sk_buff *skb)
{
	struct task_struct *t;
	int pid;

	flags = 0;
	if (&bpf_task_from_pid___exists)
		flags |= 1;
	if (&bpf_task_from_pid___badproto) {
		flags |= 2;
		t = bpf_task_from_pid___badproto(2, 0);
		if (t)
			bpf_task_release___local(t);
	}
	if (&corebpf_no_such_var)
		flags |= 4;
	stext_addr = (__u64)&_stext;
	t = bpf_task_from_pid(2);
	if (!t)
		return -1;
	pid = t->pid;
	bpf_task_release___local(t);
	return pid;
}

SEC("tc")
int ksym_percpu(struct __sk_buff *skb)
{
	const struct rq *rq = bpf_this_cpu_ptr(&runqueues);

	nr_running = rq->nr_running;
	return 0;
}
