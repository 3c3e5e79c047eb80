// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* many_progs.bpf.c with a loop long enough that each program's verification takes
 * milliseconds: the object of the whole-object load benchmark. */
#define ITERS 2000
#include "many_progs.bpf.c"
