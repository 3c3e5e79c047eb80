// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* sockex1: the kernel's classic samples/bpf/sockex1 socket filter. Attached to a raw packet
 * socket, it adds the length of each outgoing packet to my_map[IP protocol]. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_HLEN 14
#define IP_PROTO_OFF 9		/* offsetof(struct iphdr, protocol) */
#define PACKET_OUTGOING 4

/* A legacy packet load (BPF_LD_ABS): reads a byte of the packet in network order. */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, long);
	__uint(max_entries, 256);
} my_map SEC(".maps");

SEC("socket")
int bpf_prog1(struct __sk_buff *skb)
{
	__u32 index = load_byte(skb, ETH_HLEN + IP_PROTO_OFF);
	long *value;

	if (skb->pkt_type != PACKET_OUTGOING)
		return 0;
	value = bpf_map_lookup_elem(&my_map, &index);
	if (value)
		__sync_fetch_and_add(value, skb->len);
	return 0;
}
