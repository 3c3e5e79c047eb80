// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* USDT programs against libbpf 1.7's usdt.bpf.h (testdata/include/libbpf17: 24-byte
 * argument specs with scale-index-base arguments). See usdt_args.h. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include "libbpf17/usdt.bpf.h"

#include "usdt_args.h"
