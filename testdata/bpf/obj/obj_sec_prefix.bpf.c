// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: SEC names no libbpf definition matches but aya and cilium/ebpf accept by
 * prefix (`<kind>/<program name>`, as aya's and older loaders' macros write them). corebpf
 * accepts them the same way; each program runs with BPF_PROG_TEST_RUN and returns a value
 * that says it ran as its type: the packet length plus a per-program constant, or an action. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

/* socket filter: keep len + 1 bytes */
SEC("socket/my_filter")
int pfx_socket(struct __sk_buff *skb) { return skb->len + 1; }

/* XDP: drop packets shorter than 100 bytes */
SEC("xdp/my_xdp")
int pfx_xdp(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data < 100 ? XDP_DROP : XDP_PASS;
}

/* TC classifier and action */
SEC("classifier/my_cls")
int pfx_classifier(struct __sk_buff *skb) { return skb->len + 3; }

SEC("action/my_act")
int pfx_action(struct __sk_buff *skb) { return skb->len + 4; }

/* cgroup skb: 1 lets the packet through */
SEC("cgroup_skb/ingress/my_ingress")
int pfx_cgroup_skb(struct __sk_buff *skb) { return 1; }
