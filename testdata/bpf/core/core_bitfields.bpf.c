// SPDX-License-Identifier: (MIT OR Apache-2.0)
// corebpf-build: target
/* CO-RE family "bitfields": the target moves and resizes bitfields, turns a bitfield into a
 * plain integer and a plain integer into a bitfield. Every field is read with
 * BPF_CORE_READ_BITFIELD_PROBED (bpf_probe_read_kernel of byte_sz bytes at byte_off, then the
 * lshift/rshift/signed relocations); ub2 and sb4 also with BPF_CORE_READ_BITFIELD (direct
 * loads selected by the byte_sz relocation). Layouts in bits are noted on each member. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TARGET

struct core_reloc_bitfields {
	__u8 ub1: 1;		/* bit 0 */
	__u8 ub2: 2;		/* bits 1..2 */
	__u32 ub7: 7;		/* bits 3..9 */
	__s8 sb4: 4;		/* bits 10..13 (fits the s8 unit at byte 1) */
	__s32 sb20: 20;		/* bits 32..51 (does not fit the s32 unit at 0) */
	__u32 u32;		/* plain, 4-aligned: byte 8 */
} __pai;

COREBPF_INPUT_BUFFER;

struct core_bitfields_out {
	__u64 ub1, ub2, ub7, sb4, sb20, u32, ub2_direct, sb4_direct;
} out SEC(".bss");

SEC("syscall")
int core_bitfields(void *ctx)
{
	struct core_reloc_bitfields *in = (void *)corebpf_in;

	corebpf_copy_ctx(corebpf_in, ctx);
	out.ub1 = BPF_CORE_READ_BITFIELD_PROBED(in, ub1);
	out.ub2 = BPF_CORE_READ_BITFIELD_PROBED(in, ub2);
	out.ub7 = BPF_CORE_READ_BITFIELD_PROBED(in, ub7);
	out.sb4 = BPF_CORE_READ_BITFIELD_PROBED(in, sb4);
	out.sb20 = BPF_CORE_READ_BITFIELD_PROBED(in, sb20);
	out.u32 = BPF_CORE_READ_BITFIELD_PROBED(in, u32);
	out.ub2_direct = BPF_CORE_READ_BITFIELD(in, ub2);
	out.sb4_direct = BPF_CORE_READ_BITFIELD(in, sb4);
	return 0;
}

#else /* TARGET */

struct core_reloc_bitfields___target {
	__s32 sb20: 20;		/* bits 0..19 */
	__u32 ub1: 1;		/* bit 20 */
	__u64 ub2: 4;		/* bits 21..24 */
	__u16 ub7;		/* plain: byte 4 */
	__s8 sb4: 4;		/* bits 48..51 */
	__u64 u32: 36;		/* bits 64..99 (does not fit the first u64 unit) */
};

COREBPF_TARGET_INPUT(struct core_reloc_bitfields___target) = {
	.sb20 = -20, .ub1 = 1, .ub2 = 9, .ub7 = 0x1234, .sb4 = -4, .u32 = 0x876543210ULL,
};

#endif
