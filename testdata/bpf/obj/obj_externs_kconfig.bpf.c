// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: .kconfig externs, filled by the loader from /proc/config.gz (or
 * /boot/config-$(uname -r)) and the running kernel version, into an internal read-only map.
 * - LINUX_KERNEL_VERSION: special, computed from uname (not a Kconfig option);
 * - bool (y -> true), int (CONFIG_HZ, __weak: 0 if absent), tristate (y/m/n), char array
 *   (string option, NUL-padded), and a __weak option that does not exist (stays 0).
 * Runnable: SEC("syscall") copies them to .bss `out` (expected/runs.json). */
#include <linux/bpf.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

#include <stdbool.h>
/* enum libbpf_tristate { TRI_NO, TRI_YES, TRI_MODULE } comes from bpf_helpers.h */

extern int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern enum libbpf_tristate CONFIG_BPF_LSM __kconfig __weak;		/* y on this kernel */
extern enum libbpf_tristate CONFIG_NET_SCH_SFQ __kconfig __weak;	/* not set: TRI_NO */
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;
extern int CONFIG_COREBPF_DOES_NOT_EXIST __kconfig __weak;

struct kconfig_out {
	__u64 version, bpf_syscall, hz, bpf_lsm, net_sch_sfq, missing;
	char hostname[16];
} out SEC(".bss");

SEC("syscall")
int kconfig_read(void *ctx)
{
	out.version = LINUX_KERNEL_VERSION;
	out.bpf_syscall = CONFIG_BPF_SYSCALL;
	out.hz = CONFIG_HZ;
	out.bpf_lsm = CONFIG_BPF_LSM;
	out.net_sch_sfq = CONFIG_NET_SCH_SFQ;
	out.missing = CONFIG_COREBPF_DOES_NOT_EXIST;
	__builtin_memcpy(out.hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(out.hostname));
	return 0;
}
