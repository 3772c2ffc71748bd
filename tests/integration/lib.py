"""Helpers for the integration tests: run ragd-bpfprof for real (root, real BPF) against the
programs in tests/targets and the bundled ragd-lite workload."""
import json
import os
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
