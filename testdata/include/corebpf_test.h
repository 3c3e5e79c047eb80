/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* Shared definitions for corebpf's BPF C test corpus (testdata/bpf). */
#pragma once

/* Sources that use the kernel's types include "vmlinux.h" first; the others get the UAPI ones. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* libbpf 1.1's bpf_core_read.h has no bpf_core_field_signed(); newer libbpf does. */
#ifndef bpf_core_field_signed
#define bpf_core_field_signed(field...) \
	__builtin_preserve_field_info(___bpf_field_ref(field), BPF_FIELD_SIGNED)
#endif

/* TYPE_MATCHES relocations (kind 15) and BTF_KIND_ENUM64 need clang >= 15. clang 14 has
 * __builtin_preserve_type_info but rejects kind BPF_TYPE_MATCHES, so __has_builtin() can't
 * tell; the compiler version is the only reliable guard. Objects built by clang 14 simply
 * lack those relocations (see testdata/README.md and the "min_clang" field of expected JSON). */
#if __clang_major__ >= 15
#define COREBPF_HAVE_TYPE_MATCHES 1
#define COREBPF_HAVE_ENUM64 1
#else
#define COREBPF_HAVE_TYPE_MATCHES 0
#define COREBPF_HAVE_ENUM64 0
#endif

/* Every type CO-RE relocates against is marked with this, so plain C member accesses
 * (`in->a`) emit CO-RE relocations without BPF_CORE_READ. */
#define __pai __attribute__((preserve_access_index))

/* ---- The test_run pattern of the CO-RE families -------------------------------------------
 * A family program is SEC("syscall"). The test passes the *target-layout* input struct as
 * test_run's ctx_in, zero-padded to exactly COREBPF_CTX_SIZE bytes. The program first copies
 * the ctx into the .bss buffer `corebpf_in` with direct loads at constant offsets: that makes
 * the verifier record max_ctx_offset = COREBPF_CTX_SIZE, so the kernel rejects a shorter ctx_in
 * with EINVAL instead of the program reading past it. The copy is needed because a syscall
 * program may not dereference a *modified* ctx pointer (`ctx + relocated offset`), but it may
 * do anything with a pointer into a map value. The program then reads the input through CO-RE
 * relocated accesses on `(struct X *)corebpf_in` and stores every result as a u64 into the
 * .bss struct `out` (field i at byte offset 8*i), and returns 0.
 */
#define COREBPF_CTX_SIZE 256

#define COREBPF_INPUT_BUFFER \
	__u64 corebpf_in[COREBPF_CTX_SIZE / 8] SEC(".bss")

static __always_inline void corebpf_copy_ctx(__u64 *dst, const __u64 *ctx)
{
#pragma unroll
	for (int i = 0; i < COREBPF_CTX_SIZE / 8; i++)
		dst[i] = ctx[i];
	/* The relocated reads below must really load from the buffer. */
	asm volatile("" ::: "memory");
}

/* In -DTARGET builds: the initialised target-layout input lives in .data as `corebpf_input`,
 * so a test can take the ctx_in bytes from the target object (its symbol), as well as from the
 * hex in expected/<family>.json. */
#define COREBPF_TARGET_INPUT(type) type corebpf_input SEC(".data")

/* ---- Arenas (BPF_MAP_TYPE_ARENA, Linux 6.9) -------------------------------------------------
 * `__arena` pointers (address space 1) need clang's BPF address-space casts
 * (__BPF_FEATURE_ADDR_SPACE_CAST, clang >= 18); clang 14 cannot compile them, so arena sources
 * build their arena code only when COREBPF_HAVE_ARENA is 1 (see testdata/README.md). */
#ifdef __BPF_FEATURE_ADDR_SPACE_CAST
#define COREBPF_HAVE_ARENA 1
#define __arena __attribute__((address_space(1)))
#else
#define COREBPF_HAVE_ARENA 0
#endif
#define COREBPF_MAP_TYPE_ARENA 33 /* not in the 6.1 UAPI headers of the build machine */

/* libbpf >= 1.4's 64-bit map attribute (map_extra): a one-value enum, ENUM64 when the value
 * needs 64 bits (clang >= 15; clang 14 emits a 32-bit ENUM and truncates). */
#ifndef __ulong
#define __corebpf_cat2(a, b) a##b
#define __corebpf_cat(a, b) __corebpf_cat2(a, b)
#define __ulong(name, val) enum { __corebpf_cat(__corebpf_ulong, __COUNTER__) = val } name
#endif
