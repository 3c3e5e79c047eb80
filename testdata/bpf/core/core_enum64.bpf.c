// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "enum64" (clang >= 15: clang 14 emits no BTF_KIND_ENUM64, so its object has a
 * program without relocations): 64-bit enumerator values (patched into an LD_IMM64, "imm64"),
 * an ENUM64 whose target is a 32-bit ENUM, a 32-bit ENUM whose target is an ENUM64 (the two
 * kinds are compatible), and an unsigned 64-bit value with the top bit set. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

#if COREBPF_HAVE_ENUM64
enum core_reloc_enum64_e { E64_BIG = 0xfffffffff0ULL, E64_SMALL = 1 };
enum core_reloc_enum64_shrinks { E64S_A = 0x100000000ULL };
enum core_reloc_enum64_grows { E64G_A = 5 };
enum core_reloc_enum64_u { E64U_TOP = 0x8000000000000001ULL };
#endif

struct core_enum64_out {
	__u64 big, small, shrinks_a, grows_a, u_top, big_exists;
} out SEC(".bss");

SEC("syscall")
int core_enum64(void *ctx)
{
#if COREBPF_HAVE_ENUM64
	out.big = bpf_core_enum_value(enum core_reloc_enum64_e, E64_BIG);	/* -> 0x1122334455 */
	out.small = bpf_core_enum_value(enum core_reloc_enum64_e, E64_SMALL);	/* 1 -> 0x200000000 */
	out.shrinks_a = bpf_core_enum_value(enum core_reloc_enum64_shrinks, E64S_A); /* -> 7 */
	out.grows_a = bpf_core_enum_value(enum core_reloc_enum64_grows, E64G_A);	/* 5 -> 9 */
	out.u_top = bpf_core_enum_value(enum core_reloc_enum64_u, E64U_TOP);	/* -> 0xf000000000000000 */
	out.big_exists = bpf_core_enum_value_exists(enum core_reloc_enum64_e, E64_BIG);	/* 1 */
#endif
	return 0;
}

#else /* TARGET */

#if COREBPF_HAVE_ENUM64
enum core_reloc_enum64_e { E64_SMALL = 0x200000000ULL, E64_BIG = 0x1122334455ULL };
enum core_reloc_enum64_shrinks { E64S_A = 7 };				/* a 32-bit ENUM */
enum core_reloc_enum64_grows { E64G_A = 9, E64G_HUGE = 0x300000000ULL };	/* an ENUM64 */
enum core_reloc_enum64_u { E64U_TOP = 0xf000000000000000ULL };

struct core_enum64_sinks {
	enum core_reloc_enum64_e e;
	enum core_reloc_enum64_shrinks s;
	enum core_reloc_enum64_grows g;
	enum core_reloc_enum64_u u;
} sinks SEC(".bss");
#endif

#endif
