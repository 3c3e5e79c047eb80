// SPDX-License-Identifier: GPL-2.0
/* Malformed: a struct_ops member pointing to a subprogram (a function in .text), not to
 * a program. */
#include "../attach/struct_ops_cc.h"

__noinline void helper(struct sock *sk)
{
	count(CALL_INIT);
}

SEC(".struct_ops")
struct tcp_congestion_ops cc_bad_sub = {
	.init = (void *)helper,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.name = "corebpf_badsub",
};
