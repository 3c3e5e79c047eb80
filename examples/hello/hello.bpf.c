// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* hello: the "hello-buffer-config" example. On every execve it sends the caller's pid, uid,
 * command, the executed path and a message through a perf buffer; the message comes from the
 * my_config hash map keyed by uid (set from userspace), else the global default.
 * Two entry points with the same logic: a kprobe on the execve syscall (ksyscall, the normal
 * one) and the syscalls/sys_enter_execve tracepoint for kernels without kprobes; userspace
 * loads one of them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct user_msg_t {
	char message[12];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct user_msg_t);
} my_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} output SEC(".maps");

struct data_t {
	int pid;
	int uid;
	char command[16];
	char message[12];
	char path[16];
};
/* So that clang describes struct data_t in the object's BTF, for the skeleton. */
struct data_t *unused_data_t __attribute__((unused));

char message[12] = "Hello World";

static __always_inline int say_hello(void *ctx, const char *pathname)
{
	struct data_t data = {};
	struct user_msg_t *p;

	data.pid = bpf_get_current_pid_tgid() >> 32;
	data.uid = bpf_get_current_uid_gid() & 0xFFFFFFFF;
	bpf_get_current_comm(&data.command, sizeof(data.command));
	bpf_probe_read_user_str(&data.path, sizeof(data.path), pathname);
	p = bpf_map_lookup_elem(&my_config, &data.uid);
	if (p)
		bpf_probe_read_kernel_str(&data.message, sizeof(data.message), p->message);
	else
		bpf_probe_read_kernel_str(&data.message, sizeof(data.message), message);
	bpf_perf_event_output(ctx, &output, BPF_F_CURRENT_CPU, &data, sizeof(data));
	return 0;
}

SEC("ksyscall/execve")
int BPF_KSYSCALL(hello, const char *pathname)
{
	return say_hello(ctx, pathname);
}

SEC("tp/syscalls/sys_enter_execve")
int hello_tp(struct trace_event_raw_sys_enter *ctx)
{
	return say_hello(ctx, (const char *)ctx->args[0]);
}
