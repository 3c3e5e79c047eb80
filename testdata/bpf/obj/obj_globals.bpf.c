// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: global variables in every data section kind:
 *  .data (initialised), .bss (zero), .rodata (const volatile: frozen after load, the loader
 *  may rewrite it before load), custom .data.foo and .rodata.bar (each its own map).
 * Runnable: SEC("syscall") program computing from all of them; see expected/runs.json. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 cfg_mul = 3;			/* .rodata */
const volatile __u64 cfg_add SEC(".rodata.bar") = 100;	/* .rodata.bar */
__u64 counter = 5;					/* .data */
__u32 extra SEC(".data.foo") = 7;			/* .data.foo */
__u64 result;						/* .bss */
__u64 runs;						/* .bss */

/* result = counter * cfg_mul + extra + cfg_add = 5*3 + 7 + 100 = 122 on the first run;
 * counter is then incremented, so the n-th run gives (4+n)*3 + 107. Returns result. */
SEC("syscall")
int globals_compute(void *ctx)
{
	result = counter * cfg_mul + extra + cfg_add;
	counter++;
	runs++;
	return (int)result;
}
