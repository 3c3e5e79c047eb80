// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "enumval": bpf_core_enum_value_exists() and bpf_core_enum_value() on enumerators
 * whose values change, a negative one, a missing one (value read only on a dead branch:
 * poisoned, pruned by the verifier), and a local *enum flavor* whose enumerator names carry
 * the `___flav` suffix too (ignored when matching). */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

enum core_reloc_enumval_e { EV_ONE = 1, EV_TWO = 2, EV_NEG = -1, EV_MISSING = 3 };
enum core_reloc_enumval_e___flav { EV_TWO___flav = 2 };

struct core_enumval_out {
	__u64 one_exists, two_exists, missing_exists, one, two, neg, missing_or_ff, flav_two;
} out SEC(".bss");

SEC("syscall")
int core_enumval(void *ctx)
{
	out.one_exists = bpf_core_enum_value_exists(enum core_reloc_enumval_e, EV_ONE);		/* 1 */
	out.two_exists = bpf_core_enum_value_exists(enum core_reloc_enumval_e, EV_TWO);		/* 1 */
	out.missing_exists = bpf_core_enum_value_exists(enum core_reloc_enumval_e, EV_MISSING);	/* 0 */
	out.one = bpf_core_enum_value(enum core_reloc_enumval_e, EV_ONE);		/* 1 -> 10 */
	out.two = bpf_core_enum_value(enum core_reloc_enumval_e, EV_TWO);		/* 2 -> 20 */
	out.neg = bpf_core_enum_value(enum core_reloc_enumval_e, EV_NEG);		/* -1 -> -100 */
	if (bpf_core_enum_value_exists(enum core_reloc_enumval_e, EV_MISSING))		/* 0 */
		out.missing_or_ff = bpf_core_enum_value(enum core_reloc_enumval_e, EV_MISSING); /* poisoned, dead */
	else
		out.missing_or_ff = 0xff;
	out.flav_two = bpf_core_enum_value(enum core_reloc_enumval_e___flav, EV_TWO___flav);	/* 2 -> 20 */
	return 0;
}

#else /* TARGET */

enum core_reloc_enumval_e { EV_TWO = 20, EV_ONE = 10, EV_NEG = -100, EV_EXTRA = 5 };

enum core_reloc_enumval_e sink SEC(".bss");

#endif
