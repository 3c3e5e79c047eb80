// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* prepare_oracle: test infrastructure only (never part of corebpf). Opens OBJ with libbpf
 * (>= 1.6, for bpf_object__prepare: the tests use Debian's libbpf 1.7), prepares it for the
 * running kernel (externs resolved, CO-RE applied, subprograms linked, maps created; nothing
 * loaded) and prints each program's final instructions, as `corebpf relocate --dump --json`
 * gives them:
 *
 *   prog NAME
 *   <16 hex digits per instruction: its 8 bytes in memory order>
 *   ...
 *
 * What only a live load has is rewritten to what corebpf's dry run prints instead:
 * - a map reference (`ld_imm64` with BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE) gets imm 0
 *   where libbpf has the map's fd;
 * - the second half of a BPF_PSEUDO_BTF_ID `ld_imm64` holding a module BTF fd gets that
 *   BTF object's id.
 *
 * Build: clang -O2 -Wall -I<libbpf 1.7 include> -o prepare_oracle prepare_oracle.c
 *        -L<dir of libbpf.so> -lbpf
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (getenv("ORACLE_LOG"))
		vfprintf(stderr, fmt, args);
	return 0;
}

/* The id of the BTF object behind fd, or 0. */
static __u32 btf_obj_id(int fd)
{
	struct bpf_btf_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_btf_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static void print_prog(const struct bpf_program *prog)
{
	const struct bpf_insn *insns = bpf_program__insns(prog);
	size_t n = bpf_program__insn_cnt(prog), i;

	printf("prog %s\n", bpf_program__name(prog));
	for (i = 0; i < n; i++) {
		struct bpf_insn insn = insns[i];
		const unsigned char *b = (const unsigned char *)&insn;
		int k;

		if (insn.code == (BPF_LD | BPF_IMM | BPF_DW) && i + 1 < n) {
			struct bpf_insn next = insns[i + 1];

			if (insn.src_reg == BPF_PSEUDO_MAP_FD || insn.src_reg == BPF_PSEUDO_MAP_VALUE)
				insn.imm = 0;
			else if (insn.src_reg == BPF_PSEUDO_BTF_ID && next.imm > 0)
				next.imm = (int)btf_obj_id(next.imm);
			for (k = 0; k < 8; k++)
				printf("%02x", b[k]);
			printf("\n");
			b = (const unsigned char *)&next;
			for (k = 0; k < 8; k++)
				printf("%02x", b[k]);
			printf("\n");
			i++;
			continue;
		}
		for (k = 0; k < 8; k++)
			printf("%02x", b[k]);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJ\n", argv[0]);
		return 2;
	}
	libbpf_set_print(print_fn);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "opening %s failed\n", argv[1]);
		return 1;
	}
	err = bpf_object__prepare(obj);
	if (err) {
		fprintf(stderr, "bpf_object__prepare: %d\n", err);
		return 1;
	}
	bpf_object__for_each_program(prog, obj)
		print_prog(prog);
	bpf_object__close(obj);
	return 0;
}
