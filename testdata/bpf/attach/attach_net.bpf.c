// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Attach tests (crates/corebpf/tests/attach_net.rs): XDP and TC programs that count UDP
 * packets to `pass_port` (passed) and `drop_port` (dropped), a socket filter counting bytes
 * per IP protocol, and cgroup_skb programs counting a cgroup's packets. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <bpf/bpf_endian.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

enum {
	N_PASS = 0,
	N_DROP = 1,
	N_CG_EGRESS = 2,
	N_CG_INGRESS = 3,
	N_SOCK = 4,
	N_MSG = 5,
	N_MAX = 8,
};

const volatile __u16 pass_port = 0;
const volatile __u16 drop_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, N_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

/* Bytes seen by the socket filter, per IP protocol number. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_bytes SEC(".maps");

static __always_inline void bump(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, n);
}

/* The UDP destination port of an Ethernet frame in [data, end), or 0. */
static __always_inline __u16 udp_dport(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return 0;
	return bpf_ntohs(udp->dest);
}

SEC("xdp")
int xdp_udp(struct xdp_md *ctx)
{
	__u16 port = udp_dport((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	if (port && port == pass_port) {
		bump(N_PASS, 1);
		return XDP_PASS;
	}
	if (port && port == drop_port) {
		bump(N_DROP, 1);
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("tc")
int tc_udp(struct __sk_buff *skb)
{
	__u16 port = udp_dport((void *)(long)skb->data, (void *)(long)skb->data_end);

	if (port && port == pass_port) {
		bump(N_PASS, 1);
		return TC_ACT_OK;
	}
	if (port && port == drop_port) {
		bump(N_DROP, 1);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

SEC("socket")
int sock_bytes(struct __sk_buff *skb)
{
	__u8 proto = 0;
	__u32 key;
	__u64 *v;

	if (bpf_skb_load_bytes_relative(skb, offsetof(struct iphdr, protocol), &proto, 1,
					BPF_HDR_START_NET))
		return skb->len;
	key = proto;
	v = bpf_map_lookup_elem(&proto_bytes, &key);
	if (v)
		__sync_fetch_and_add(v, skb->len);
	bump(N_SOCK, 1);
	return skb->len;
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	bump(N_CG_EGRESS, 1);
	return 1;
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	bump(N_CG_INGRESS, 1);
	return 1;
}

/* sk_msg on a sockmap: counts the messages sent on the sockets in `socks`. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} socks SEC(".maps");

SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	bump(N_MSG, 1);
	return SK_PASS;
}
