// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Fixture for `corebpf load`: two programs, one the verifier rejects (out-of-bounds map
 * value read, marked BAD_OOB), so loading both fails and each is then loaded alone.
 * Rebuild from the workspace root:
 *   clang -O2 -g -target bpf -I testdata/include -idirafter /usr/include/x86_64-linux-gnu \
 *     -c crates/cli/tests/data/two_progs_one_bad.bpf.c \
 *     -o crates/cli/tests/data/two_progs_one_bad.bpf.o && llvm-strip -g <that .o> */
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
int good(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&small, &k);

	if (!v)
		return 0;
	return *v + 1;
}

SEC("syscall")
int bad(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&small, &k);

	if (!v)
		return 0;
	return v[1]; /* BAD_OOB */
}
