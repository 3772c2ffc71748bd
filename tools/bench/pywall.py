"""Runs a Python module as `python3 -m MODULE ARGS...` would and writes its wall time.

    python3 pywall.py OUT_FILE MODULE [ARG...]

The time (time.perf_counter, seconds) spans the module's whole run, from just before it is
imported as __main__ to its exit (SystemExit included), and is written to OUT_FILE. Used by
tools/bench/run.sh so the figure is the workload's own time, not the profiler's set-up and
tear-down around it. The interpreter start before this file runs (~15 ms) is not included.
"""

import runpy
import sys
import time


def main():
    out, module = sys.argv[1], sys.argv[2]
    sys.argv = [module] + sys.argv[3:]
    code = 0
    t0 = time.perf_counter()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    elapsed = time.perf_counter() - t0
    with open(out, "w") as f:
        f.write("%.6f\n" % elapsed)
    sys.exit(code)


if __name__ == "__main__":
    main()
