// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* The executable's probe with a semaphore: corebpf:sema fires only while something is
 * attached (the kernel increments corebpf_sema_semaphore for each uprobe with it as
 * ref_ctr_offset). */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short corebpf_sema_semaphore __attribute__((section(".probes")));

__attribute__((noinline)) void usdt_sema_fire(long i)
{
	if (corebpf_sema_semaphore)
		STAP_PROBE2(corebpf, sema, i, (int)-i);
}

unsigned short usdt_sema_value(void)
{
	return *(volatile unsigned short *)&corebpf_sema_semaphore;
}
