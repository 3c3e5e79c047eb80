// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Error fixture: compiles, but the verifier rejects it: an array map value is 8 bytes and the
 * program reads at offset 8 (out of bounds). The offending C line carries the marker
 * BAD_VERIFIER_OOB so tests can check the error quotes it from .BTF.ext line info. Expected
 * verifier message: "invalid access to map value, value_size=8 off=8 size=8". */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} small SEC(".maps");

SEC("syscall")
int bad_oob(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&small, &k);

	if (!v)
		return 0;
	return v[1]; /* BAD_VERIFIER_OOB */
}
