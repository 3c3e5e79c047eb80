// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Error fixture: a relocation to an undefined symbol that is neither __kconfig nor __ksym (a
 * plain `extern`): libbpf fails with "unrecognized extern section". corebpf must name the
 * symbol and the instruction. */
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

extern int corebpf_undefined_global;

SEC("syscall")
int uses_undefined(void *ctx)
{
	return corebpf_undefined_global;
}
