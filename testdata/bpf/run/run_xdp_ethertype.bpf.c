// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Runnable (BPF_PROG_TEST_RUN, data_in = an Ethernet frame): returns XDP_PASS (2) for IPv4
 * (0x0800) and IPv6 (0x86dd), XDP_DROP (1) for anything else and for frames shorter than
 * an Ethernet header; counts frames per class in `counts` (0 = IPv4, 1 = IPv6, 2 = other). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include "corebpf_test.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("xdp")
int xdp_ethertype(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 idx = 2;
	__u64 *c;
	int verdict = XDP_DROP;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		idx = 0;
		verdict = XDP_PASS;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		idx = 1;
		verdict = XDP_PASS;
	}
	c = bpf_map_lookup_elem(&counts, &idx);
	if (c)
		__sync_fetch_and_add(c, 1);
	return verdict;
}
