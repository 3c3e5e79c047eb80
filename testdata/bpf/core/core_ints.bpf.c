// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "ints": signed and unsigned integers of every size.
 * - direct reads of unsigned ints whose target size differs: the loader patches both the LDX
 *   offset and its size (mem_sz; zero extension keeps the value right);
 * - direct reads of signed ints with the same size: offset only;
 * - a signed int that grew (s16: int16 -> int32) is read with BPF_CORE_READ_BITFIELD_PROBED,
 *   which works for any integer via byte_off/byte_sz/lshift/rshift/signed;
 * - bpf_core_field_signed() on a field whose signedness flips in the target. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct core_reloc_ints {
	__u8 u8;	/* 0 */
	__s8 s8;	/* 1 */
	__u16 u16;	/* 2 */
	__s16 s16;	/* 4 */
	__u32 u32;	/* 8 */
	__s32 s32;	/* 12 */
	__u64 u64;	/* 16 */
	__s64 s64;	/* 24 */
	int flip;	/* 32 */
} __pai;		/* sizeof 40 */

COREBPF_INPUT_BUFFER;

struct core_ints_out {
	__u64 u8, s8, u16, s16, u32, s32, u64, s64, flip, s8_signed, flip_signed;
} out SEC(".bss");

SEC("syscall")
int core_ints(void *ctx)
{
	struct core_reloc_ints *in = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.u8 = in->u8;	/* 0:0 off 0 -> 8,  mem_sz 1 -> 8 */
	out.s8 = in->s8;	/* 0:1 off 1 -> 16 */
	out.u16 = in->u16;	/* 0:2 off 2 -> 20, mem_sz 2 -> 4 */
	out.s16 = BPF_CORE_READ_BITFIELD_PROBED(in, s16); /* 0:3 -> off 24, sz 4, lshift 32, rshift 32, signed */
	out.u32 = in->u32;	/* 0:4 off 8 -> 28, mem_sz 4 -> 2 */
	out.s32 = in->s32;	/* 0:5 off 12 -> 32 */
	out.u64 = in->u64;	/* 0:6 off 16 -> 40 */
	out.s64 = in->s64;	/* 0:7 off 24 -> 0 */
	out.flip = in->flip;	/* 0:8 off 32 -> 36 (same size, so no mem_sz change) */
	out.s8_signed = bpf_core_field_signed(in->s8);		/* 1 */
	out.flip_signed = bpf_core_field_signed(in->flip);	/* 1 -> 0 */
	return 0;
}

#else /* TARGET */

struct core_reloc_ints___target {
	__s64 s64;		/* 0 */
	__u64 u8;		/* 8 */
	__s8 s8;		/* 16 */
	__u32 u16;		/* 20 */
	__s32 s16;		/* 24 */
	__u16 u32;		/* 28 */
	__s32 s32;		/* 32 */
	unsigned int flip;	/* 36 */
	__u64 u64;		/* 40 */
};				/* sizeof 48 */

COREBPF_TARGET_INPUT(struct core_reloc_ints___target) = {
	.s64 = -64, .u8 = 0xf8, .s8 = -8, .u16 = 0xfff6, .s16 = -16, .u32 = 0xfff2, .s32 = -32,
	.flip = 0xffffffff, .u64 = 0xfedcba9876543210ULL,
};

#endif
