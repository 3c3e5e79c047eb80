// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: one program for every SEC() convention libbpf knows, so the section-name
 * table (program type, expected attach type, attach target, sleepable flag) can be tested
 * entry by entry (program name p_<section> says which convention it exercises). Programs
 * do nothing useful; they only must pass
 * the verifier for their type. struct_ops: a minimal `tcp_congestion_ops` map with two
 * callbacks (SEC("struct_ops/...")) and the SEC(".struct_ops") map. */
#include "vmlinux.h"
#include "corebpf_test.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* ---- tracing: kprobes, tracepoints ---- */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(p_kprobe, int dfd) { return 0; }

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(p_kretprobe, long ret) { return 0; }

SEC("uprobe/libc.so.6:malloc")
int BPF_KPROBE(p_uprobe, size_t sz) { return 0; }

SEC("uretprobe/libc.so.6:malloc")
int BPF_KRETPROBE(p_uretprobe, void *ret) { return 0; }

SEC("uprobe.s/libc.so.6:free")
int BPF_KPROBE(p_uprobe_s, void *p) { return 0; }

SEC("ksyscall/getpid")
int p_ksyscall(struct pt_regs *ctx) { return 0; }

SEC("kretsyscall/getpid")
int p_kretsyscall(struct pt_regs *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_openat")
int p_tracepoint(void *ctx) { return 0; }

SEC("tp/syscalls/sys_exit_openat")
int p_tp(void *ctx) { return 0; }

SEC("raw_tracepoint/sys_enter")
int p_raw_tracepoint(struct bpf_raw_tracepoint_args *ctx) { return 0; }

SEC("raw_tp/sys_exit")
int p_raw_tp(struct bpf_raw_tracepoint_args *ctx) { return 0; }

SEC("tp_btf/sched_switch")
int BPF_PROG(p_tp_btf, bool preempt, struct task_struct *prev, struct task_struct *next) { return 0; }

/* ---- BTF-based tracing and LSM ---- */
SEC("fentry/do_unlinkat")
int BPF_PROG(p_fentry, int dfd, struct filename *name) { return 0; }

SEC("fexit/do_unlinkat")
int BPF_PROG(p_fexit, int dfd, struct filename *name, long ret) { return 0; }

SEC("fentry.s/__x64_sys_getpid")
int BPF_PROG(p_fentry_s, struct pt_regs *regs) { return 0; }

/* fmod_ret needs an ALLOW_ERROR_INJECTION function; bpf_modify_return_test is one */
SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(p_fmod_ret, int a, int *b, int ret) { return 0; }

SEC("lsm/file_open")
int BPF_PROG(p_lsm, struct file *file) { return 0; }

SEC("lsm.s/bprm_committed_creds")
int BPF_PROG(p_lsm_s, struct linux_binprm *bprm) { return 0; }

SEC("iter/task")
int p_iter(struct bpf_iter__task *ctx) { return 0; }

/* ---- networking ---- */
SEC("xdp")
int p_xdp(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp.frags")
int p_xdp_frags(struct xdp_md *ctx) { return XDP_PASS; }

SEC("tc")
int p_tc(struct __sk_buff *skb) { return 0; }

SEC("tcx/ingress")
int p_tcx_ingress(struct __sk_buff *skb) { return 0; }

SEC("tcx/egress")
int p_tcx_egress(struct __sk_buff *skb) { return 0; }

SEC("classifier")
int p_classifier(struct __sk_buff *skb) { return 0; }

SEC("socket")
int p_socket(struct __sk_buff *skb) { return 0; }

SEC("sk_skb/stream_parser")
int p_sk_skb_parser(struct __sk_buff *skb) { return skb->len; }

SEC("sk_skb/stream_verdict")
int p_sk_skb_verdict(struct __sk_buff *skb) { return SK_PASS; }

SEC("sk_msg")
int p_sk_msg(struct sk_msg_md *msg) { return SK_PASS; }

SEC("sockops")
int p_sockops(struct bpf_sock_ops *ops) { return 1; }

SEC("cgroup_skb/ingress")
int p_cgroup_skb_ingress(struct __sk_buff *skb) { return 1; }

SEC("cgroup_skb/egress")
int p_cgroup_skb_egress(struct __sk_buff *skb) { return 1; }

SEC("cgroup/sock_create")
int p_cgroup_sock_create(struct bpf_sock *sk) { return 1; }

SEC("cgroup/connect4")
int p_cgroup_connect4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/getsockopt")
int p_cgroup_getsockopt(struct bpf_sockopt *ctx) { return 1; }

SEC("cgroup/sysctl")
int p_cgroup_sysctl(struct bpf_sysctl *ctx) { return 1; }

/* ---- others ---- */
SEC("perf_event")
int p_perf_event(struct bpf_perf_event_data *ctx) { return 0; }

SEC("syscall")
int p_syscall(void *ctx) { return 0; }

/* ---- struct_ops: a tcp_congestion_ops with the mandatory callbacks ---- */
SEC("struct_ops/corebpf_ssthresh")
__u32 BPF_PROG(p_ssthresh, struct sock *sk) { return 2; }

SEC("struct_ops/corebpf_cong_avoid")
void BPF_PROG(p_cong_avoid, struct sock *sk, __u32 ack, __u32 acked) { }

SEC("struct_ops/corebpf_undo_cwnd")
__u32 BPF_PROG(p_undo_cwnd, struct sock *sk) { return 2; }

SEC(".struct_ops")
struct tcp_congestion_ops corebpf_cc = {
	.ssthresh = (void *)p_ssthresh,
	.cong_avoid = (void *)p_cong_avoid,
	.undo_cwnd = (void *)p_undo_cwnd,
	.name = "corebpf_cc",
};
