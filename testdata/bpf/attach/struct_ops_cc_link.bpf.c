// SPDX-License-Identifier: GPL-2.0
/* Two `.struct_ops.link` TCP congestion controls under one name, "corebpf_ccl"
 * (Linux 6.4+): `ccl_one` is registered through a bpf link, then `ccl_two` (the same but
 * for cong_avoid, which counts CALL_CONG_AVOID_TWO) replaces it through the link. */
#include "struct_ops_cc.h"

SEC("struct_ops/cc_cong_avoid_two")
void BPF_PROG(cc_cong_avoid_two, struct sock *sk, __u32 ack, __u32 acked)
{
	count(CALL_CONG_AVOID_TWO);
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC(".struct_ops.link")
struct tcp_congestion_ops ccl_one = {
	.init = (void *)cc_init,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.name = "corebpf_ccl",
};

SEC(".struct_ops.link")
struct tcp_congestion_ops ccl_two = {
	.init = (void *)cc_init,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid_two,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.name = "corebpf_ccl",
};
