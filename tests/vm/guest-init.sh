#!/bin/sh
# Runs as PID 1 inside a vmtest guest (exec'd by the image's /sbin/rbp-init with the run disk
# at /rig): runs the integration tests from /rig, writes results/ on the run disk, powers off.
# The host reads /rig/results/{log,rc} back from the disk image; the console shows it all too.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
hostname "$(cat /etc/hostname)"
# ragd-lite's fake LLM server listens on 127.0.0.1: bring lo up without iproute2.
python3 -c 'import socket, fcntl, struct
s = socket.socket()
fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x40))' || echo "RBP-VM: lo not up"
. /rig/vm.env
res=/rig/results
mkdir -p $res
echo "RBP-VM: booted $(uname -r) $(python3 -V) $(awk '{print $1}' /proc/uptime)s"
cd /rig
if [ "$VM_MODE" = probe ]; then
	# Accelerator probe: do hardware breakpoints fire in this guest? (same self-test as the tests)
	./ragd-bpfprof record -q -o /tmp/p.json -F 0 -e f=py:x.py:f -- python3 -c pass >/tmp/p.err 2>&1
	if grep -q "hardware breakpoints do not fire" /tmp/p.json /tmp/p.err; then
		echo "RBP-VM: probe nobp"
	else
		echo "RBP-VM: probe ok"
	fi
elif [ "$VM_MODE" = cmd ]; then
	echo "RBP-VM: cmd start"
	timeout -k 10 "$VM_TEST_TIMEOUT" sh -c "$VM_CMD" </dev/null 2>&1
	echo "RBP-VM: cmd done rc=$?"
elif ! timeout 600 ./ragd-bpfprof record -v -q -o /tmp/pre.json -e f=native:.output/targets/workload:op_busy \
		-- .output/targets/workload busy 1 1 >$res/preflight.log 2>&1; then
	# Every test needs the BPF object loaded; if it does not load here (a verifier of this kernel
	# refuses it), one failure that says why beats each test failing on it after minutes.
	why=$(grep -E "BPF program load failed|processed [0-9]+ insns|^ragd-bpfprof:" $res/preflight.log | head -n 3 |
		tr '\n' ';')
	{ echo "FAIL vm.bpf_loads (preflight): ${why:-record exited non-zero}"; echo "0 passed, 1 failed, 0 skipped"; } >$res/log
	cat $res/log
	echo 1 >$res/rc
else
	echo "RBP-VM: tests start TESTS=$TESTS RBP_SCALE=$RBP_SCALE"
	export TESTS RBP_VM=1 RBP_SCALE PYTHONDONTWRITEBYTECODE=1
	timeout -k 10 "$VM_TEST_TIMEOUT" python3 -u tests/run_tests.py </dev/null >$res/log 2>&1 &
	pid=$!
	# Stream the log to the console as it grows, so a hang still shows how far it got.
	tail -n +1 -f --pid=$pid $res/log &
	wait $pid
	echo $? >$res/rc
	sleep 1
	echo "RBP-VM: tests done rc=$(cat $res/rc) $(awk '{print $1}' /proc/uptime)s"
fi
cd /
sync
umount /rig || mount -o remount,ro /rig
sync
echo "RBP-VM: poweroff"
echo o >/proc/sysrq-trigger
sleep 30
