// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Multi-probe and session attach tests (crates/corebpf/tests/multi_probe.rs): uprobe.multi
 * on the test executable's own functions (hits per function by IP or by cookie),
 * uretprobe.multi, uprobe.session (entry/return pairs through the session cookie),
 * kprobe.multi/kretprobe.multi/kprobe.session on syscall functions, and SEC names that
 * auto-attach. Counters count only the thread whose tid is in the .rodata `target_tid`
 * (the tests set it), so parallel tests and other processes do not disturb them. The
 * programs that call bpf_get_attach_cookie() (5.15) or bpf_get_func_ip() (kprobes: 5.15)
 * are separate from the count-only ones, which load on 5.10 too. */
#include "vmlinux.h"
#include "corebpf_test.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

enum {
	C_ENTRY = 0,      /* uprobe.multi entries */
	C_RET = 1,        /* uretprobe.multi returns */
	C_S_ENTRY = 2,    /* uprobe.session entries */
	C_S_RET = 3,      /* uprobe.session returns */
	C_S_PAIRED = 4,   /* returns whose session cookie holds their entry's argument */
	C_K = 5,          /* kprobe.multi entries */
	C_KRET = 6,       /* kretprobe.multi returns */
	C_KS_ENTRY = 7,   /* kprobe.session entries */
	C_KS_RET = 8,     /* kprobe.session returns */
	C_AUTO_U = 9,     /* the auto-attached uprobe.multi */
	C_AUTO_K = 10,    /* the auto-attached kprobe.multi */
	C_NO_KFUNC = 11,  /* session runs where the session kfuncs are missing */
	C_MAX = 16,
};

const volatile __u32 target_tid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

/* Hits per probed address (IP at entry), per cookie, and per cookie at return. */
struct hits {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, __u64);
	__type(value, __u64);
};
struct hits by_ip SEC(".maps");
struct hits by_cookie SEC(".maps");
struct hits ret_by_cookie SEC(".maps");

/* Declared here: the 6.18 vmlinux.h of bpftool 7.1 has no kfunc prototypes. Weak, so that
 * kernels without them load the programs without the calls. (Linux 7.0 gave them a ctx
 * argument; these are the 6.10-6.19 prototypes.) */
extern bool bpf_session_is_return(void) __ksym __weak;
extern __u64 *bpf_session_cookie(void) __ksym __weak;

static __always_inline int mine(void)
{
	return (__u32)bpf_get_current_pid_tgid() == target_tid;
}

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void add(void *map, __u64 key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(map, &key);

	if (v) {
		__sync_fetch_and_add(v, 1);
		return;
	}
	if (bpf_map_update_elem(map, &key, &one, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(map, &key);
		if (v)
			__sync_fetch_and_add(v, 1);
	}
}

/* ---- uprobe.multi / uretprobe.multi ---- */
SEC("uprobe.multi")
int u_entry(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	bump(C_ENTRY);
	add(&by_ip, PT_REGS_IP(ctx));
	return 0;
}

SEC("uprobe.multi")
int u_entry_cookie(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	bump(C_ENTRY);
	add(&by_cookie, bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("uretprobe.multi")
int u_ret(struct pt_regs *ctx)
{
	if (mine())
		bump(C_RET);
	return 0;
}

SEC("uretprobe.multi")
int u_ret_cookie(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	bump(C_RET);
	add(&ret_by_cookie, bpf_get_attach_cookie(ctx));
	return 0;
}

/* ---- sessions: entry stores its argument in the session cookie; odd arguments return
 * 1 (no return probe); the return checks the cookie against the return value 3 * arg ---- */
SEC("uprobe.session")
int u_session(struct pt_regs *ctx)
{
	__u64 *cookie;

	if (!mine())
		return 1;
	if (!&bpf_session_is_return || !&bpf_session_cookie) {
		bump(C_NO_KFUNC);
		return 0;
	}
	cookie = bpf_session_cookie();
	if (!bpf_session_is_return()) {
		__u64 x = PT_REGS_PARM1(ctx);

		bump(C_S_ENTRY);
		*cookie = x + 1000;
		return x & 1;
	}
	bump(C_S_RET);
	if (*cookie >= 1000 && (*cookie - 1000) * 3 == PT_REGS_RC(ctx))
		bump(C_S_PAIRED);
	return 0;
}

/* ---- kprobe.multi / kretprobe.multi / kprobe.session ---- */
SEC("kprobe.multi")
int k_multi(struct pt_regs *ctx)
{
	if (mine())
		bump(C_K);
	return 0;
}

SEC("kprobe.multi")
int k_multi_ip(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	bump(C_K);
	add(&by_ip, bpf_get_func_ip(ctx));
	return 0;
}

SEC("kprobe.multi")
int k_multi_cookie(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	bump(C_K);
	add(&by_cookie, bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("kretprobe.multi")
int k_ret(struct pt_regs *ctx)
{
	if (mine())
		bump(C_KRET);
	return 0;
}

SEC("kprobe.session")
int k_session(struct pt_regs *ctx)
{
	if (!mine())
		return 1;
	if (!&bpf_session_is_return) {
		bump(C_NO_KFUNC);
		return 0;
	}
	if (!bpf_session_is_return()) {
		bump(C_KS_ENTRY);
		return 0;
	}
	bump(C_KS_RET);
	return 0;
}

/* ---- attached by SEC name ---- */
SEC("uprobe.multi//proc/self/exe:corebpf_mt_0*")
int auto_u(struct pt_regs *ctx)
{
	if (mine())
		bump(C_AUTO_U);
	return 0;
}

SEC("kprobe.multi/__x64_sys_getp*")
int auto_k(struct pt_regs *ctx)
{
	if (mine())
		bump(C_AUTO_K);
	return 0;
}
