"""The floor of a watched Python call on this host, for tools/bench/run.sh.

    python3 pyfloor.py OUT_FILE [REPS] [N] [ROUNDS]

Times the workload of callbench.py (REPS x N calls of leaf(), default 50 x 1000) alone and
with the watch ragd-bpfprof's refcount scheme uses: a write watch (len 8) on leaf's code
object's ob_refcnt, one perf event per CPU (pid -1, sample_period 1, opened as user/attach.c
opens it), running an empty BPF program (returns 0: no perf record is written). The difference
is what the hardware and kernel charge for the traps alone (2 a call: frame creation and
clearing), the part of a watched call no profiler can remove. Best of ROUNDS (default 5)
alternating runs, so other load on the machine inflates neither side more than once.
Writes "US_PER_CALL HITS_PER_CALL ALONE_S WATCHED_S" to OUT_FILE. Needs root; stdlib only.
Exit 1 when the watch does not fire, 2 when it cannot be opened.
"""

import ctypes
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callbench import leaf, mid  # noqa: E402  (the very calls the bench watches)

SYS_PERF_EVENT_OPEN, SYS_BPF = 298, 321  # x86-64
PERF_TYPE_BREAKPOINT, HW_BREAKPOINT_W, HW_BREAKPOINT_LEN_8 = 5, 2, 8
BPF_PROG_LOAD, BPF_PROG_TYPE_PERF_EVENT = 5, 7
IOC_ENABLE, IOC_DISABLE, IOC_SET_BPF = 0x2400, 0x2401, 0x40042408
FLAG_FD_CLOEXEC = 8

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def run(reps, n):
    t0 = time.perf_counter()
    for _ in range(reps):
        mid(n)
    return time.perf_counter() - t0


def fail(code, what):
    e = ctypes.get_errno()
    sys.stderr.write("pyfloor: %s: %s\n" % (what, os.strerror(e)))
    sys.exit(code)


def empty_prog():
    insns = struct.pack("<BBhiBBhi", 0xB7, 0, 0, 0, 0x95, 0, 0, 0)  # r0 = 0; exit
    ibuf = ctypes.create_string_buffer(insns)
    lic = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQ", attr, 0, BPF_PROG_TYPE_PERF_EVENT, 2,
                     ctypes.addressof(ibuf), ctypes.addressof(lic))
    fd = libc.syscall(SYS_BPF, BPF_PROG_LOAD, attr, 128)
    if fd < 0:
        fail(2, "BPF_PROG_LOAD")
    return fd


def watch(addr, cpu, prog):
    attr = ctypes.create_string_buffer(128)
    # type, size, config, sample_period, sample_type, read_format, flags (bit 0: disabled),
    # wakeup_events, bp_type, bp_addr, bp_len
    struct.pack_into("<IIQQQQQIIQQ", attr, 0, PERF_TYPE_BREAKPOINT, 128, 0, 1, 0, 0, 1, 0,
                     HW_BREAKPOINT_W, addr, HW_BREAKPOINT_LEN_8)
    fd = libc.syscall(SYS_PERF_EVENT_OPEN, attr, -1, cpu, -1, FLAG_FD_CLOEXEC)
    if fd < 0:
        fail(2, "perf_event_open(cpu %d)" % cpu)
    if libc.ioctl(fd, IOC_SET_BPF, prog) != 0:
        fail(2, "PERF_EVENT_IOC_SET_BPF")
    return fd


def main():
    out = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    prog = empty_prog()
    fds = [watch(id(leaf.__code__), c, prog) for c in range(os.cpu_count())]
    run(reps, n)  # warm-up (3.11 quickens on the 8th call)
    alone, watched = [], []
    for _ in range(rounds):
        alone.append(run(reps, n))
        for fd in fds:
            libc.ioctl(fd, IOC_ENABLE, 0)
        watched.append(run(reps, n))
        for fd in fds:
            libc.ioctl(fd, IOC_DISABLE, 0)
    hits = sum(struct.unpack("<Q", os.read(fd, 8))[0] for fd in fds) / rounds / (reps * n)
    if hits == 0:
        sys.stderr.write("pyfloor: the watch did not fire\n")
        sys.exit(1)
    a, w = min(alone), min(watched)
    with open(out, "w") as f:
        f.write("%.3f %.3f %.6f %.6f\n" % ((w - a) / (reps * n) * 1e6, hits, a, w))


if __name__ == "__main__":
    main()
