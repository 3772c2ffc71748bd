"""Call-heavy pure-Python microbenchmark for tools/bench/run.sh.

    python3 callbench.py OUT_FILE [REPS] [N] [DELAY]

outer(REPS, N) calls mid(N) REPS times; mid calls leaf() N times, so the run makes
REPS * N + REPS + 1 Python calls (default 1,500 x 20,000 = 30 million). The elapsed time of
outer() (time.perf_counter, seconds) is written to OUT_FILE. run.sh profiles `outer` and `mid`
(1,501 calls: cheap even where every call is timed by hardware breakpoints); `leaf` is never
probed, so it measures what the profiler costs the unprobed code around it (stack sampling).
DELAY (seconds, default 0) is slept before outer() runs and not timed: time for a profiler to
attach with -p before the first call.
"""

import sys
import time


def leaf(x):
    return x + 1


def mid(n):
    s = 0
    for _ in range(n):
        s = leaf(s)
    return s


def outer(reps, n):
    total = 0
    for _ in range(reps):
        total += mid(n)
    return total


def main():
    out = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    if len(sys.argv) > 4:
        time.sleep(float(sys.argv[4]))
    t0 = time.perf_counter()
    total = outer(reps, n)
    elapsed = time.perf_counter() - t0
    assert total == reps * n
    with open(out, "w") as f:
        f.write("%.6f\n" % elapsed)


if __name__ == "__main__":
    main()
