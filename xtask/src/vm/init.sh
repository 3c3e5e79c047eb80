#!/bin/sh
# /init of the corebpf vm-test guest, put into the initramfs by `cargo xtask vm-test`.
# Console: /dev/ttyS0. Status port: /dev/ttyS1, one line per event, read by the harness
# (never parsed from the console). Data port (btf mode): /dev/ttyS2.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64
export HOME=/root TMPDIR=/tmp RUST_BACKTRACE=1
# Tests find their data here (see xtask/src/vm.rs); COREBPF_VM tells them they run in a guest.
export COREBPF_TESTDATA=/testdata COREBPF_VM=1
# MODE=smoke|test|btf and `set -- TEST_ARGS...`, written by the harness.
. /etc/vm/config

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Raw mode: no "\n" -> "\r\n" translation on the ports the harness reads.
stty -F /dev/ttyS1 raw -echo
status() { echo "$*" > /dev/ttyS1; }
status "boot $(uname -r)"
echo "vm: booted $(uname -r)"

failed=0
mnt() {
    mkdir -p "$2"
    if ! mount -t "$1" "$1" "$2"; then
        echo "vm: FAIL: cannot mount $1 on $2"
        status "mount fail $1"
        failed=1
    fi
}
mount -t tmpfs tmpfs /tmp
# No debugfs, no /boot and no /proc/config.gz (Debian's kernels have none): the guests run
# the suite as a container would, with only what corebpf finds or mounts itself.
mnt tracefs /sys/kernel/tracing
mnt bpf /sys/fs/bpf
mnt cgroup2 /sys/fs/cgroup
# busybox sh runs its own applets first, whatever PATH says: call iproute2 by path.
/usr/sbin/ip link set lo up

while read -r m <&3; do
    [ -n "$m" ] || continue
    if ! insmod "/lib/modules/vm/$m.ko"; then
        echo "vm: FAIL: insmod $m"
        status "module fail $m"
        failed=1
    fi
done 3</etc/vm/modules

check() {
    name=$1
    shift
    if "$@" >/tmp/check.out 2>&1; then
        echo "vm: smoke ok: $name"
        status "smoke ok $name"
    else
        echo "vm: smoke FAIL: $name: $* -> $(cat /tmp/check.out)"
        status "smoke fail $name"
        failed=1
    fi
}
# A kprobe event on vfs_read must fire (dd reads with read(2); busybox cat uses sendfile).
kprobe_event() {
    t=/sys/kernel/tracing
    echo 'p:corebpf_smoke vfs_read' >>$t/kprobe_events &&
        echo 1 >$t/events/kprobes/corebpf_smoke/enable &&
        dd if=/proc/version of=/dev/null 2>/dev/null &&
        echo 0 >$t/events/kprobes/corebpf_smoke/enable &&
        { grep -q corebpf_smoke $t/trace || { echo "no hit in trace:"; cat $t/kprobe_events; tail -5 $t/trace; false; }; } &&
        echo '-:corebpf_smoke' >>$t/kprobe_events
}
veth_pair() {
    /usr/sbin/ip link add vmt0 type veth peer name vmt1 && /usr/sbin/ip link show vmt1 &&
        /usr/sbin/ip link del vmt0
}
if [ "$MODE" != btf ]; then
    check btf-vmlinux test -s /sys/kernel/btf/vmlinux
    check kprobe-pmu test -d /sys/bus/event_source/devices/kprobe
    check kprobe-event kprobe_event
    check bpffs grep -q ' /sys/fs/bpf bpf ' /proc/mounts
    check cgroup2 test -e /sys/fs/cgroup/cgroup.controllers
    check veth veth_pair
fi

if [ "$MODE" = test ]; then
    while read -r name exe dir <&3; do
        echo "vm: ===== running $name"
        cd "$dir" || cd /
        CARGO_MANIFEST_DIR="$dir" "$exe" --test-threads=1 "$@"
        rc=$?
        cd /
        echo "vm: ===== $name exited with $rc"
        status "test $name $rc"
        [ "$rc" -eq 0 ] || failed=1
    done 3</etc/vm/tests
fi

if [ "$MODE" = btf ]; then
    stty -F /dev/ttyS2 raw -echo
    if cat /sys/kernel/btf/vmlinux >/dev/ttyS2; then
        status "btf $(wc -c </sys/kernel/btf/vmlinux)"
    else
        echo "vm: FAIL: cannot copy /sys/kernel/btf/vmlinux"
        failed=1
    fi
fi

status "done $failed"
poweroff -f
# Not reached unless poweroff failed: exiting init panics, and panic=-1 with -no-reboot ends qemu.
exit 1
