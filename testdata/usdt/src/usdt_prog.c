// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* USDT test program (crates/corebpf/tests/usdt.rs, examples/usdt): <sys/sdt.h> probes whose
 * arguments the compiler places as constants, registers, stack memory and scale-index-base
 * memory operands, of sizes 1, 2, 4 and 8, signed and unsigned; a probe with a semaphore
 * (usdt_sema.c) and two in a shared library (usdt_lib.c).
 *
 * Commands, one per stdin line (each answered with one stdout line):
 *   fire I   fire every probe once with the values of round I (see usdt_values.h)
 *   sema     print "sema EXEC LIB": the executable's and the library's semaphores
 * It prints "ready PID" first and exits at EOF. Built by `cargo xtask build-usdt`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sdt.h>
#include "usdt_values.h"

void usdt_sema_fire(long i);
unsigned short usdt_sema_value(void);
void usdt_lib_fire(long i);
unsigned short usdt_lib_sema_value(void);

/* Arguments in registers (-O2 keeps the locals there) and one constant. */
__attribute__((noinline)) void fire_regs(long i)
{
	int8_t s1 = V_S1(i);
	uint8_t u1 = V_U1(i);
	int16_t s2 = V_S2(i);
	uint16_t u2 = V_U2(i);
	int32_t s4 = V_S4(i);
	uint32_t u4 = V_U4(i);
	int64_t s8 = V_S8(i);
	uint64_t u8 = V_U8(i);

	STAP_PROBE9(corebpf, regs, s1, u1, s2, u2, s4, u4, s8, u8, -42);
}

/* Arguments in stack memory (volatile locals: memory operands like -4@-20(%rsp)). */
__attribute__((noinline)) void fire_mem(long i)
{
	volatile int8_t s1 = V_S1(i);
	volatile uint8_t u1 = V_U1(i);
	volatile int16_t s2 = V_S2(i);
	volatile uint16_t u2 = V_U2(i);
	volatile int32_t s4 = V_S4(i);
	volatile uint32_t u4 = V_U4(i);
	volatile int64_t s8 = V_S8(i);
	volatile uint64_t u8 = V_U8(i);

	STAP_PROBE8(corebpf, mem, s1, u1, s2, u2, s4, u4, s8, u8);
}

/* Array elements: scale-index-base operands like -8@8(%rdi,%rsi,8) (libbpf 1.7). */
__attribute__((noinline)) void fire_sib(long *arr, long j)
{
	STAP_PROBE2(corebpf, sib, arr[j], arr[j + 1]);
}

int main(void)
{
	char line[64];
	long arr[4];

	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		long i;

		if (sscanf(line, "fire %ld", &i) == 1) {
			fire_regs(i);
			fire_mem(i);
			for (int k = 0; k < 4; k++)
				arr[k] = V_SIB(i, k);
			fire_sib(arr, 1);
			usdt_sema_fire(i);
			usdt_lib_fire(i);
			printf("fired %ld\n", i);
		} else if (strncmp(line, "sema", 4) == 0) {
			printf("sema %u %u\n", usdt_sema_value(), usdt_lib_sema_value());
		} else {
			printf("unknown command\n");
		}
		fflush(stdout);
	}
	return 0;
}
