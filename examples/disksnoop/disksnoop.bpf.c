// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* disksnoop: block I/O latency per request, as bcc's disksnoop prints it, from the
 * block_rq_issue and block_rq_complete tracepoints (stable across kernels, where the classic
 * kprobes on blk_start_request/blk_account_io_done come and go). Requests are matched by
 * (device, sector); the record layouts are CO-RE-relocated. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct rq_key {
	__u32 dev;
	__u32 _pad;
	__u64 sector;
};

struct rq_start {
	__u64 ts;
	__u32 bytes;
	char rwbs[8];
};

struct event {
	__u64 lat_ns;
	__u64 sector;
	__u32 dev;
	__u32 bytes;
	char rwbs[8];
};
/* So that clang describes struct event in the object's BTF, for the skeleton. */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct rq_key);
	__type(value, struct rq_start);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tp/block/block_rq_issue")
int block_rq_issue(struct trace_event_raw_block_rq *ctx)
{
	struct rq_key k = { .dev = ctx->dev, .sector = ctx->sector };
	struct rq_start s = { .ts = bpf_ktime_get_ns(), .bytes = ctx->bytes };

	bpf_probe_read_kernel(&s.rwbs, sizeof(s.rwbs), ctx->rwbs);
	bpf_map_update_elem(&start, &k, &s, BPF_ANY);
	return 0;
}

SEC("tp/block/block_rq_complete")
int block_rq_complete(struct trace_event_raw_block_rq_completion *ctx)
{
	struct rq_key k = { .dev = ctx->dev, .sector = ctx->sector };
	struct rq_start *s = bpf_map_lookup_elem(&start, &k);
	struct event *e;

	if (!s)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->lat_ns = bpf_ktime_get_ns() - s->ts;
		e->sector = k.sector;
		e->dev = k.dev;
		e->bytes = s->bytes;
		__builtin_memcpy(e->rwbs, s->rwbs, sizeof(e->rwbs));
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&start, &k);
	return 0;
}
