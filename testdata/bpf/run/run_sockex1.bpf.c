// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Runnable: the kernel's classic samples/bpf sockex1 socket filter. For each packet it adds
 * skb->len to `my_map[ip protocol]`, reading the protocol byte with the legacy
 * load_byte (BPF_LD_ABS) instruction, and returns 0. With BPF_PROG_TEST_RUN on a socket
 * filter, data_in is an Ethernet frame; skb->len is the frame length minus the 14-byte
 * Ethernet header (the kernel pulls it), and load_byte offsets are relative to the network
 * header. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <stddef.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} my_map SEC(".maps");

/* BPF_LD_ABS | BPF_B, as in samples/bpf/bpf_legacy.h */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

SEC("socket")
int sockex1(struct __sk_buff *skb)
{
	__u32 index = load_byte(skb, offsetof(struct iphdr, protocol));
	__u64 *value;

	if (skb->pkt_type != 0 /* PACKET_HOST */)
		return 0;
	value = bpf_map_lookup_elem(&my_map, &index);
	if (value)
		__sync_fetch_and_add(value, skb->len);
	return 0;
}
