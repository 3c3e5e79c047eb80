// SPDX-License-Identifier: GPL-2.0
/* A struct_ops program no map uses (`cc_stray`): libbpf refuses to load it ("isn't
 * referenced anywhere"); with its autoload off the rest loads. `?.struct_ops` map
 * `cc_optional` is not created by default, and its program `cc_optional_init` (used by
 * nothing else) is then not loaded. */
#include "struct_ops_cc.h"

SEC("struct_ops/cc_stray")
void BPF_PROG(cc_stray, struct sock *sk)
{
}

SEC("struct_ops/cc_optional_init")
void BPF_PROG(cc_optional_init, struct sock *sk)
{
}

SEC(".struct_ops")
struct tcp_congestion_ops cc_main = {
	.init = (void *)cc_init,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.name = "corebpf_unused",
};

SEC("?.struct_ops")
struct tcp_congestion_ops cc_optional = {
	.init = (void *)cc_optional_init,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.name = "corebpf_opt",
};
