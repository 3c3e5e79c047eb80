// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* libcorebpf_usdt.so's probe with a semaphore: corebpf_lib:libsema fires only while
 * something is attached. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short corebpf_lib_libsema_semaphore __attribute__((section(".probes")));

__attribute__((noinline)) void usdt_lib_sema_fire(long i)
{
	if (corebpf_lib_libsema_semaphore)
		STAP_PROBE1(corebpf_lib, libsema, i + 1);
}

unsigned short usdt_lib_sema_value(void)
{
	return *(volatile unsigned short *)&corebpf_lib_libsema_semaphore;
}
