// SPDX-License-Identifier: GPL-2.0
/* A `.struct_ops` TCP congestion control "corebpf_cc": registered by writing the map's
 * value (Linux 5.6+), used by the struct_ops tests and examples/tcp_cc. */
#include "struct_ops_cc.h"

SEC(".struct_ops")
struct tcp_congestion_ops corebpf_cc = {
	.init = (void *)cc_init,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.name = "corebpf_cc",
};
