// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: the SEC forms of libbpf 1.4-1.7's table that obj_sec_names lacks, one
 * program each (program name p_<section> says which): the session forms (kprobe.session,
 * uprobe.session[.s], fsession[.s]), netkit, the multi-probe forms and their sleepable
 * variants, and lsm_cgroup (whose target, like lsm's, is the hook bpf_lsm_<name>). Each program does something only its SEC form allows, so a test can tell from
 * the kernel's verdict that the right attach type and flags were passed at load:
 * - the session programs call the kfunc bpf_session_is_return(), which the kernel allows
 *   only in kprobe/uprobe session programs (expected attach type *_SESSION) - where the
 *   kernel has it;
 * - the sleepable programs call bpf_copy_from_user(), which needs BPF_F_SLEEPABLE;
 * - the netkit programs run with BPF_PROG_TEST_RUN and return the packet length plus a
 *   per-program constant (primary +1, peer +2).
 * Kernels: kprobe.session 6.10, uprobe.session 6.13, netkit 6.7, kprobe.multi 5.18,
 * uprobe.multi 6.6, lsm_cgroup 6.0, fsession 7.0 (newer than the 6.18 test kernel: its
 * programs must fail with an error naming 7.0). */
#include "vmlinux.h"
#include "corebpf_test.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Declared here: the 6.18 vmlinux.h of bpftool 7.1 has no kfunc prototypes. Weak, so that
 * kernels without it (before 6.10) load the programs without the call. (Linux 7.0 gave it a
 * ctx argument; this is the 6.10-6.19 prototype.) */
extern bool bpf_session_is_return(void) __ksym __weak;

/* A session program returns 0 or 1 (1 at entry: skip the return probe). Entry: 1, return:
 * 0; 0 where the kernel has no session kfunc. */
static __always_inline int session_side(void)
{
	if (!&bpf_session_is_return)
		return 0;
	return bpf_session_is_return() ? 0 : 1;
}

/* ---- kprobe session and multi-kprobes ---- */
SEC("kprobe.session/do_unlinkat")
int p_kprobe_session(struct pt_regs *ctx)
{
	return session_side();
}

SEC("kprobe.multi/do_unlink*")
int p_kprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("kretprobe.multi/do_unlink*")
int p_kretprobe_multi(struct pt_regs *ctx) { return 0; }

/* ---- uprobe session and multi-uprobes, sleepable or not ---- */
SEC("uprobe.session/libc.so.6:getpid")
int p_uprobe_session(struct pt_regs *ctx)
{
	return session_side();
}

SEC("uprobe.session.s/libc.so.6:getpid")
int p_uprobe_session_s(struct pt_regs *ctx)
{
	char buf[8];

	if (bpf_copy_from_user(buf, sizeof(buf), (void *)PT_REGS_SP(ctx)))
		return 1;
	return session_side();
}

SEC("uprobe.multi/libc.so.6:getpid")
int p_uprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("uretprobe.multi/libc.so.6:getpid")
int p_uretprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("uprobe.multi.s/libc.so.6:getpid")
int p_uprobe_multi_s(struct pt_regs *ctx)
{
	char buf[8];

	return bpf_copy_from_user(buf, sizeof(buf), (void *)PT_REGS_SP(ctx)) ? 1 : 0;
}

SEC("uretprobe.multi.s/libc.so.6:getpid")
int p_uretprobe_multi_s(struct pt_regs *ctx)
{
	char buf[8];

	return bpf_copy_from_user(buf, sizeof(buf), (void *)PT_REGS_SP(ctx)) ? 1 : 0;
}

/* ---- fsession: fentry and fexit in one program (Linux 7.0) ---- */
SEC("fsession/vfs_read")
int BPF_PROG(p_fsession, struct file *file, char *buf, size_t count) { return 0; }

SEC("fsession.s/__x64_sys_nanosleep")
int BPF_PROG(p_fsession_s, const struct pt_regs *regs) { return 0; }

/* ---- netkit ---- */
SEC("netkit/primary")
int p_netkit_primary(struct __sk_buff *skb) { return skb->len + 1; }

SEC("netkit/peer")
int p_netkit_peer(struct __sk_buff *skb) { return skb->len + 2; }

/* ---- lsm_cgroup: the attach target is the LSM hook bpf_lsm_<name>, as for lsm ---- */
SEC("lsm_cgroup/socket_bind")
int BPF_PROG(p_lsm_cgroup, struct socket *sock, struct sockaddr *address, int addrlen)
{
	return 1;
}
