/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* libbpf 1.7's usdt.bpf.h (vendored verbatim beside this file) includes "bpf_helpers.h";
 * the installed libbpf headers provide it. */
#include <bpf/bpf_helpers.h>
