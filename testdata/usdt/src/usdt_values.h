/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* The values the USDT test program passes in round I (crates/corebpf/tests/usdt.rs computes
 * the same). */
#pragma once
#include <stdint.h>

#define V_S1(i) ((int8_t)(-1 - (i)))
#define V_U1(i) ((uint8_t)(200 + (i)))
#define V_S2(i) ((int16_t)(-1000 - (i)))
#define V_U2(i) ((uint16_t)(60000 + (i)))
#define V_S4(i) ((int32_t)(-100000 - (i)))
#define V_U4(i) ((uint32_t)(4000000000u + (i)))
#define V_S8(i) ((int64_t)(-5000000000ll - (i)))
#define V_U8(i) ((uint64_t)(0xf000000000000000ull + (i)))
#define V_SIB(i, k) ((long)(1000 * (i) + (k)))
