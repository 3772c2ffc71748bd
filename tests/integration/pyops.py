"""A ragd-shaped workload for exact Python op timing: functions that log on every call, raise for
some inputs (caught by the caller), have several return sites, recurse, or run on several threads.
Each function times itself (perf_counter_ns around its body) and the ground truth goes to
--timings as JSON lines {"op": QUALNAME, "ns": N}.

usage: pyops.py [--ops plain,logs,raises,multi,rec,threaded,cfunc,ingen,deep,keepframe,init,fact,kw] [-n N] [--work K] [--timings FILE]
                [--go FILE] [--print]
  --go FILE   wait until FILE exists before the calls (attach mode: start recording first)
  --print     print each call's own timing on stdout
"""
import argparse
import json
import logging
import os
import sys
import threading
import time

log = logging.getLogger("ragd.pyops")
_clock = time.perf_counter_ns
_truth = []
_lock = threading.Lock()
WORK = 3000


def _note(op, t0):
    ns = _clock() - t0
    with _lock:
        _truth.append((op, ns))


def _work(k):
    s = 0
    for i in range(k):
        s += i * i
    return s


def plain(x):
    t0 = _clock()
    try:
        return _work(WORK) + x
    finally:
        _note("plain", t0)


def logs(x):
    t0 = _clock()
    try:
        log.info("retrieved %d chunks", x)
        return _work(WORK)
    finally:
        _note("logs", t0)


def raises(x):
    t0 = _clock()
    try:
        s = _work(WORK)
        if x % 3 == 0:
            raise ValueError(f"bad chunk {x}")
        return s
    finally:
        _note("raises", t0)


def multi(x):
    t0 = _clock()
    try:
        s = _work(WORK)
        if x % 4 == 0:
            return 0
        if x % 4 == 1:
            return s
        if x % 4 == 2:
            return -s
        return s + 1
    finally:
        _note("multi", t0)


def rec(n):
    t0 = _clock()
    try:
        _work(WORK // 2)
        if n == 0:
            return 0
        return rec(n - 1) + 1
    finally:
        _note("rec", t0)


def threaded(x):
    t0 = _clock()
    try:
        return _work(WORK)
    finally:
        _note("threaded", t0)


def cfunc(x):
    t0 = _clock()
    try:
        return _work(WORK)
    finally:
        _note("cfunc", t0)


def ingen(x):
    t0 = _clock()
    try:
        return _work(WORK)
    finally:
        _note("ingen", t0)


def _gen(x):
    yield ingen(x)


def deep(n):
    t0 = _clock()
    try:
        if n == 0:
            return _work(WORK)
        return deep(n - 1)
    finally:
        _note("deep", t0)


def _pad(n, i):
    if n == 0:
        return deep(2)
    return _pad(n - 1, i)


def fact(n):  # recursion with two return sites (bytecode scheme: 3 registers)
    t0 = _clock()
    try:
        if n == 0:
            return 1
        return fact(n - 1) * n
    finally:
        _note("fact", t0)


def kw(x, scale=1):  # called with a keyword argument (CALL_KW)
    t0 = _clock()
    try:
        return _work(WORK) * scale + x
    finally:
        _note("kw", t0)


class Init:
    def __init__(self, x):  # Class() on 3.13: a cleanup shim frame sits below __init__'s frame
        t0 = _clock()
        try:
            self.x = _work(WORK)
        finally:
            _note("init", t0)


_kept = []


def keepframe(x):
    t0 = _clock()
    try:
        _kept.append(sys._getframe())  # the frame object outlives the call
        del _kept[:-2]
        return _work(WORK)
    finally:
        _note("keepframe", t0)


def call(op, i):
    if op == "raises":
        try:
            return raises(i)
        except ValueError:
            return -1
    if op == "rec":
        return rec(3)
    if op == "fact":
        return fact(3)
    if op == "kw":
        return kw(i, scale=2)
    if op == "init":  # spec target: pyops.py:Init.__init__
        return Init(i)
    if op == "cfunc":  # called from C (map): an entry frame
        return list(map(cfunc, (i,)))
    if op == "ingen":  # called by a generator's frame, which is not on the datastack
        return next(_gen(i))
    if op == "deep":  # under 100-163 other frames: some land first in a new datastack chunk
        return _pad(100 + i % 64, i)
    return globals()[op](i)


def run_threads(n, nthreads=4):
    def body():
        for i in range(n):
            threaded(i)
    ts = [threading.Thread(target=body) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main():
    global WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", default="plain,logs,raises,multi")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--work", type=int, default=WORK)
    ap.add_argument("--timings")
    ap.add_argument("--go")
    ap.add_argument("--print", action="store_true")
    ap.add_argument("--linger", type=float, default=0.0, help="sleep this long after the calls")
    a = ap.parse_args()
    WORK = a.work
    logging.basicConfig(level=logging.INFO, filename=os.devnull,
                        format="%(asctime)s %(name)s %(funcName)s:%(lineno)d %(message)s")
    ops = a.ops.split(",")
    print("ready", os.getpid(), flush=True)
    if a.go:
        while not os.path.exists(a.go):
            time.sleep(0.01)
    for i in range(a.n):
        for op in ops:
            if op != "threaded":
                call(op, i)
    if "threaded" in ops:
        run_threads(a.n)
    if a.timings:
        with open(a.timings + ".tmp", "w") as f:
            for op, ns in _truth:
                f.write(json.dumps({"op": op, "ns": ns}) + "\n")
        os.rename(a.timings + ".tmp", a.timings)  # complete once it exists
    if a.print:
        for op, ns in _truth:
            print(op, ns)
    print("done", flush=True)
    if a.linger:
        time.sleep(a.linger)


if __name__ == "__main__":
    sys.exit(main())
