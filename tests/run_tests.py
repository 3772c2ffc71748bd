#!/usr/bin/env python3
"""Runs the cmocka unit test programs given as arguments, then the integration tests in
tests/integration (real BPF: root only, skipped visibly otherwise). Ends with the line
'N passed, N failed, N skipped' and exits non-zero on any failure."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))

passed = failed = skipped = 0
failures = []


def run_unit(binary):
    global passed, failed, skipped
    name = os.path.basename(binary)
    try:
        p = subprocess.run([binary], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        failed += 1
        failures.append(f"{name}: timed out")
        print(f"FAIL {name}: timed out")
        return
    out = p.stdout + p.stderr
    np = sum(int(m) for m in re.findall(r"\[  PASSED  \] (\d+) test", out))
    nf = sum(int(m) for m in re.findall(r"\[  FAILED  \] (\d+) test", out))
    ns = sum(int(m) for m in re.findall(r"\[  SKIPPED \] (\d+) test", out))
    if p.returncode != 0 and nf == 0:
        nf = 1
    passed += np
    failed += nf
    skipped += ns
    status = "ok" if nf == 0 else "FAIL"
    print(f"{status:4} unit {name}: {np} passed, {nf} failed, {ns} skipped")
    if nf:
        failures.append(name)
        sys.stdout.write("".join("    " + l + "\n" for l in out.splitlines() if "FAIL" in l or "rror" in l))


def main():
    global passed, failed, skipped
    only = os.environ.get("TESTS")
    for b in sys.argv[1:]:
        run_unit(b)
    # Integration tests use debug registers (4 per CPU) and time real work: one run at a time per
    # machine, also across checkouts.
    import fcntl
    lock = open("/tmp/ragd-bpfprof-integration.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    # Every test's files go under one directory: removed after a clean run, kept after a failure.
    root = tempfile.mkdtemp(prefix="rbp-tests-")
    tempfile.tempdir = root
    import lib
    import test_native  # noqa: F401  (tests register themselves)
    import test_python  # noqa: F401
    import test_workflows  # noqa: F401
    for name, fn in lib.TESTS:
        if only and not re.search(only, name):
            continue
        t0 = time.time()
        try:
            if os.geteuid() != 0:
                raise lib.Skip("needs root to load BPF programs")
            fn()
        except lib.Skip as e:
            skipped += 1
            print(f"SKIP {name}: {e}")
            continue
        except Exception as e:  # a test failure, or a crash of the test itself
            failed += 1
            failures.append(name)
            msg = str(e).strip().splitlines()
            print(f"FAIL {name} ({time.time() - t0:.1f}s): {msg[0] if msg else type(e).__name__}")
            for l in msg[1:12]:
                print("     " + l)
            continue
        passed += 1
        print(f"ok   {name} ({time.time() - t0:.1f}s)")
    if failures or os.environ.get("RBP_KEEP_TMP"):
        print(f"test files kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("failed: " + ", ".join(failures))
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
