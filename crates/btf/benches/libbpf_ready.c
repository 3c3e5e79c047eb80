/* Standalone timing of libbpf's vmlinux BTF load (+ one struct lookup), 400 runs, printing
 * min/median/max: the outside-criterion counterpart of `examples/ready.rs`.
 *   gcc -O2 crates/btf/benches/libbpf_ready.c -lbpf -o /tmp/libbpf_ready && /tmp/libbpf_ready
 *   cargo run --release -p corebpf-btf --example ready
 * Test tooling only: libbpf is never linked into corebpf. */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(){double v[400];for(int i=0;i<400;i++){double a=now();struct btf*b=btf__load_vmlinux_btf();btf__find_by_name_kind(b,"task_struct",BTF_KIND_STRUCT);v[i]=now()-a;btf__free(b);}
qsort(v,400,sizeof(double),cmp);printf("libbpf load: min %.3f median %.3f max %.3f ms\n",v[0],v[200],v[399]);}
