"""profile, --compare, top, probes and install, as a ragd user would run them on the bundled
workload."""
import json
import os
import shutil
import subprocess
import time

from lib import BIN, RAGD_LITE, ROOT, Skip, eq, load, op, python_versions, run, spawn, test, tmp

PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else "python3"
RAGD = f"{PY} -m ragd"


def env(db):
    return {"PYTHONPATH": RAGD_LITE, "RAGD_LITE_DB": db}


def search_loop(db, sleep_ms):
    """A long-running ragd-lite search loop to attach to."""
    return spawn([PY, "-m", "ragd", "search", "x", "--repeat", "100000", "--sleep-ms", str(sleep_ms), "--timings",
                  "none", "-q"], env=env(db), cwd=RAGD_LITE)


def indexed_db():
    db = tmp("index.db")
    subprocess.run([PY, "-m", "ragd", "index", "-q", "--timings", "none"], cwd=RAGD_LITE, env={**os.environ, **env(db)},
                   check=True, capture_output=True, timeout=120)
    return db


def profile(args, db, check=0, timeout=600):
    return run(["profile", args[0], "--ragd", RAGD, "--no-color"] + args[1:], env=env(db), check=check,
               timeout=timeout, cwd=RAGD_LITE)


@test
def profile_search_iterations():
    db = indexed_db()
    out = tmp("s.json")
    p = profile(["search", "--query", "bm25 ranking", "-n", "3", "-o", out, "--", "--timings", "none"], db)
    s = load(out)
    eq(sorted({c["iteration"] for c in s["calls"] if c["op"] == "search"}), [0, 1, 2], "iterations")
    eq(op(s, "startup")["count"], 3, "startup once per process")
    if "startup" not in p.stdout or "search" not in p.stdout:
        raise AssertionError(p.stdout)


@test
def profile_index_and_chat():
    db = tmp("fresh.db")
    out = tmp("i.json")
    profile(["index", "--path", os.path.join(RAGD_LITE, "corpus"), "-n", "2", "-o", out, "--", "--timings", "none"], db)
    s = load(out)
    if op(s, "index")["count"] < 2 or op(s, "index.embed")["total_ns"] <= 0:
        raise AssertionError("index not profiled")
    out = tmp("c.json")
    profile(["chat", "--query", "what is a b-tree", "-n", "2", "-o", out, "--", "--timings", "none"], db)
    o = op(load(out), "chat.llm_request")
    if o["off_cpu_ns"] <= o["on_cpu_ns"]:
        raise AssertionError("the LLM wait should be off-CPU")


@test
def profile_all_on_bundled_corpus():
    db = tmp("all.db")
    out = tmp("a.json")
    profile(["all", "-n", "1", "-o", out, "--", "--timings", "none"], db)
    s = load(out)
    for name in ("index", "search", "chat", "startup"):
        if op(s, name)["count"] < 1:
            raise AssertionError(f"{name} not seen in profile all")


def _compare_once(db, slow, n=12):
    base = tmp("base.json")
    args = ["search", "--query", "hybrid search", "-n", str(n), "-q"]
    extra = ["--", "--timings", "none", "--repeat", "5", "--sleep-ms", "10"]
    profile(args + ["-o", base] + extra, db)
    p = run(["profile"] + args + ["--compare", base, "--ragd", RAGD, "--no-color"] + extra,
            env={**env(db), "RAGD_LITE_SLOW_SEARCH": str(slow)}, cwd=RAGD_LITE, timeout=600)
    row = [l for l in p.stdout.splitlines() if l.split()[:1] == ["search"]]
    return p.returncode, (row[0] if row else ""), p.stdout


@test
def profile_compare_catches_planted_slowdown():
    # This VM's own run-to-run drift is large: ragd-lite search alone measured 7.2-11.2 ms mean in
    # five back-to-back runs with no profiler. A baseline taken just before each try keeps the
    # drift small; a try may still land on a drift, so up to three tries each.
    db = indexed_db()
    profile(["search", "--query", "warm", "-n", "2", "-q", "-o", tmp("w.json"), "--", "--timings", "none"], db)
    # search is sampled on ragd-lite (more return sites than debug registers), and compare judges
    # a sampled op on its per-iteration totals: n = iterations. Against a stored baseline the
    # totals drift 15-20 % run to run here, so 12 iterations cannot show 20 % at alpha 0.01
    # (HL standard error ~9 %); 40 can. (profile_vs_ragd_* takes the drift out instead.)
    seen = []
    for _ in range(3):
        rc, row, out = _compare_once(db, 20, n=40)
        seen.append(row)
        if rc == 1 and "regression" in row:
            break
    else:
        raise AssertionError("20% slowdown in search not reported as a regression with exit 1:\n" + "\n".join(seen))
    seen = []
    for _ in range(3):
        rc, row, out = _compare_once(db, 0)
        seen.append(row)
        if rc == 0 and "regression" not in row:
            break
    else:
        raise AssertionError("unchanged search not stable with exit 0:\n" + "\n".join(seen))


def _ab(db, slow):
    # env on both sides, so the wrapper costs A what it costs B
    a, b = (f"env RAGD_LITE_SLOW_SEARCH={pct} {RAGD}" for pct in (0, slow))
    return run(["profile", "search", "--query", "hybrid search", "-n", "12", "-q", "--ragd", a, "--vs-ragd", b,
                "--no-color", "--format", "json", "--", "--timings", "none", "--repeat", "5", "--sleep-ms", "10"],
               env=env(db), cwd=RAGD_LITE, timeout=900)


@test
def profile_vs_ragd_catches_planted_slowdown():
    # A/B in one run: A B B A ... so the machine's drift hits both sides alike.
    # Sampled search is judged on 12 per-iteration totals a side: at the edge of what shows 20 %
    # at alpha 0.01 on a loaded 2-core VM, so up to three tries; a flag on any other op fails.
    db = indexed_db()
    seen = []
    for _ in range(3):
        p = _ab(db, 20)
        j = json.loads(p.stdout)
        eq(j["ab_pairs"], 12, "pairs")
        regs = [o["name"] for o in j["operations"] if o["status"] == "regression"]
        seen.append(f"exit {p.returncode}, regressions {regs}: " + "; ".join(
            f"{o['name']} {o['status']} {o.get('reason')}" for o in j["operations"]))
        if [r for r in regs if r != "search"]:
            raise AssertionError("an op other than search flagged:\n" + seen[-1])
        if p.returncode == 1 and regs == ["search"]:
            break
    else:
        raise AssertionError("20% slowdown of search not flagged in 3 A/B runs:\n" + "\n".join(seen))


@test
def profile_vs_ragd_same_is_stable():
    db = indexed_db()
    for k in range(5):
        p = _ab(db, 0)
        j = json.loads(p.stdout)
        regs = [f"{o['name']}: {o.get('reason')}" for o in j["operations"] if o["status"] == "regression"]
        if p.returncode != 0 or regs:
            raise AssertionError(f"try {k + 1}: same command both sides, exit {p.returncode}, regressions {regs}")


@test
def profile_index_default_corpus_and_ask():
    db = tmp("dc.db")
    out = tmp("dc.json")
    p = profile(["index", "-n", "1", "-o", out, "--", "--timings", "none"], db)
    if op(load(out), "index")["count"] < 1:
        raise AssertionError("profile index without --path: nothing indexed")
    out = tmp("ask.json")
    profile(["chat", "-n", "1", "-o", out, "--", "--timings", "none"], db)
    cmd = load(out)["target"]["command"]
    if not cmd.endswith("ragd ask"):
        raise AssertionError(f"command shown: {cmd!r}, expected ragd's own 'ask'")
    if "ETA" not in p.stderr and "iteration 1/1" not in p.stderr:
        raise AssertionError(p.stderr)


@test
def probes_lists_ops():
    db = indexed_db()
    p = search_loop(db, 5)
    try:
        time.sleep(1.5)
        r = run(["probes", "-p", str(p.pid)], check=0)
        for want in ("CPython 3.", "supported", "search", "code 0x", "not found"):
            if want not in r.stdout:
                raise AssertionError(f"{want!r} missing:\n{r.stdout}")
    finally:
        p.kill()
        p.wait()
    r = run(["probes", "--", PY, "-m", "ragd"], check=0)
    if "pending" not in r.stdout or "startup" not in r.stdout:
        raise AssertionError(r.stdout)


@test
def top_live_under_tmux():
    if not shutil.which("tmux"):
        raise Skip("tmux not installed")
    db = indexed_db()
    p = search_loop(db, 2)
    sess = f"rbp{os.getpid()}"
    try:
        time.sleep(1.0)
        subprocess.run(["tmux", "new-session", "-d", "-s", sess, "-x", "120", "-y", "40"], check=True)
        subprocess.run(["tmux", "send-keys", "-t", sess, f"{BIN} top -p {p.pid}; echo TOP-EXIT=$?", "Enter"], check=True)
        time.sleep(5.0)   # BPF load, interpreter lookup, first 1 s window
        a = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True, text=True).stdout
        time.sleep(2.0)
        b = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True, text=True).stdout
        if "OPERATION" not in a or "search" not in a:
            raise AssertionError(f"top screen:\n{a}")
        if a == b:
            raise AssertionError("top did not refresh in 2 s")
        subprocess.run(["tmux", "send-keys", "-t", sess, "q"], check=True)
        time.sleep(1.5)
        c = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True, text=True).stdout
        if "TOP-EXIT=0" not in c or "OPERATION" in c:
            raise AssertionError(f"terminal not restored after q:\n{c}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
        p.kill()
        p.wait()


@test
def top_plain_lines_when_not_a_tty():
    db = indexed_db()
    p = search_loop(db, 2)
    try:
        time.sleep(1.0)
        r = run(["top", "-p", str(p.pid), "-d", "2.5"], check=0)
        if "\033[" in r.stdout or r.stdout.count("OPERATION") < 1:
            raise AssertionError(r.stdout)
    finally:
        p.kill()
        p.wait()


@test
def help_on_every_command():
    for cmd in ("record", "report", "compare", "profile", "top", "probes"):
        r = run([cmd, "--help"], check=0)
        if "Usage:" not in r.stdout or "Example" not in r.stdout:
            raise AssertionError(f"{cmd} --help:\n{r.stdout}")
    run(["--help"], check=0)


@test
def make_install_with_destdir():
    d = os.path.dirname(tmp("x"))
    r = subprocess.run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={d}", "PREFIX=/usr"], capture_output=True,
                       text=True, timeout=300)
    eq(r.returncode, 0, f"make install: {r.stderr}")
    for f in ("usr/sbin/ragd-bpfprof", "usr/share/man/man8/ragd-bpfprof.8"):
        if not os.path.exists(os.path.join(d, f)):
            raise AssertionError(f"{f} not installed")
