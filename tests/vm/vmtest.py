#!/usr/bin/env python3
"""make vmtest: the integration tests inside QEMU guests on Debian's own kernels and python3
(tests/vm/guests), where hardware breakpoints fire under software emulation (TCG) on every host.

Per guest: a cached root image (tests/vm/image.sh), a run disk built per run with the freshly built
binary, tests/, .output/targets and examples/ragd-lite, a bounded boot, results read back from the
run disk. Prints one line per guest and ends with 'N passed, N failed, N skipped' over all guests;
exits non-zero on any failure. Tests listed in tests/vm/known-failures are printed, counted as
skipped, not failed. Usage: tests/vm/vmtest.py [GUEST...]; knobs (environment):
  TESTS            regex of test names to run in the guests (default: DEFAULT_TESTS below)
  VMTEST_SCALE     iteration-count factor in the guests (RBP_SCALE there; default 0.1)
  VMTEST_ACCEL     auto (KVM if it boots the guest and breakpoints fire there, else TCG), kvm, tcg
  VMTEST_TIMEOUT   seconds per guest, boot to poweroff (default 1500)
  VMTEST_BUDGET    seconds for the whole run, image builds included (default 2700: CI's 60 min)
  VMTEST_OUT       where console logs and run disks go (default .output/vmtest)
  VMTEST_CMD       instead of the tests, run this shell command in each guest and show its output
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.environ.get("VMTEST_OUT") or os.path.join(ROOT, ".output", "vmtest")
# Native tests (both CO-RE paths of RSS), the exact-Python tests, startup and the cheap Python ones.
# Host only: ratios of emulated CPU work to real waits, which TCG changes ~50x: the profile/top
# workflows (minutes each), compare_catches_slowdown (two identical runs must be "stable"; TCG on
# a shared host drifts more between runs), http_wait_is_off_cpu (LLM wait vs client CPU),
# attach_by_pid_and_late_import (its script's 4 s are over before the attach is done).
DEFAULT_TESTS = (r"^test_native\.(?!compare_catches)|^test_python\.(exact_|startup_|not_python|unsupported_|"
                 r"default_spec_top_level_ops_exact|attach_search_loop_exact|rc_)")
BOOT_TIMEOUT = 240
TOOLS = {"qemu-system-x86_64": "qemu-system-x86", "debootstrap": "debootstrap", "mkfs.ext4": "e2fsprogs",
         "debugfs": "e2fsprogs"}
RESULT = re.compile(r"^(ok  |FAIL|SKIP) (\S+)")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped")


def say(msg):
    print(msg, flush=True)


def guests():
    res = []
    for line in open(os.path.join(HERE, "guests")):
        f = line.split("#")[0].split()
        if f:
            res.append((f[0], f[1]))
    return res


def known_failures():
    """[(guest or None, name regex, message regex or None, reason)] from tests/vm/known-failures."""
    res, names = [], {g for g, _ in guests()}
    for line in open(os.path.join(HERE, "known-failures")):
        body, _, reason = line.partition("  #")
        f = body.split()
        if not f or f[0].startswith("#"):
            continue
        g = f.pop(0) if f[0] in names and len(f) > 1 else None
        msg = re.compile(" ".join(f[1:])) if len(f) > 1 else None
        res.append((g, re.compile(f[0]), msg, reason.strip()))
    return res


def known(kf, name, test, msg=None):
    """The reason TEST (failing with MSG; None: passing) is a known failure in guest NAME, or None."""
    for g, pat, mpat, reason in kf:
        if g in (None, name) and pat.fullmatch(test) and (msg is None or mpat is None or mpat.search(msg)):
            return reason
    return None


def ensure_tools():
    missing = sorted({pkg for tool, pkg in TOOLS.items() if not shutil.which(tool)})
    if not missing:
        return True
    say(f"vmtest: installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=300, capture_output=True)
        p = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing, env=env,
                           timeout=900, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        say("vmtest: apt-get timed out")
        return False
    if p.returncode != 0:
        say(f"vmtest: apt-get install {' '.join(missing)} failed: {p.stderr.strip()[-500:]}")
        return False
    return True


def build_images(names, timeout):
    """Builds/reuses every guest's image in parallel: {name: (cache dir or None, log path, seconds)}."""
    res = {}

    def one(name, suite):
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        log = os.path.join(d, "image.log")
        open(log, "w").close()
        t0 = time.time()
        try:
            p = subprocess.run([os.path.join(HERE, "image.sh"), suite, log], capture_output=True, text=True,
                               timeout=timeout)
            ok = p.returncode == 0
            if not ok:
                with open(log, "a") as f:
                    f.write(p.stderr)
        except subprocess.TimeoutExpired:
            ok, p = False, None
        res[name] = (p.stdout.strip().splitlines()[-1] if ok else None, log, time.time() - t0)

    threads = [threading.Thread(target=one, args=g) for g in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return res


def copy_tree(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "vmtest"), symlinks=True)


def run_disk(d, env):
    """The per-run disk: what the tests need from this checkout, vm.env, an empty results/."""
    stage = os.path.join(d, "stage")
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(os.path.join(stage, "results"))
    shutil.copy2(os.path.join(ROOT, "ragd-bpfprof"), stage)
    copy_tree(os.path.join(ROOT, "tests"), os.path.join(stage, "tests"))
    copy_tree(os.path.join(ROOT, ".output", "targets"), os.path.join(stage, ".output", "targets"))
    copy_tree(os.path.join(ROOT, "examples", "ragd-lite"), os.path.join(stage, "examples", "ragd-lite"))
    with open(os.path.join(stage, "vm.env"), "w") as f:
        for k, v in env.items():
            f.write(f"{k}={shlex.quote(v)}\n")
    img = os.path.join(d, "run.img")
    mb = int(subprocess.run(["du", "-sm", stage], capture_output=True, text=True).stdout.split()[0])
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "rbprun", "-d", stage, img, f"{mb + 256}M"], check=True,
                   capture_output=True, timeout=120)
    shutil.rmtree(stage)
    return img


def boot(image, d, accel, env, timeout):
    """Boots one guest with a fresh run disk; returns (console text, run disk, why it ended badly)."""
    img = run_disk(d, env)
    console = os.path.join(d, "console.log")
    open(console, "w").close()
    # One TCG thread for both vCPUs: with multi-threaded TCG the guest kernel's live code patching
    # (static keys flipped when BPF/perf events come and go) hit stale int3s and oopsed [M].
    cpu = ["-accel", "kvm", "-cpu", "host"] if accel == "kvm" else ["-accel", "tcg,thread=single", "-cpu", "max"]
    argv = (["qemu-system-x86_64"] + cpu +
            ["-m", "2048", "-smp", "2", "-display", "none", "-monitor", "none", "-no-reboot",
             "-serial", f"file:{console}", "-kernel", os.path.join(image, "vmlinuz"),
             "-initrd", os.path.join(image, "initrd.img"),
             "-drive", f"file={os.path.join(image, 'root.img')},format=raw,if=virtio,snapshot=on",
             "-drive", f"file={img},format=raw,if=virtio",
             "-append", "root=/dev/vda rw console=ttyS0 init=/sbin/rbp-init panic=-1 loglevel=4"])
    with open(os.path.join(d, "qemu.log"), "w") as qlog:
        q = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog, stderr=subprocess.STDOUT,
                             start_new_session=True)
    t0, why = time.time(), None
    try:
        while q.poll() is None:
            time.sleep(1)
            text = open(console, errors="replace").read()
            el = time.time() - t0
            if "RBP-VM: booted" not in text and el > min(BOOT_TIMEOUT, timeout):
                why = f"did not boot in {min(BOOT_TIMEOUT, timeout)} s"
            elif el > timeout:
                why = f"did not finish in {timeout} s"
            if why:
                break
    finally:   # also when this run is interrupted: never leave a guest behind
        if q.poll() is None:
            os.killpg(q.pid, 9)
            q.wait()
    text = open(console, errors="replace").read()
    if not why and "RBP-VM: poweroff" not in text:
        qerr = open(os.path.join(d, "qemu.log"), errors="replace").read().strip()
        why = f"qemu exited {q.returncode} before the guest powered off" + (f": {qerr[-300:]}" if qerr else "")
    return text, img, why


def disk_file(img, path):
    p = subprocess.run(["debugfs", "-R", f"cat {path}", img], capture_output=True, text=True, errors="replace",
                       timeout=60)
    return p.stdout if p.returncode == 0 and "File not found" not in p.stderr else ""


def pick_accel(first):
    """KVM only where it boots this guest and breakpoints fire in it; else TCG (emulated: they fire)."""
    want = os.environ.get("VMTEST_ACCEL", "auto")
    if want in ("kvm", "tcg"):
        return want, "VMTEST_ACCEL"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "no usable /dev/kvm"
    name, image = first
    d = os.path.join(OUT, name, "kvm-probe")
    os.makedirs(d, exist_ok=True)
    text, _, why = boot(image, d, "kvm", {"VM_MODE": "probe"}, 120)
    if "RBP-VM: probe ok" in text:
        return "kvm", "KVM boots the guest and breakpoints fire there"
    if "RBP-VM: probe nobp" in text:
        return "tcg", "KVM boots, but hardware breakpoints do not fire in the guest"
    return "tcg", f"KVM probe failed: {(why or 'no probe result').splitlines()[0]}; log in {d}"


def parse(log, name, kf):
    """Counts a guest's runner log: (passed, failed, skipped, lines to show, summary seen)."""
    npass = nfail = nskip = 0
    show, summary, last_fail = [], False, False
    for line in log.splitlines():
        m = RESULT.match(line)
        if m:
            status, test = m.group(1), m.group(2).rstrip(":")
            last_fail = False
            if status == "ok  ":
                npass += 1
                if known(kf, name, test) is not None:
                    show.append(f"     note: {test} passed this time (listed in tests/vm/known-failures)")
            elif status == "SKIP":
                nskip += 1
            else:
                reason = known(kf, name, test, line.partition(": ")[2])
                if reason is not None:
                    nskip += 1
                    show.append(f"     KNOWN {line[5:]}" + (f"  [{reason}]" if reason else ""))
                else:
                    nfail += 1
                    last_fail = True
                    show.append(f"     {line}")
            continue
        if last_fail and line.startswith("     "):
            show.append("     " + line)
        elif SUMMARY.match(line):
            summary = True
    return npass, nfail, nskip, show, summary


def run_guest(name, image, accel, kf, scale, tests, timeout):
    d = os.path.join(OUT, name)
    env = {"VM_MODE": "test", "TESTS": tests, "RBP_SCALE": scale, "VM_TEST_TIMEOUT": str(timeout - BOOT_TIMEOUT)}
    t0 = time.time()
    try:
        text, img, why = boot(image, d, accel, env, timeout)
    except (OSError, subprocess.SubprocessError) as e:   # run disk or qemu could not be set up
        say(f"FAIL vm {name}: {e}")
        return 0, 1, 0
    secs = time.time() - t0
    console = os.path.join(d, "console.log")
    log = disk_file(img, "/results/log") if not why else ""
    if not log:   # killed or lost: what the guest streamed to the console
        log = "\n".join(l for l in text.splitlines() if RESULT.match(l) or l.startswith("     "))
    open(os.path.join(d, "results.log"), "w").write(log)
    npass, nfail, nskip, show, summary = parse(log, name, kf)
    rc = disk_file(img, "/results/rc").strip() if not why else ""
    if not why and not summary:
        why = f"the test runner did not finish (rc {rc or '?'})"
    if why:
        nfail += 1
    m = re.search(r"RBP-VM: booted (\S+) Python (\S+)", text)
    kern, py = (m.group(1), m.group(2)) if m else ("?", "?")
    status = "FAIL" if nfail else "ok  "
    say(f"{status} vm {name}: kernel {kern}, python {py}, {accel}: {npass} passed, {nfail} failed, {nskip} skipped"
        f" ({secs:.0f} s)")
    for line in show:
        say(line)
    if why:
        say(f"     {why}")
    if nfail:
        say(f"     console log: {console}")
    return npass, nfail, nskip


def shell(name, image, accel, cmd, timeout):
    """VMTEST_CMD: runs one shell command in the guest (cwd: the run disk) and shows its output."""
    d = os.path.join(OUT, name)
    text, _, why = boot(image, d, accel, {"VM_MODE": "cmd", "VM_CMD": cmd, "VM_TEST_TIMEOUT": str(timeout - 60)},
                        timeout)
    out = text.split("RBP-VM: cmd start\n", 1)[-1].split("RBP-VM: cmd done", 1)[0]
    say(f"== {name}: {cmd}\n{out.rstrip()}\n== {why or 'done'}; console log: {os.path.join(d, 'console.log')}")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0:
        say("SKIP vmtest: needs root (debootstrap, QEMU images)")
        say("0 passed, 0 failed, 1 skipped")
        return 0
    t_start = time.time()
    all_guests = guests()
    want = sys.argv[1:] or os.environ.get("VMTEST_GUESTS", "").split()
    sel = [g for g in all_guests if not want or g[0] in want]
    if want and len(sel) != len(want):
        say(f"vmtest: unknown guest in {want}; guests: {' '.join(g[0] for g in all_guests)}")
        return 2
    for f in ("ragd-bpfprof", ".output/targets/workload"):
        if not os.path.exists(os.path.join(ROOT, f)):
            say(f"vmtest: {f} not built (make vmtest builds it)")
            say("0 passed, 1 failed, 0 skipped")
            return 1
    if not ensure_tools():
        say("0 passed, 1 failed, 0 skipped")
        return 1
    os.makedirs(OUT, exist_ok=True)
    # One vmtest per checkout at a time: run disks and console logs live in OUT.
    import fcntl
    lock = open(os.path.join(OUT, "lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        say(f"vmtest: another vmtest is running in this checkout ({OUT}/lock)")
        say("0 passed, 1 failed, 0 skipped")
        return 1
    deadline = t_start + int(os.environ.get("VMTEST_BUDGET", "2700"))
    images = build_images(sel, max(60, min(2400, deadline - time.time() - 600)))
    tp = tf = ts = 0
    ready = []
    for name, _ in sel:
        image, log, secs = images[name]
        if image:
            info = open(os.path.join(image, "info")).read().strip()
            say(f"vmtest: image {name}: {image} ({info}; {secs:.0f} s)")
            ready.append((name, image))
        else:
            say(f"FAIL vm {name}: image build failed ({secs:.0f} s); log: {log}")
            tf += 1
    kf = known_failures()
    if kf:
        say("vmtest: known failures (printed, counted as skipped): " +
            ", ".join((f"{g}:" if g else "") + p.pattern + (f" ~ {m.pattern}" if m else "") for g, p, m, _ in kf))
    if ready:
        accel, why = pick_accel(ready[0])
        say(f"vmtest: accel {accel} ({why})")
    scale = os.environ.get("VMTEST_SCALE", "0.1")
    tests = os.environ.get("TESTS") or DEFAULT_TESTS
    timeout = int(os.environ.get("VMTEST_TIMEOUT", "1500"))
    if os.environ.get("VMTEST_CMD"):
        for name, image in ready:
            shell(name, image, accel, os.environ["VMTEST_CMD"], timeout)
        return 0
    for name, image in ready:
        left = int(deadline - time.time())
        if left < BOOT_TIMEOUT + 120:
            say(f"FAIL vm {name}: not run, VMTEST_BUDGET spent ({left} s left)")
            tf += 1
            continue
        p, f, s = run_guest(name, image, accel, kf, scale, tests, min(timeout, left))
        tp, tf, ts = tp + p, tf + f, ts + s
    say(f"vmtest: {len(sel)} guests in {time.time() - t_start:.0f} s; logs in {OUT}")
    say(f"{tp} passed, {tf} failed, {ts} skipped")
    return 1 if tf else 0


if __name__ == "__main__":
    sys.exit(main())
