// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model for containers (no /boot, no /proc/config.gz, no debugfs, maybe no bpffs):
 * - libbpf's virtual LINUX_* externs are computed from the running kernel and never need
 *   the kernel config; a __weak CONFIG_* extern reads 0 when no config file is found;
 * - linux_read copies them to .bss `out` (a socket filter: BPF_PROG_TEST_RUN on every
 *   kernel from 5.10);
 * - strong_read reads a strong CONFIG_* extern: loading it needs the kernel config;
 * - tp_getpid counts getpid() calls of `target_pid` (attaching it needs tracefs);
 * - linux_pinned is pinned by name under the pin root (creating it needs a bpffs). */
#include <linux/bpf.h>
#include <stdbool.h>
#include "corebpf_test.h"

char LICENSE[] SEC("license") = "GPL";

extern int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern bool CONFIG_BPF_SYSCALL __kconfig;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} linux_pinned SEC(".maps");

const volatile __u32 target_pid = 0;

struct linux_out {
	__u64 version, has_bpf_cookie, has_syscall_wrapper, hz, bpf_syscall, getpid_calls;
} out SEC(".bss");

SEC("socket")
int linux_read(void *ctx)
{
	out.version = LINUX_KERNEL_VERSION;
	out.has_bpf_cookie = LINUX_HAS_BPF_COOKIE;
	out.has_syscall_wrapper = LINUX_HAS_SYSCALL_WRAPPER;
	out.hz = CONFIG_HZ;
	return 0;
}

SEC("socket")
int strong_read(void *ctx)
{
	out.bpf_syscall = CONFIG_BPF_SYSCALL;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_getpid(void *ctx)
{
	if (bpf_get_current_pid_tgid() >> 32 == target_pid)
		__sync_fetch_and_add(&out.getpid_calls, 1);
	return 0;
}
