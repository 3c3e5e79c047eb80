// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Symbols nothing defines (issue 13, item 8). libbpf refuses the whole object ("failed to
 * find BTF for extern"); corebpf parses it, lists the undefined symbols per program
 * (`corebpf inspect`), fails to load only the programs that use them, and lets a user give
 * an `LD_IMM64` of such a symbol a value before load (`OpenObject::set_symbol_value`), as
 * cilium/ebpf lets a user rewrite the instruction's constant.
 * - `asm_const` returns `PERM_CONST` (inline asm `r0 = PERM_CONST ll`): 42 once set to 42.
 * - `calls_fwd` calls `perm_fwd`, declared but defined nowhere: it can't load.
 * - `plain` uses neither: returns 9. */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

extern int perm_fwd(int x);

SEC("socket")
int asm_const(struct __sk_buff *skb)
{
	__u64 v;

	asm volatile("%0 = PERM_CONST ll" : "=r"(v));
	return v;
}

SEC("socket")
int calls_fwd(struct __sk_buff *skb)
{
	return perm_fwd(skb->len);
}

SEC("socket")
int plain(struct __sk_buff *skb)
{
	return 9;
}
