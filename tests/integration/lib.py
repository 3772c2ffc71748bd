"""Helpers for the integration tests: run ragd-bpfprof for real (root, real BPF) against the
programs in tests/targets and the bundled ragd-lite workload."""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "ragd-bpfprof")
TARGETS = os.path.join(ROOT, ".output", "targets")
WORKLOAD = os.path.join(TARGETS, "workload")
RAGD_LITE = os.path.join(ROOT, "examples", "ragd-lite")
TESTS = []
# `make vmtest` guests (QEMU TCG) run Python ~50x slower: RBP_SCALE shrinks iteration counts there
# (never tolerances); RBP_VM=1 stretches timeouts (SLOW) and timed native calls (STRETCH: entry
# and return probes cost ~1 ms a call there [M], 5% of a 20 ms call).
SCALE = float(os.environ.get("RBP_SCALE", "1"))
SLOW = 10 if os.environ.get("RBP_VM") == "1" else 1
STRETCH = SLOW


def ms(n):
    """A timed call's length in ms as a workload argument, times STRETCH."""
    return str(n * STRETCH)


def scaled(n, least=10):
    """N iterations, times RBP_SCALE (at least LEAST)."""
    return max(min(n, least), int(round(n * SCALE)))


class Skip(Exception):
    pass


# make test SANITIZE=1 sets this: user space runs 2-5x slower under ASan/UBSan.
SANITIZED = os.environ.get("RAGD_BPFPROF_SANITIZED") == "1"


def timing(fn):
    """A test whose assertion is a timing bound: skipped, visibly, under sanitizers (where it
    would measure ASan rather than the tool). Goes below @test / @each_python."""
    def t(*a, **kw):
        if SANITIZED:
            raise Skip("timing bound, not meaningful with ASan/UBSan (SANITIZE=1)")
        return fn(*a, **kw)
    t.__name__, t.__module__ = fn.__name__, fn.__module__
    return t


def test(fn):
    TESTS.append((f"{fn.__module__}.{fn.__name__}", fn))
    return fn


def tmp(name):
    d = tempfile.mkdtemp(prefix="rbp-test-")
    return os.path.join(d, name)


def run(args, timeout=120, env=None, check=None, **kw):
    """Runs ragd-bpfprof ARGS; returns CompletedProcess. check: expected exit code."""
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    if env:
        e.update(env)
    p = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=timeout * SLOW, env=e, **kw)
    if check is not None and p.returncode != check:
        raise AssertionError(f"ragd-bpfprof {' '.join(args)}: exit {p.returncode}, expected {check}\n"
                             f"stderr: {p.stderr[-2000:]}\nstdout: {p.stdout[-1500:]}")
    return p


def record(args, env=None, timeout=180):
    out = tmp("session.json")
    run(["record", "-q", "-o", out] + args, env=env, timeout=timeout, check=0)
    return load(out)


def load(path):
    with open(path) as f:
        return json.load(f)


def op(session, name):
    for o in session["operations"]:
        if o["name"] == name:
            return o
    raise AssertionError(f"no operation {name!r} in {[o['name'] for o in session['operations']]}")


def calls(session, name, include_flagged=False):
    return [c for c in session["calls"] if c["op"] == name and (include_flagged or not c.get("flags"))]


def read_timings(path):
    """workload's own clock: 'op ns' lines -> {op: [ns, ...]}"""
    res = {}
    with open(path) as f:
        for line in f:
            o, ns = line.split()
            res.setdefault(o, []).append(int(ns))
    return res


def p50(xs):
    """Nearest-rank median, the tool's definition (with 20 calls under TCG the two middle calls
    can be 4% apart: comparing against another rank fails for no fault of the tool)."""
    xs = sorted(xs)
    return xs[(len(xs) + 1) // 2 - 1]


def within(actual, expected, rel, abs_ns=0, what="value"):
    if abs(actual - expected) > max(rel * expected, abs_ns):
        raise AssertionError(f"{what}: {actual} vs expected {expected} (tolerance {rel * 100:.0f}%"
                             f"{f' or {abs_ns}' if abs_ns else ''})")


def eq(a, b, what="value"):
    if a != b:
        raise AssertionError(f"{what}: {a!r} != {b!r}")


def python_candidates():
    """(label, interpreter) pairs tests run per interpreter on: Debian's 3.11 and pyenv 3.12/3.13
    (skipped where missing), plus any other Debian python3.X here; in a vmtest guest only its own."""
    cands = [] if SLOW > 1 else [("3.11-debian", "/usr/bin/python3.11"),
                                 ("3.12", "/root/.pyenv/versions/3.12.1/bin/python3.12"),
                                 ("3.13", "/root/.pyenv/versions/3.13.0/bin/python3.13")]
    for v in range(11, 16):
        c = (f"3.{v}-debian", f"/usr/bin/python3.{v}")
        if os.access(c[1], os.X_OK) and c not in cands:
            cands.append(c)
    return cands


def python_versions():
    """The candidates present here."""
    return [(l, p) for l, p in python_candidates() if os.access(p, os.X_OK)]


def spawn(argv, env=None, **kw):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.Popen(argv, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_launched(rec_pid, exe, timeout=30):
    """Waits until `record` (rec_pid) has started its command: the child exec's EXE only once
    every probe is attached. Returns the child's pid."""
    end = time.time() + timeout * SLOW
    real = os.path.realpath(exe)
    while time.time() < end:
        try:
            with open(f"/proc/{rec_pid}/task/{rec_pid}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        for k in kids:
            try:
                if os.path.realpath(f"/proc/{k}/exe") == real:
                    return k
            except OSError:
                pass
        time.sleep(0.02)
    raise AssertionError(f"record did not start {exe} within {timeout} s")


# ---- Debian interpreters in debootstrap chroots (how a container looks from outside) ----
CHROOT_CACHE = os.environ.get("RBP_CHROOT_CACHE", "/var/cache/ragd-bpfprof/chroot")


def debian_chroot(suite):
    """A Debian SUITE tree with that release's own python3 (debootstrap --variant=minbase
    --include=python3), built once and kept under CHROOT_CACHE/SUITE (trixie ~30 s, sid ~1.5 min).
    Skip, with the reason, where it cannot be built (no debootstrap, no network, a guest)."""
    d = os.path.join(CHROOT_CACHE, suite)
    if os.access(os.path.join(d, "usr", "bin", "python3"), os.X_OK):
        return d
    if SLOW > 1:
        raise Skip(f"no {suite} chroot in a vmtest guest (built on the host only)")
    ds = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if os.access("/usr/sbin/debootstrap", os.X_OK) else None)
    if not ds:
        raise Skip(f"debootstrap not installed: cannot build the Debian {suite} chroot (apt-get install debootstrap)")
    os.makedirs(CHROOT_CACHE, exist_ok=True)
    part = d + ".part"
    shutil.rmtree(part, ignore_errors=True)
    t0 = time.time()
    try:
        p = subprocess.run([ds, "--variant=minbase", "--include=python3", suite, part],
                           capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        p = None
    if p is None or p.returncode != 0 or not os.access(os.path.join(part, "usr", "bin", "python3"), os.X_OK):
        why = "timed out after 900 s" if p is None else \
            ((p.stderr or p.stdout).strip().splitlines() or ["exit %d" % p.returncode])[-1]
        shutil.rmtree(part, ignore_errors=True)
        raise Skip(f"cannot build the Debian {suite} chroot (debootstrap: {why[:160]})")
    os.rename(part, d)
    print(f"     built the Debian {suite} chroot in {time.time() - t0:.0f} s: {d}", flush=True)
    return d


class Interp:
    """A Python to run workloads with: argv runs it (["/usr/bin/python3.11"] or ["chroot", DIR,
    "python3"]); root is the tree it sees as / (None: the host's). Files the workload reads or
    writes go through path(): under a chroot they live in DIR/tmp and the workload gets their
    path inside the tree; the host reads them at the host path."""

    def __init__(self, label, argv, root=None):
        self.label, self.argv, self.root = label, argv, root
        self.ragd_lite = RAGD_LITE
        if root:
            # The bundled workload and test scripts, copied into the tree (small; refreshed).
            dst = os.path.join(root, "opt", "rbp", "ragd-lite")
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(RAGD_LITE, dst, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
            self.ragd_lite = "/opt/rbp/ragd-lite"

    def tmp(self, name):
        """A fresh host path for NAME that the interpreter can reach."""
        if not self.root:
            return tmp(name)
        base = os.path.join(self.root, "tmp")
        os.makedirs(base, exist_ok=True)
        return os.path.join(tempfile.mkdtemp(prefix="rbp-test-", dir=base), name)

    def path(self, host_path):
        """HOST_PATH as the interpreter sees it."""
        if not self.root:
            return host_path
        return "/" + os.path.relpath(host_path, self.root)

    def copy_in(self, host_file):
        """A copy of HOST_FILE the interpreter can run; returns its path as it sees it."""
        if not self.root:
            return host_file
        dst = os.path.join(self.root, "opt", "rbp", os.path.basename(host_file))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(host_file, dst)
        return self.path(dst)


class proc_mounted:
    """with proc_mounted(root): /proc mounted inside a chroot for the block (if it was not)."""

    def __init__(self, root):
        self.root, self.mounted = root, False

    def __enter__(self):
        if self.root:
            pdir = os.path.join(self.root, "proc")
            if not os.path.ismount(pdir):
                subprocess.run(["mount", "-t", "proc", "proc", pdir], check=True)
                self.mounted = True
        return self

    def __exit__(self, *exc):
        if self.mounted:
            subprocess.run(["umount", "-l", os.path.join(self.root, "proc")], check=False)
        return False


def nearest_rank(sorted_values, q):
    """stats.c's nearest-rank percentile: the smallest value with at least q*n values <= it."""
    n = len(sorted_values)
    r = min(max(int(math.ceil(q * n * (1 - 1e-12))), 1), n)
    return sorted_values[r - 1]


def spilled(stderr):
    """Calls that went through the spill file, from the -v line of record/profile (0: none)."""
    m = re.search(r"calls: \d+, (\d+) of them through the spill file", stderr)
    return int(m.group(1)) if m else 0


def stats_match_calls(session):
    """Every op whose statistics come from the calls has exactly the statistics of its calls in
    the file (closed calls; sampled spans only in sampled ops). Returns the ops checked."""
    checked = 0
    for o in session["operations"]:
        if o["stats_source"] != "calls" or not o["count"]:
            continue
        cs = [c for c in session["calls"] if c["op"] == o["name"] and "open" not in c["flags"]]
        d = sorted(c["duration_ns"] for c in cs)
        got = {k: o[k] for k in ("count", "total_ns", "min_ns", "max_ns", "p50_ns", "p90_ns", "p95_ns", "p99_ns",
                                 "on_cpu_ns", "unwound")}
        want = {"count": len(d), "total_ns": sum(d), "min_ns": d[0], "max_ns": d[-1],
                "p50_ns": nearest_rank(d, 0.5), "p90_ns": nearest_rank(d, 0.9), "p95_ns": nearest_rank(d, 0.95),
                "p99_ns": nearest_rank(d, 0.99), "on_cpu_ns": sum(c["on_cpu_ns"] for c in cs),
                "unwound": sum("unwound" in c["flags"] for c in cs)}
        if got != want:
            raise AssertionError(f"{o['name']}: statistics {got} but its calls give {want}")
        checked += 1
    return checked
