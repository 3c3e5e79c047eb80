// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* corelog: test infrastructure only (never part of corebpf). Uses libbpf (libbpf-dev 1.1) to
 * CO-RE-relocate OBJ against the BTF of TARGET (an ELF with .BTF, e.g. X.target.bpf.o, or raw
 * BTF) and prints libbpf's CO-RE log lines verbatim: the golden reference for corebpf's log
 * shapes (testdata/bpf/expected/<family>.libbpf.log).
 *
 *   corelog OBJ TARGET                      CO-RE lines of bpf_object__load() to stdout
 *   corelog OBJ TARGET --run PROG CTXFILE   then BPF_PROG_TEST_RUN PROG with ctx_in = CTXFILE
 *                                           and print "retval N" and the .bss map as hex
 *
 * libbpf 1.1 has no bpf_object__prepare(), so relocation happens inside bpf_object__load();
 * a failing load is fine for logging (exit status 2 says so).
 *
 * Build: cc -O2 -Wall -o corelog corelog.c -lbpf
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char buf[4096];

	vsnprintf(buf, sizeof(buf), fmt, args);
	if (strstr(buf, "CO-RE") || strstr(buf, "relo #") || strstr(buf, "w/ invalid insn"))
		fputs(buf, stdout);
	else if (getenv("CORELOG_ALL"))
		fputs(buf, stderr);
	return 0;
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc(*len ? *len : 1);
	if (fread(p, 1, *len, f) != *len) {
		fclose(f);
		free(p);
		return NULL;
	}
	fclose(f);
	return p;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_map *map;
	int err;

	if (argc != 3 && argc != 6) {
		fprintf(stderr, "usage: %s OBJ TARGET [--run PROG CTXFILE]\n", argv[0]);
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(print_fn);
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .btf_custom_path = argv[2]);
	obj = bpf_object__open_file(argv[1], &oopts);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "load %s: %s\n", argv[1], strerror(-err));
		bpf_object__close(obj);
		return 2;
	}
	if (argc == 6) {
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, argv[4]);
		size_t ctx_len = 0;
		void *ctx = read_file(argv[5], &ctx_len);

		if (!prog || !ctx) {
			fprintf(stderr, "no program %s or ctx file %s\n", argv[4], argv[5]);
			return 1;
		}
		/* An empty CTXFILE means no ctx at all (the kernel rejects a pointer with size 0). */
		LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = ctx_len ? ctx : NULL, .ctx_size_in = ctx_len);
		err = bpf_prog_test_run_opts(bpf_program__fd(prog), &topts);
		if (err) {
			fprintf(stderr, "test_run: %s\n", strerror(errno));
			return 3;
		}
		printf("retval %d\n", topts.retval);
		bpf_object__for_each_map(map, obj) {
			const char *name = bpf_map__name(map);
			size_t sz = bpf_map__value_size(map);
			unsigned char *val;
			int key = 0;

			if (strlen(name) < 4 || strcmp(name + strlen(name) - 4, ".bss"))
				continue;
			val = calloc(1, sz);
			if (bpf_map_lookup_elem(bpf_map__fd(map), &key, val) == 0) {
				printf("bss ");
				for (size_t i = 0; i < sz; i++)
					printf("%02x", val[i]);
				printf("\n");
			}
			free(val);
		}
	}
	bpf_object__close(obj);
	return 0;
}
