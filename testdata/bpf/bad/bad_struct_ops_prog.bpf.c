// SPDX-License-Identifier: GPL-2.0
/* Malformed: a struct_ops member pointing to a tracepoint program, which the kernel
 * would refuse in an ops table. */
#include "../attach/struct_ops_cc.h"

SEC("tp/syscalls/sys_enter_getpid")
int not_struct_ops(void *ctx)
{
	return 0;
}

SEC(".struct_ops")
struct tcp_congestion_ops cc_bad = {
	.init = (void *)not_struct_ops,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.name = "corebpf_bad",
};
