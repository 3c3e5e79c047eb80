// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Parallel verification's failure order: eight SEC("tc") programs in this order,
 *   ok_0 ok_1 ok_2 bad_3 ok_4 ok_5 bad_6 unprepared_7
 * where bad_3 and bad_6 read past their map value (the verifier rejects them: "invalid
 * access to map value") and unprepared_7 is a tp_btf program whose attach target no kernel
 * has (the loader fails it before BPF_PROG_LOAD, while preparing it). The loader reports the
 * first failure in program order whatever the number of load threads: bad_3; without bad_3,
 * bad_6; without both, unprepared_7. The ok_N programs loop long enough to overlap. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

static __always_inline int spin(struct __sk_buff *skb)
{
	__u32 acc = skb->len;

	for (__u32 i = 0; i < 300; i++) {
		if (acc & 1)
			acc = acc * 3 + 1;
		else
			acc >>= 1;
		acc ^= i;
	}
	return acc & 0xff;
}

static __always_inline int past_value(__u32 off)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&vals, &key);

	if (!v)
		return 0;
	return *(__u32 *)((char *)v + off);
}

#define OK(N)                                  \
	SEC("tc")                              \
	int ok_##N(struct __sk_buff *skb)      \
	{                                      \
		return spin(skb);              \
	}

OK(0) OK(1) OK(2)

SEC("tc")
int bad_3(struct __sk_buff *skb)
{
	return past_value(64);
}

OK(4) OK(5)

SEC("tc")
int bad_6(struct __sk_buff *skb)
{
	return past_value(128);
}

SEC("tp_btf/corebpf_no_such_tracepoint")
int unprepared_7(void *ctx)
{
	return 0;
}
