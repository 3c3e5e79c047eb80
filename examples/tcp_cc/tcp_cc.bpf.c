// SPDX-License-Identifier: GPL-2.0
/* tcp_cc: a Reno TCP congestion control written in BPF, registered as "bpf_reno".
 * The programs (and their call counters) are the struct_ops tests' own. */
#include "../../testdata/bpf/attach/struct_ops_cc.h"

SEC(".struct_ops")
struct tcp_congestion_ops bpf_reno = {
	.init = (void *)cc_init,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.name = "bpf_reno",
};
