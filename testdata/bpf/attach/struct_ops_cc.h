/* SPDX-License-Identifier: GPL-2.0 */
/* A Reno TCP congestion control written as struct_ops programs, shared by the
 * struct_ops_cc* objects: the kernel's own Reno kfuncs do the arithmetic, and every
 * callback counts itself in `calls` so tests see which ran. No vmlinux.h: the local
 * struct tcp_congestion_ops holds only the members used (the loader matches members by
 * name), plus one no kernel has, left NULL. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Complete (if empty) so kfunc prototypes match the kernel's, as a forward declaration would not. */
struct sock {};

struct tcp_congestion_ops {
	void (*init)(struct sock *sk);
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	/* In no kernel: fine while NULL (libbpf 1.4+ skips it). */
	void (*corebpf_future_op)(struct sock *sk);
	__u32 flags;
	char name[16];
};

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

enum { CALL_INIT, CALL_SSTHRESH, CALL_CONG_AVOID, CALL_CONG_AVOID_TWO, CALL_UNDO, CALL_MAX };

/* Calls per callback, read by the tests and the tcp_cc example. */
__u64 calls[CALL_MAX];

static __always_inline void count(int which)
{
	__sync_fetch_and_add(&calls[which], 1);
}

SEC("struct_ops/cc_init")
void BPF_PROG(cc_init, struct sock *sk)
{
	count(CALL_INIT);
}

SEC("struct_ops/cc_ssthresh")
__u32 BPF_PROG(cc_ssthresh, struct sock *sk)
{
	count(CALL_SSTHRESH);
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops/cc_cong_avoid")
void BPF_PROG(cc_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	count(CALL_CONG_AVOID);
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops/cc_undo_cwnd")
__u32 BPF_PROG(cc_undo_cwnd, struct sock *sk)
{
	count(CALL_UNDO);
	return tcp_reno_undo_cwnd(sk);
}
