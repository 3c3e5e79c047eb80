// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* libcorebpf_usdt.so: USDT probes in a shared library: corebpf_lib:lib here (no
 * semaphore), corebpf_lib:libsema with one in usdt_lib_sema.c (sdt.h gives every probe of
 * a file a semaphore once _SDT_HAS_SEMAPHORES is defined, hence two files). */
#include <stdint.h>
#include <sys/sdt.h>

void usdt_lib_sema_fire(long i);

__attribute__((noinline)) void usdt_lib_fire(long i)
{
	volatile uint16_t u2 = (uint16_t)(7 + i);
	int32_t s4 = (int32_t)(-7 - i);

	STAP_PROBE3(corebpf_lib, lib, i, u2, s4);
	usdt_lib_sema_fire(i);
}
