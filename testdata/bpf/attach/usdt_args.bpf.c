// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* USDT programs against libbpf 1.1's usdt.bpf.h (the installed one: 16-byte argument
 * specs, no scale-index-base arguments). See usdt_args.h. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

#include "usdt_args.h"
