"""BPF run time per program of one recorder run, from kernel.bpf_stats_enabled.

    python3 bpfstats.py OUT_FILE PROG[,PROG...] -- COMMAND [ARG...]

Runs COMMAND (a `ragd-bpfprof record ...`), finds the BPF programs it holds open
(/proc/PID/fdinfo prog_id, so other profilers on the machine are not counted) and polls
`bpftool prog show` every 50 ms while it runs. The last reading of each named program is
written to OUT_FILE as "NAME RUN_CNT RUN_TIME_NS" lines. The caller enables
kernel.bpf_stats_enabled around the run. Exit status: COMMAND's.
"""

import json
import os
import subprocess
import sys
import time


def prog_ids(pid):
    ids = set()
    d = "/proc/%d/fdinfo" % pid
    try:
        fds = os.listdir(d)
    except OSError:
        return ids
    for fd in fds:
        try:
            with open(os.path.join(d, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except (OSError, ValueError):
            pass
    return ids


def snapshot(ids, names):
    try:
        out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True,
                             text=True, timeout=10).stdout
        progs = json.loads(out or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}
    got = {}
    for p in progs:
        if p.get("id") in ids and p.get("name") in names and "run_cnt" in p:
            got[p["name"]] = (p["run_cnt"], p["run_time_ns"])
    return got


def main():
    out, names, sep = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3]
    assert sep == "--"
    child = subprocess.Popen(sys.argv[4:])
    ids, last = set(), {}
    while child.poll() is None:
        time.sleep(0.05)
        ids |= prog_ids(child.pid)
        if ids:
            snap = snapshot(ids, names)
            if child.poll() is None or not last:
                last.update(snap)
    with open(out, "w") as f:
        for n in sorted(last):
            f.write("%s %d %d\n" % (n, last[n][0], last[n][1]))
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
