// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Object model: kernel symbols that Debian's cloud kernels (6.1, 6.12) have in modules, so
 * that loading needs module BTF (crates/corebpf/tests/module_btf.rs; the guests of
 * `cargo xtask vm-test` load veth, nf_conntrack and x_tables). Without vmlinux.h.
 * - ct_lookup (xdp, runnable): kfuncs bpf_xdp_ct_lookup and bpf_ct_release of nf_conntrack
 *   (a call with `off` = the module's fd_array index). Looks up a TCP tuple that has no
 *   conntrack entry: the kfunc sets opts.error to -ENOENT (-2), stored in `ct_error`;
 *   returns XDP_PASS.
 * - recseq (raw_tp, runnable with BPF_PROG_TEST_RUN, never attached): typed per-CPU
 *   variable `xt_recseq` of x_tables via bpf_this_cpu_ptr (LD_IMM64 BPF_PSEUDO_BTF_ID,
 *   second half = the module's BTF fd); stores its sequence + 1 (odd: the program ran and
 *   read it; the sequence itself is even outside a writer) in `recseq_seen`, returns 0.
 * - on_veth_xmit (fentry/veth_xmit) and after_veth_xmit (fexit/veth:veth_xmit, the module
 *   named as libbpf allows): attach to veth's ndo_start_xmit in the veth module
 *   (attach_btf_obj_fd); each counts its calls. */
#include <linux/bpf.h>
#include <linux/in.h>
#include "corebpf_test.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* The kernel's struct bpf_ct_opts as 6.1 has it (12 bytes; 6.12 also accepts this size). */
struct bpf_ct_opts___local {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

/* A definition, not a declaration: libbpf compares the kfunc prototypes' pointee kinds, and
 * the kernel's is a struct. */
struct nf_conn {
	int unused;
};

typedef struct seqcount {
	unsigned int sequence;
} seqcount_t;

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz, struct bpf_ct_opts___local *opts,
					 __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;
extern const seqcount_t xt_recseq __ksym;

__s32 ct_error = 1;
__u32 recseq_seen;
__u64 xmit_calls;
__u64 xmit_exits;

SEC("xdp")
int ct_lookup(struct xdp_md *ctx)
{
	struct bpf_ct_opts___local opts = { .netns_id = -1, .l4proto = IPPROTO_TCP };
	struct bpf_sock_tuple tup = {};
	struct nf_conn *ct;

	tup.ipv4.saddr = 0x0100007f;	/* 127.0.0.1 */
	tup.ipv4.daddr = 0x0200007f;	/* 127.0.0.2 */
	tup.ipv4.sport = 0x3930;	/* 12345 */
	tup.ipv4.dport = 0x5000;	/* 80 */
	ct = bpf_xdp_ct_lookup(ctx, &tup, sizeof(tup.ipv4), &opts, sizeof(opts));
	if (ct)
		bpf_ct_release(ct);
	ct_error = opts.error;
	return XDP_PASS;
}

SEC("raw_tp/sys_enter")
int recseq(void *ctx)
{
	const seqcount_t *s = bpf_this_cpu_ptr(&xt_recseq);
	unsigned int seq = 0;

	/* Not s->sequence: 6.1's verifier refuses a field access through a ksym whose type is a
	 * typedef ("Type 'seqcount_t' is not a struct"); 6.12's takes it. */
	if (bpf_probe_read_kernel(&seq, sizeof(seq), s))
		return 1;
	recseq_seen = seq + 1;
	return 0;
}

SEC("fentry/veth_xmit")
int BPF_PROG(on_veth_xmit)
{
	__sync_fetch_and_add(&xmit_calls, 1);
	return 0;
}

SEC("fexit/veth:veth_xmit")
int BPF_PROG(after_veth_xmit)
{
	__sync_fetch_and_add(&xmit_exits, 1);
	return 0;
}
