// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* xdp_ip_only: passes frames whose ethertype is IPv4 or IPv6 and drops everything else
 * (ARP included), counting both per CPU. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);	/* [0] passed, [1] dropped */
} counters SEC(".maps");

SEC("xdp")
int xdp_ip_only(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 key = 1;
	int action = XDP_DROP;
	__u64 *count;

	if ((void *)(eth + 1) <= end &&
	    (eth->h_proto == bpf_htons(ETH_P_IP) || eth->h_proto == bpf_htons(ETH_P_IPV6))) {
		key = 0;
		action = XDP_PASS;
	}
	count = bpf_map_lookup_elem(&counters, &key);
	if (count)
		*count += 1;
	return action;
}
