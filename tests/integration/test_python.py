"""Python operations on the bundled ragd-lite workload and small scripts, per interpreter present
here (Debian's 3.11, pyenv 3.12/3.13; missing ones are skipped visibly)."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from lib import (BIN, RAGD_LITE, ROOT, SLOW, STRETCH, Interp, Skip, calls, debian_chroot, eq, load, op, p50,
                 proc_mounted, python_candidates, python_versions, record, run, scaled, spawn, test,
                 timing, tmp, within)

CALLBENCH = os.path.join(ROOT, "tools", "bench", "callbench.py")
_bp = None


def breakpoints_fire():
    """Do hardware breakpoints fire here? Asks the tool (same self-test it uses at start)."""
    global _bp
    if _bp is None:
        s = record(["-e", "f=py:x.py:f", "-F", "0", "--", sys.executable, "-c", "pass"])
        _bp = not any("hardware breakpoints do not fire" in w for w in s["warnings"])
    return _bp


def index_db(py):
    db = tmp("index.db")
    subprocess.run([py, "-m", "ragd", "index", "--db", db, "-q", "--timings", "none"], cwd=RAGD_LITE,
                   check=True, capture_output=True, timeout=120)
    return db


def truth(path):
    res = {}
    with open(path) as f:
        for line in f:
            j = json.loads(line)
            res.setdefault(j["op"], []).append(j["ns"])
    return res


def each_python(fn):
    """One test per interpreter present."""
    for label, py in python_candidates():
        def t(py=py, label=label):
            if not os.access(py, os.X_OK):
                raise Skip(f"Python {label} not installed here ({py})")
            fn(py)
        t.__name__ = f"{fn.__name__}[{label}]"
        t.__module__ = fn.__module__
        test(t)
    return fn


def search_session(py, n, extra_env=None, hz="999"):
    db = index_db(py)
    tim = tmp("timings.jsonl")
    env = {"PYTHONPATH": RAGD_LITE}
    env.update(extra_env or {})
    s = record(["-F", hz, "--", py, "-m", "ragd", "search", "hybrid search with bm25", "--db", db,
                "--repeat", str(n), "--sleep-ms", "3", "--timings", tim, "-q"], env=env)
    return s, truth(tim)


@each_python
@timing
def exact_search_counts_and_p50(py):
    if not breakpoints_fire():
        raise Skip("hardware breakpoints do not fire on this machine (self-test): exact py: timing "
                   "runs in `make vmtest`; sampled fallback is tested instead")
    n = scaled(200)
    s, t = search_session(py, n)
    for name in ("search",):
        o = op(s, name)
        eq(o["precision"], "exact", f"{name} precision")
        eq(o["count"], n, f"{name} count")
        within(o["p50_ns"], p50(t[name]), 0.02, 100000, f"{name} p50")


@each_python
def exact_rss_of_50mib(py):
    if not breakpoints_fire():
        raise Skip("hardware breakpoints do not fire on this machine (self-test): runs in `make vmtest`")
    db = index_db(py)
    s = record(["-e", "kw=py:ragd/search/bm25.py:BM25Index.search", "-F", "0", "--", py, "-m", "ragd",
                "search", "bm25", "--db", db, "--timings", "none", "-q"],
               env={"PYTHONPATH": RAGD_LITE, "RAGD_LITE_ALLOC_MB": "50"})
    c = calls(s, "kw")[0]
    within(c["rss_end_bytes"] - c["rss_start_bytes"], 50 << 20, 0.05, what="RSS delta")


@each_python
@timing
def sampled_attribution_matches_ground_truth(py):
    # Breakpoints or not, samples must say where search time goes: each stage's share of the
    # search time within 5 points of the workload's own clock.
    s, t = search_session(py, 150)
    total_truth = sum(t["search"])
    search_wall = op(s, "search")["total_ns"] if op(s, "search")["precision"] == "sampled" else None
    if search_wall is None:
        raise Skip("search is exact here; covered by exact_search_counts_and_p50")
    if s["stats"]["samples"] < 300:
        raise AssertionError(f"only {s['stats']['samples']} samples")
    for stage in ("search.semantic", "search.keyword", "search.embed_query", "search.init"):
        share_truth = 100.0 * sum(t.get(stage, [0])) / total_truth
        o = op(s, stage)
        share = 100.0 * o["total_ns"] / search_wall
        if abs(share - share_truth) > 5:
            raise AssertionError(f"{stage}: {share:.1f}% of search time by samples, {share_truth:.1f}% "
                                 f"by the workload's clock")
    # sampled rows say so, with the reason
    o = op(s, "search.semantic")
    eq(o["precision"], "sampled", "precision")
    if not o.get("note"):
        raise AssertionError("sampled op without a note saying why")


@each_python
def http_wait_is_off_cpu(py):
    db = index_db(py)
    s = record(["--", py, "-m", "ragd", "ask", "what is bm25", "--db", db, "--repeat", "3",
                "--timings", "none", "-q"], env={"PYTHONPATH": RAGD_LITE})
    o = op(s, "chat.llm_request")
    off, on = o.get("off_cpu_ns", 0), o["on_cpu_ns"]
    if not off > 2 * on:
        raise AssertionError(f"chat.llm_request: off-CPU {off} ns vs on-CPU {on} ns")


@each_python
def startup_module_body_exact(py):
    db = index_db(py)
    tim = tmp("t.jsonl")
    s = record(["-F", "0", "--", py, "-m", "ragd", "search", "x", "--db", db, "--timings", tim, "-q"],
               env={"PYTHONPATH": RAGD_LITE})
    o = op(s, "startup")
    eq(o["precision"], "exact", "startup precision")
    eq(o["count"], 1, "startup count")
    full = truth(tim)["startup"][0]   # the whole `from ragd import cli`, body included
    if not 0.2 * full <= o["p50_ns"] <= full * 1.02:
        raise AssertionError(f"module body {o['p50_ns']} ns vs whole import {full} ns")


SCRIPT = textwrap.dedent('''
    import sys, time, importlib
    sys.path.insert(0, sys.argv[1])
    print("ready", flush=True)
    time.sleep(1.5)
    import late_mod           # imported after the profiler attached
    t_end = time.time() + 2.5
    while time.time() < t_end:
        late_mod.work(20000)
''')
LATE = "def work(n):\n    s = 0\n    for i in range(n):\n        s += i * i\n    return s\n"


@each_python
def attach_by_pid_and_late_import(py):
    d = os.path.dirname(tmp("x"))
    open(os.path.join(d, "late_mod.py"), "w").write(LATE)
    script = os.path.join(d, "main.py")
    open(script, "w").write(SCRIPT)
    p = spawn([py, script, d])
    try:
        p.stdout.readline()
        out = tmp("s.json")
        run(["record", "-q", "-p", str(p.pid), "-d", "3.5", "-o", out, "-e",
             "work=py:late_mod.py:work"], check=0)
        s = load(out)
        o = op(s, "work")
        if not o.get("resolved"):
            raise AssertionError(f"late-imported function not found: {o}")
        if o["total_ns"] < 0.5e9:
            raise AssertionError(f"work: only {o['total_ns']} ns attributed in ~2.5 s of calls")
    finally:
        p.kill()
        p.wait()


@test
def unsupported_interpreter_is_explained():
    py = "/root/.pyenv/versions/3.10.13/bin/python3.10"
    if not os.access(py, os.X_OK):
        raise Skip("pyenv 3.10 not installed here")
    p = spawn([py, "-c", "import time; time.sleep(5)"])
    try:
        time.sleep(0.3)
        r = run(["record", "-q", "-p", str(p.pid), "-d", "0.5", "-e", "f=py:a.py:f"])
        eq(r.returncode, 2, "exit code")
        if "3.10" not in r.stderr or "not supported" not in r.stderr:
            raise AssertionError(r.stderr)
    finally:
        p.kill()
        p.wait()


@test
def not_python_is_explained():
    p = spawn(["sleep", "5"])
    try:
        r = run(["record", "-q", "-p", str(p.pid), "-d", "0.3"])
        eq(r.returncode, 2, "exit code")
        if "not a Python process" not in r.stderr:
            raise AssertionError(r.stderr)
    finally:
        p.kill()
        p.wait()


@test
def folded_stacks_have_op_prefixes():
    py = python_versions()[0][1]
    db = index_db(py)
    out = tmp("s.json")
    run(["record", "-q", "-o", out, "--", py, "-m", "ragd", "search", "hybrid", "--db", db, "--repeat", "30",
         "--timings", "none", "-q"], env={"PYTHONPATH": RAGD_LITE}, check=0)
    lines = run(["report", out, "--format", "folded"], check=0).stdout.splitlines()
    if not lines or not all(l.rsplit(" ", 1)[1].isdigit() for l in lines):
        raise AssertionError("folded lines must end with a count")
    if not any(l.startswith("search;") for l in lines):
        raise AssertionError("no stack starts with the 'search' operation")


def check_exact(s, t, names):
    for name in names:
        o = op(s, name)
        eq(o["precision"], "exact", f"{name} precision (note: {o.get('note')})")
        eq(o["count"], len(t[name]), f"{name} count")
        within(o["p50_ns"], p50(t[name]), 0.02, 100000, f"{name} p50")
        if o.get("coverage") != 1:
            raise AssertionError(f"{name}: coverage {o.get('coverage')}, expected 1")


def ragd_session(py, args, hz="999", db=None):
    db = db or index_db(py)
    tim = tmp("timings.jsonl")
    s = record(["-F", hz, "--", py, "-m", "ragd"] + args + ["--db", db, "--timings", tim, "-q"],
               env={"PYTHONPATH": RAGD_LITE})
    return s, truth(tim)


@each_python
def default_spec_top_level_ops_exact(py):
    """The default spec in launch mode: index, search and chat exact whatever the import order
    (the embedder and BM25 modules load first and used to take every debug register)."""
    if not breakpoints_fire():
        raise Skip("hardware breakpoints do not fire on this machine: run `make vmtest`")
    db = tmp("idx.db")
    s, t = ragd_session(py, ["index"], db=db)
    check_exact(s, t, ["index"])
    s, t = ragd_session(py, ["search", "hybrid search with bm25", "--repeat", str(scaled(200)),
                             "--sleep-ms", "2"], db=db)
    check_exact(s, t, ["search"])
    s, t = ragd_session(py, ["search", "sourdough", "--repeat", str(scaled(200))], hz="0", db=db)
    check_exact(s, t, ["search"])
    s, t = ragd_session(py, ["ask", "how long should sourdough proof", "--repeat", str(scaled(10, 3))], db=db)
    check_exact(s, t, ["chat"])
    # Exact rows hold exact calls only: never a sampled span.
    for c in s["calls"]:
        if c["op"] == "chat" and "sampled" in c["flags"]:
            raise AssertionError("a sampled span in the exact chat row")


@each_python
def attach_search_loop_exact(py):
    """-p PID on a running search loop: search exact, each call matching one of the workload's."""
    if not breakpoints_fire():
        raise Skip("hardware breakpoints do not fire on this machine: run `make vmtest`")
    attached_search(Interp(py, [py]), index_db(py))


def attached_search(it, db):
    """record -p on a search loop of interpreter IT over index DB, checked against its own clock."""
    tim = it.tmp("timings.jsonl")
    p = spawn(it.argv + ["-m", "ragd", "search", "bm25 ranking", "--db", it.path(db), "--repeat",
                         "100000", "--sleep-ms", "3", "--timings", it.path(tim), "-q"],
              env={"PYTHONPATH": it.ragd_lite})
    try:
        time.sleep(1.0 * SLOW)
        out = tmp("s.json")
        # under chroot, chroot execs the interpreter: p.pid is the Python process
        run(["record", "-q", "-p", str(p.pid), "-d", str(2 * SLOW), "-F", "0", "-o", out], check=0)
    finally:
        p.kill()
        p.wait()
    check_attached_search(load(out), tim)


def check_attached_search(s, tim):
    """A -p session on a search loop: search exact, each call matching one of the workload's own
    (TIM, its --timings file), p50 of the same calls within 2% or 100 us."""
    o = op(s, "search")
    eq(o["precision"], "exact", f"search precision (note: {o.get('note')})")
    if o["count"] < 40:
        raise AssertionError(f"only {o['count']} search calls in {2 * SLOW} s")
    closed = [c for c in s["calls"] if c["op"] == "search" and "open" not in c["flags"]]
    eq(len(closed), o["count"], "call records")
    # A call in flight while the watch was armed can come out flagged (unwound: its end is an
    # upper bound); the others are timed from their first to their last instant.
    ours = [c for c in closed if not c["flags"]]
    if len(closed) - len(ours) > 2:
        raise AssertionError(f"{len(closed) - len(ours)} of {len(closed)} calls flagged")
    theirs = [j for j in map(json.loads, open(tim)) if j["op"] == "search"]
    pairs = match_calls(ours, theirs, s["monotonic_start_ns"])
    if len(pairs) != len(ours):
        odd = [c for c in ours if all(c is not a for a, _ in pairs)]
        raise AssertionError(f"{len(ours) - len(pairs)} of {len(ours)} calls lie inside none of "
                             f"the workload's: {odd[:3]} (session monotonic_start_ns "
                             f"{s['monotonic_start_ns']})")
    within(p50([c["duration_ns"] for c, _ in pairs]), p50([j["ns"] for _, j in pairs]), 0.02, 100000,
           "search p50 (same calls)")


def match_calls(ours, theirs, mono0, eps=50000 * SLOW):
    """Pairs our calls with the workload's on one clock: MONO0 (the session's monotonic_start_ns)
    puts ours on CLOCK_MONOTONIC, the workload's perf_counter_ns. The workload times each call
    around it, so its interval must contain ours (EPS: rounding of the two reads); preemption
    between its clock read and the call only widens it."""
    ts = sorted(theirs, key=lambda j: j["start_ns"])
    pairs, k = [], 0
    for c in sorted(ours, key=lambda c: c["start_ns"]):
        a = mono0 + c["start_ns"]
        while k < len(ts) and ts[k]["end_ns"] + eps < a + c["duration_ns"]:
            k += 1
        if k < len(ts) and ts[k]["start_ns"] <= a + eps:
            pairs.append((c, ts[k]))
            k += 1
    return pairs


def newest_exact_python():
    """The newest interpreter here and an index of it; a visible skip without breakpoints."""
    if not breakpoints_fire():
        raise Skip("hardware breakpoints do not fire on this machine: run `make vmtest`")
    cands = python_versions()
    if not cands:
        raise Skip("no Python interpreter here")
    py = cands[-1][1]
    return py, index_db(py)


@test
def profile_rotates_exact_stages():
    """profile -n 12, default spec: the top-level op exact in every iteration, the search stages
    in turn, so that each has exact calls; counts per iteration and durations agree with the
    workload's own clock, and coverage says which share was watched."""
    py, db = newest_exact_python()
    tim, out = tmp("timings.jsonl"), tmp("prof.json")
    run(["profile", "search", "-n", "12", "-q", "-o", out, "--ragd", f"{py} -m ragd"], timeout=600,
        env={"PYTHONPATH": RAGD_LITE, "RAGD_LITE_DB": db, "RAGD_LITE_TIMINGS": tim}, check=0)
    s = load(out)
    t = [json.loads(l) for l in open(tim)]
    for name in ("search", "search.init", "search.embed_query", "search.semantic",
                 "search.keyword", "search.fusion"):
        o = op(s, name)
        eq(o["precision"], "exact", f"{name} precision ({o.get('note')})")
        cov = o.get("coverage")
        if not (cov and 0 < cov <= 1):
            raise AssertionError(f"{name}: coverage {cov}")
        ours = [c for c in s["calls"] if c["op"] == name and not c["flags"]]
        pids = {c["pid"] for c in ours}
        theirs = [j for j in t if j["op"] == name and j["pid"] in pids]
        eq(len(ours), len(theirs), f"{name} calls in the iterations it was watched")
        within(p50([c["duration_ns"] for c in ours]), p50([j["ns"] for j in theirs]), 0.02, 100000,
               f"{name} p50")
    eq(op(s, "search")["coverage"], 1, "search coverage")



@test
def overhead_budget_top_exact_stages_partial():
    """--overhead: a budget too small for the stages pauses them (the top-level op stays exact on
    every call, counts and p50 as the workload's clock); a stage watched in part of the calls
    has 0 < coverage < 1 and exact statistics from exactly the calls it saw, each inside one of
    the workload's own calls of it. --overhead 0 watches every call as before."""
    py, db = newest_exact_python()
    n = scaled(300)
    tim, out, err = tmp("timings.jsonl"), tmp("s.json"), tmp("err")
    with open(err, "w") as ef:
        subprocess.run([BIN, "record", "-v", "-q", "-F", "0", "--overhead", "0.5", "-o", out, "--", py,
                        "-m", "ragd", "search", "hybrid search with bm25", "--db", db, "--repeat",
                        str(n), "--timings", tim, "-q"], env=dict(os.environ, PYTHONPATH=RAGD_LITE),
                       stdout=subprocess.DEVNULL, stderr=ef, timeout=300)
    s, log = load(out), open(err).read()
    t = [json.loads(l) for l in open(tim)]
    if "stages paused" not in log:
        raise AssertionError(f"the budget never paused the stages: {log[-800:]}")
    o = op(s, "search")
    eq(o["precision"], "exact", f"search precision ({o.get('note')})")
    eq(o["count"], n, "search count")
    within(o["p50_ns"], p50([j["ns"] for j in t if j["op"] == "search"]), 0.02, 100000, "search p50")
    partial = 0
    for name in ("search.init", "search.embed_query", "search.semantic", "search.keyword",
                 "search.fusion"):
        o = op(s, name)
        if o["precision"] != "exact":
            continue
        cov = o.get("coverage")
        if not (cov and 0 < cov <= 1):
            raise AssertionError(f"{name}: exact with coverage {cov}")
        partial += cov < 1
        ours = [c for c in s["calls"] if c["op"] == name]
        if any("sampled" in c["flags"] for c in ours):
            raise AssertionError(f"{name}: a sampled span in an exact row")
        eq(len(ours), o["count"], f"{name}: call records")
        if o["count"] >= n:
            raise AssertionError(f"{name}: {o['count']} calls watched of {n}: the budget cut nothing")
        plain = [c for c in ours if not c["flags"]]
        pairs = match_calls(plain, [j for j in t if j["op"] == name], s["monotonic_start_ns"])
        eq(len(pairs), len(plain), f"{name}: calls inside one of the workload's")
        if pairs:
            within(p50([c["duration_ns"] for c, _ in pairs]), p50([j["ns"] for _, j in pairs]), 0.02,
                   100000, f"{name} p50 (same calls)")
    if not partial:
        raise AssertionError("no stage with 0 < coverage < 1")
    # unbounded: a stage armed the whole time sees every call, as before the budget
    n = scaled(50)
    s = record(["-F", "0", "--overhead", "0", "--", py, "-m", "ragd", "search", "bm25", "--db", db,
                "--repeat", str(n), "--timings", "none", "-q"], env={"PYTHONPATH": RAGD_LITE})
    full = [o for o in s["operations"] if o["name"].startswith("search.") and o.get("coverage") == 1]
    if not full:
        raise AssertionError("--overhead 0: no stage watched the whole time")
    for o in full:
        eq(o["count"], n, f"{o['name']} count with --overhead 0")


@test
def budget_gives_up_a_stage_called_back_to_back():
    """A stage called back to back always has a call open: the budget's pause must still take
    its register (the door closes, the open call ends, the register goes). callbench's outer()
    calls mid() 300 times (fewer in a guest), one right after the other; with --overhead 1 mid is watched in part
    (before the fix every call was: coverage 1 whatever the budget)."""
    py, _ = newest_exact_python()
    reps = scaled(300, 60)
    s = record(["-F", "0", "--overhead", "1", "-e", "outer=py:bench/callbench.py:outer", "-e",
                "outer.mid=py:bench/callbench.py:mid", "--", py, CALLBENCH, tmp("cb.out"), str(reps),
                str(20000 // SLOW)])
    o, mid = op(s, "outer"), op(s, "outer.mid")
    eq((o["precision"], o["count"]), ("exact", 1), "outer")
    eq(mid["precision"], "exact", f"mid precision ({mid.get('note')})")
    if not (0 < mid["count"] < reps and 0 < mid["coverage"] < 0.8):
        raise AssertionError(f"mid: {mid['count']} of {reps} calls, coverage {mid['coverage']}: "
                             "the budget did not take the register")
    eq(len([c for c in s["calls"] if c["op"] == "outer.mid" and not c["flags"]]), mid["count"],
       "mid's exact call records")


@test
def overhead_bad_values_exit_2():
    """--overhead takes 0 to 100 (percent); anything else is one line naming it and exit 2, in
    every command that records."""
    for v in ("x", "-1", "101", "nan", "inf", "", "1e400"):
        for cmd in (["record", "--overhead", v, "--", "true"], ["top", "--overhead", v, "-p", "1"],
                    ["profile", "search", "--overhead", v, "-n", "1"]):
            p = subprocess.run([BIN] + cmd, capture_output=True, text=True, timeout=20)
            lines = p.stderr.strip().splitlines()
            if p.returncode != 2 or len(lines) != 1 or "overhead budget" not in lines[0]:
                raise AssertionError(f"{cmd}: exit {p.returncode}, stderr {p.stderr!r}")

# ---- one debug register per op: the code object's reference count (on_rc) ----
PYOPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyops.py")


def pyops_attach(py, ops, n, extra=(), rc="1"):
    """record -p on pyops.py running OPS n times each; the calls start once every op is armed.
    Returns (session, {op: [ns, ...]} from the workload's own clock, record's stderr)."""
    if not breakpoints_fire():
        raise Skip("hardware breakpoints do not fire on this machine (self-test)")
    it = py if isinstance(py, Interp) else Interp(py, [py])
    d = os.path.dirname(it.tmp("x"))
    go, tim, out, err = (os.path.join(d, f) for f in ("go", "t.jsonl", "s.json", "err"))
    # --work: under TCG a watch hit costs ~0.1 ms, so the calls are stretched as lib.ms() does.
    p = spawn(it.argv + [it.copy_in(PYOPS), "--ops", ",".join(ops), "-n", str(n), "--go", it.path(go),
                         "--timings", it.path(tim), "--linger", str(60 * SLOW),
                         "--work", str(3000 * STRETCH)])
    try:
        p.stdout.readline()
        args = [BIN, "record", "-v", "-q", "-F", "0", "-o", out, "-p", str(p.pid), "-d", "40"]
        for o in ops:
            args += ["-e", f"{o}=py:pyops.py:{'Init.__init__' if o == 'init' else o}"]
        with open(err, "w") as ef:
            # 3.11 takes the one-register scheme only when asked (see rc_ok in user/record.c)
            r = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=ef,
                                 env=dict(os.environ, RAGD_BPFPROF_RC=rc))
            deadline = time.time() + 10 * SLOW
            while time.time() < deadline:
                armed = sum(1 for line in open(err) if line.startswith("exact: "))
                if armed >= len(ops) or r.poll() is not None:
                    break
                time.sleep(0.05)
            open(go, "w").close()
            while not os.path.exists(tim) and r.poll() is None:
                time.sleep(0.05)
            time.sleep(0.3)
            r.send_signal(signal.SIGINT)  # the calls are done: stop recording (as Ctrl-C)
            r.wait(timeout=60)
        log = open(err).read()
        if r.returncode != 0:
            raise AssertionError(f"record exit {r.returncode}: {log[-2000:]}")
        return load(out), truth(tim), log
    finally:
        p.kill()
        p.wait()


def check_exact_rc(s, t, log, name, count=None, one_register=True):
    o = op(s, name)
    eq(o["precision"], "exact", f"{name} precision ({o.get('note')})")
    if one_register and f"exact: {name} (1 debug register" not in log:
        raise AssertionError(f"{name} not armed with one debug register: {log[-1500:]}")
    eq(o["count"], count if count is not None else len(t[name]), f"{name} count")
    within(o["p50_ns"], p50(t[name]), 0.02, 100000, f"{name} p50")
    return o


def rc_scheme(py):
    return 1 if "3.11" in (py.label if isinstance(py, Interp) else py) else 2


@each_python
def main_script_functions_exact_from_the_first_call(py):
    """Functions of the script itself (`python3 script.py`, ops found only while its body runs):
    found in the body's co_consts when it starts, so every call is exact, also the one outer()
    call made from the body. callbench's module frame is one word smaller than leaf()'s: its
    refcount write at `def leaf` once looked like a call at a new stack chunk (regression)."""
    if not breakpoints_fire():
        raise Skip("hardware breakpoints do not fire on this machine: run `make vmtest`")
    s = record(["-F", "0", "-e", "leaf=py:bench/callbench.py:leaf", "-e",
                "outer=py:bench/callbench.py:outer", "--", py, CALLBENCH, tmp("cb.out"), "5", "100"])
    for name, n in (("leaf", 500), ("outer", 1)):
        o = op(s, name)
        eq((o["precision"], o["count"], o["coverage"]), ("exact", n, 1), f"{name} precision, count, coverage")
        eq([c for c in calls(s, name, True) if c["flags"]], [], f"{name} flagged calls")


@each_python
def functions_of_a_big_module_found_at_its_start(py):
    """A module body whose co_consts hold 150 functions and 300 other constants (more than one
    read of its tuple and several batches of type reads in the walk): two functions called from
    the body, each defined once, and a name defined twice (left to the dict at the return)."""
    if not breakpoints_fire():
        raise Skip("hardware breakpoints do not fire on this machine: run `make vmtest`")
    src = ["import sys", "CONSTS = (%s)" % ", ".join("'c%d'" % i for i in range(300))]
    src += ["def f%d(x):\n    return x + %d" % (i, i) for i in range(150)]
    src += ["if len(sys.argv) > 5:\n    def twice(x):\n        return x\nelse:\n"
            "    def twice(x):\n        return x + 1",
            "for i in range(40):\n    f7(i); f149(i); twice(i)"]
    mod = tmp("bigmod.py")
    with open(mod, "w") as f:
        f.write("\n".join(src) + "\n")
    s = record(["-F", "0", "-e", "a=py:bigmod.py:f7", "-e", "b=py:bigmod.py:f149", "-e",
                "c=py:bigmod.py:twice", "--", py, mod])
    for name in ("a", "b"):
        o = op(s, name)
        eq((o["precision"], o["count"], o["coverage"]), ("exact", 40, 1), f"{name} precision, count, coverage")
    # twice(): two definitions, so not found at the body's start; found at its return, no calls after
    eq(op(s, "c")["count"], 0, "twice count")


@each_python
def launch_through_wrappers(py):
    """record -- a wrapper that runs Python: a script that forks many children and then execs
    the interpreter (as a pyenv shim does: before, each child that was not Python kept a slot
    and the interpreter found none), and a shell that runs it as a child (BPF holds that child
    at its module loads: it was sent SIGCONT to the shell and stayed stopped)."""
    if not breakpoints_fire():
        raise Skip("hardware breakpoints do not fire on this machine: run `make vmtest`")
    out = tmp("cb.out")
    # 0.3 s before outer() runs: the interpreter is found after its exec, not before it starts
    for wrap in (f"for i in $(seq 24); do /bin/true; done; exec {py} {CALLBENCH} {out} 5 100 0.3",
                 f"{py} {CALLBENCH} {out} 5 100 0.3; true"):
        s = record(["-F", "0", "-e", "leaf=py:bench/callbench.py:leaf", "--", "sh", "-c", wrap],
                   timeout=60)
        o = op(s, "leaf")
        eq((o["precision"], o["count"]), ("exact", 500), f"leaf under sh -c '{wrap}'")


@each_python
def rc_four_ops_exact_at_once(py):
    # plain, logs on every call (logging's findCaller takes f.f_code: other refcount writes),
    # raises for a third of its inputs (caught by the caller), four return sites: 4 registers.
    n = scaled(150, 30)
    s, t, log = pyops_attach(py, ["plain", "logs", "raises", "multi"], n)
    for name in ("plain", "logs", "raises", "multi"):
        o = check_exact_rc(s, t, log, name, n)
    # 3.12+ see the raising frame's clearing; 3.11 only the traceback dying later (upper bound)
    eq(op(s, "raises").get("unwound", 0), n // 3 if rc_scheme(py) == 1 else 0, "raises unwound")
    eq(op(s, "logs").get("unwound", 0), 0, "logs unwound")


@each_python
def rc_recursion_threads_and_c_callers(py):
    # rec: 4 nested frames of one function; threaded: 4 threads at once; cfunc: called by map()
    # (an entry frame); ingen: called from a generator's frame (not on the datastack).
    n = scaled(100, 20)
    s, t, log = pyops_attach(py, ["rec", "threaded", "cfunc", "ingen"], n)
    # rec's p50 falls between two nesting levels (2 and 3 of 4 works): compare level by level.
    # The workload notes a nest innermost first, so truth k of each 4 is depth 3 - k.
    eq(op(s, "rec")["count"], 4 * n, "rec count")
    for depth in range(4):
        at = [c for c in calls(s, "rec", True) if c.get("depth", 0) == depth]
        odd = [c for c in at if c["flags"]]
        if len(at) != n or odd:
            raise AssertionError(f"rec at depth {depth}: {len(at)} calls, {len(odd)} flagged: {odd[:2]}")
        within(p50([c["duration_ns"] for c in at]), p50(t["rec"][3 - depth::4]), 0.02, 100000,
               f"rec p50 at depth {depth}")
    check_exact_rc(s, t, log, "threaded", 4 * n)
    check_exact_rc(s, t, log, "cfunc", n)
    check_exact_rc(s, t, log, "ingen", n)
    if len({c["tid"] for c in calls(s, "threaded")}) != 4:
        raise AssertionError("threaded calls not on 4 threads")
    if max(c.get("depth", 0) for c in calls(s, "rec")) != 3:
        raise AssertionError("rec: nesting depth not seen")


@each_python
def rc_chunk_start_escaped_frames_and_init(py):
    # deep: under 100-163 other frames, so some calls are the first frame of a datastack chunk;
    # keepframe: its frame object outlives the call (frame object takes over the frame);
    # init: Init.__init__ run by Init() (3.13 puts a cleanup shim frame below it).
    n = 64  # all 64 depths: some calls land first in a datastack chunk
    s, t, log = pyops_attach(py, ["deep", "keepframe", "init"], n)
    check_exact_rc(s, t, log, "deep", 3 * n)
    check_exact_rc(s, t, log, "init", n)
    if rc_scheme(py) == 2:
        check_exact_rc(s, t, log, "keepframe", n)
    else:
        # 3.11 moves the code reference to the frame object without a write: such a call ends at
        # the next event of the op on its thread (an upper bound); the last one is still open.
        o = op(s, "keepframe")
        if o["count"] < n - 1:
            raise AssertionError(f"keepframe count {o['count']} < {n - 1}")


# ---- the interpreter matrix: Debian 12's 3.11, pyenv 3.12/3.13, and Debian's own stripped
# interpreters (libpython linked in) in debootstrap chroots, run as `chroot DIR python3`: how a
# container looks from outside. Each launched (`record -- ...`) and attached (`record -p`).
MATRIX = [("3.11-debian12", "/usr/bin/python3.11", None),
          ("3.12-pyenv", "/root/.pyenv/versions/3.12.1/bin/python3.12", None),
          ("3.13-pyenv", "/root/.pyenv/versions/3.13.0/bin/python3.13", None),
          ("3.13-debian13", None, "trixie"),
          ("3.14-sid", None, "sid")]


def matrix_interp(label, py, suite):
    if suite:
        root = debian_chroot(suite)
        return Interp(label, ["chroot", root, "python3"], root)
    if not os.access(py, os.X_OK):
        raise Skip(f"Python {label} not installed here ({py})")
    return Interp(label, [py])


def each_interp(fn, chroots_only=False):
    """One test per matrix interpreter; a gap is a skip with its one-line reason."""
    for label, py, suite in MATRIX:
        if chroots_only and not suite:
            continue

        def t(label=label, py=py, suite=suite):
            if not breakpoints_fire():
                raise Skip("hardware breakpoints do not fire on this machine (self-test): the "
                           "interpreter matrix needs exact calls; run `make vmtest`")
            it = matrix_interp(label, py, suite)
            with proc_mounted(it.root):
                fn(it)
        t.__name__ = f"{fn.__name__}[{label}]"
        t.__module__ = fn.__module__
        test(t)
    return fn


def interp_index(it):
    db = it.tmp("index.db")
    subprocess.run(it.argv + ["-m", "ragd", "index", "--db", it.path(db), "-q", "--timings", "none"],
                   env=dict(os.environ, PYTHONPATH=it.ragd_lite), check=True, capture_output=True,
                   timeout=120)
    return db


@each_interp
@timing
def matrix_launch_search_exact(it):
    """record -- INTERP -m ragd search, default spec: search exact, as many calls as the
    workload's own clock counted, p50 within 2% or 100 us, coverage 1."""
    db, tim, n = interp_index(it), it.tmp("timings.jsonl"), scaled(100)
    s = record(["--"] + it.argv + ["-m", "ragd", "search", "hybrid search with bm25", "--db",
                                   it.path(db), "--repeat", str(n), "--sleep-ms", "2", "--timings",
                                   it.path(tim), "-q"], env={"PYTHONPATH": it.ragd_lite})
    t = truth(tim)
    eq(len(t["search"]), n, "the workload's own search count")
    check_exact(s, t, ["search"])


@each_interp
@timing
def matrix_attach_search_exact(it):
    """record -p on a search loop of INTERP: as attach_search_loop_exact."""
    attached_search(it, interp_index(it))


@each_interp
def bytecode_scheme_calls_recursion_and_kwargs(it):
    """The first-bytecode + RETURN scheme (RAGD_BPFPROF_RC=0): 3.14 reads a callee's first
    instruction before it links its frame (before this was handled: plain 1 of 100, kw 1 of 100);
    a recursive call must not be taken for its caller (fact, 2 return sites: 3 registers)."""
    s, t, log = pyops_attach(it, ["fact"], 50, rc="0")
    check_exact_rc(s, t, log, "fact", 200, one_register=False)
    s, t, log = pyops_attach(it, ["kw", "plain"], 100, rc="0")
    for name in ("kw", "plain"):
        check_exact_rc(s, t, log, name, 100, one_register=False)


# The one-register scheme's cases on the chroot interpreters too (the host ones run above).
for _body in (rc_four_ops_exact_at_once, rc_recursion_threads_and_c_callers,
              rc_chunk_start_escaped_frames_and_init):
    each_interp(_body, chroots_only=True)


# ---------------------------------------------------------------- messages: ops without calls

TYPO = ["-e", "s=py:ragd/search/hybrid.py:HybridSearcher.serch"]
TYPO_WHY = ("'HybridSearcher.serch' is not in loaded module ragd/search/hybrid.py "
            "(did you mean: HybridSearcher.search?)")


def write_script(name, text):
    path = tmp(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def strict_lines(p):
    return [l for l in p.stderr.splitlines() if "--strict" in l]


@each_python
def typo_qualname_did_you_mean_and_strict(py):
    # The module is loaded, the qualname is not in it: say so (not "module never imported?"),
    # with the names close to it; --strict makes it exit 2 with one line for the op.
    db = index_db(py)
    env = {"PYTHONPATH": RAGD_LITE}
    cmd = ["--", py, "-m", "ragd", "search", "hybrid search", "--db", db, "-q", "--timings", "none"]
    out = tmp("typo.json")
    p = run(["record", "--no-color", "-o", out] + TYPO + cmd, env=env, check=0)
    if TYPO_WHY + ": s" not in " ".join(p.stdout.split()):   # wrapped at 80 columns
        raise AssertionError(f"launch: no did-you-mean in the report:\n{p.stdout[-1500:]}")
    eq(op(load(out), "s")["note"], TYPO_WHY, "launch: note")
    p = run(["record", "-q", "--strict"] + TYPO + ["-e", "t=py:ragd/search/hybrid.py:HybridSearcher.search"]
            + cmd, env=env, check=2)
    eq(strict_lines(p), [f"ragd-bpfprof: --strict: operation 's' not found: {TYPO_WHY}"], "launch --strict")

    target = spawn([py, "-m", "ragd", "search", "hybrid search", "--db", db, "--repeat", "100000",
                    "--sleep-ms", "5", "-q", "--timings", "none"], env=env)
    try:
        time.sleep(1.5 * SLOW)
        pid = str(target.pid)
        s = record(["-p", pid, "-d", "0.5"] + TYPO)
        eq(op(s, "s")["note"], TYPO_WHY, "-p: note")
        p = run(["record", "-q", "-p", pid, "-d", "0.5", "--strict"] + TYPO, check=2)
        eq(len(strict_lines(p)), 1, "-p --strict lines")
        p = run(["probes", "-p", pid, "--strict"] + TYPO, check=2)
        if TYPO_WHY not in p.stdout:
            raise AssertionError(f"probes: no did-you-mean:\n{p.stdout}")
        # without --strict the exit stays 0
        run(["probes", "-p", pid] + TYPO, check=0)
    finally:
        target.kill()
        target.wait()


STAGE_SCRIPT = """
import time
def short():
    return 1
def outer():
    t = time.time()
    while time.time() - t < 0.3:
        pass
    short()
    return 0
"""


@each_python
def stage_between_samples_says_why(py):
    # outer takes both registers (entry + return, RAGD_BPFPROF_RC=0); outer.short, a few
    # microseconds once, never gets one and no 1 Hz sample catches it. The note used to be
    # "no debug register left for it".
    # (a module of its own: its functions are armed when its import returns, before the call)
    mod = write_script("stagemod.py", STAGE_SCRIPT)
    s = record(["-F", "1", "--max-breakpoints", "2", "-e", f"outer=py:{mod}:outer",
                "-e", f"outer.short=py:{mod}:short", "--", py, "-c", "import stagemod; stagemod.outer()"],
               env={"RAGD_BPFPROF_RC": "0", "PYTHONPATH": os.path.dirname(mod)})
    note = op(s, "outer.short")["note"]
    want = "no sample: not called or each call < 1.00s (1 Hz)"
    if not note.endswith(want):
        raise AssertionError(f"note {note!r}")
    enospc = any("ENOSPC" in w for w in s["warnings"])
    if breakpoints_fire() and not enospc:
        eq(op(s, "outer")["count"], 1, "outer count")
        eq(note, f"never armed (registers held by outer); {want}", "note")


THREADS_SCRIPT = """
import sys, threading, time
n = int(sys.argv[1])
go = threading.Barrier(n)
def work():
    for _ in range(10):
        time.sleep(0.02)
def run():
    go.wait()
    work()
"""
# n threads run run()
THREADS_MAIN = """
ts = [threading.Thread(target=run) for _ in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
"""


@each_python
def sampled_calls_per_thread_not_merged(py):
    # 130 threads with consecutive tids (tid % 64 collides for most of them), each one call of
    # work() seen by ~10 off-CPU samples interleaved with the others': one sampled call each
    # (keyed by tid % 64 they made 1,276-1,451; a thread that waits long for the GIL between two
    # samples may split its call in two, rarely).
    n = 130
    script = write_script("threads.py", THREADS_SCRIPT + THREADS_MAIN)
    s = record(["--max-breakpoints", "0", "-e", f"work=py:{script}:work", "--", py, script, str(n)])
    o = op(s, "work")
    eq(o["precision"], "sampled", "precision")
    got = len(calls(s, "work", include_flagged=True))
    if not n <= got <= n + n // 20:
        raise AssertionError(f"{got} sampled calls of work for {n} calls")
    eq(o["count"], got, "count")


INST_SCRIPT = """
import sys, threading, time
k, n = int(sys.argv[1]), 4
def op():
    time.sleep(0.00015)
def a():
    op()
def c():
    op()
def b():
    c()
def run():
    for _ in range(k):
        a()
        b()
"""


@each_python
def sampled_calls_past_max_inst_counted(py):
    # 72,000 calls, each blocking once (an off-CPU sample) from a frame at another depth than the
    # last: each is its own sampled call. Past 65,536 they are counted and warned, not dropped
    # in silence.
    k = 9000
    script = write_script("inst.py", INST_SCRIPT + THREADS_MAIN)
    s = record(["-F", "99", "--max-breakpoints", "0", "-e", f"op=py:{script}:op", "--", py, script, str(k)],
               timeout=300)
    kept = len(calls(s, "op", include_flagged=True))
    eq(kept, 65536, "sampled calls kept")
    warn = [w for w in s["warnings"] if "sampled call instances past 65536 not counted" in w]
    if len(warn) != 1:
        raise AssertionError(f"no warning for the calls past 65536: {s['warnings']}")
    dropped = int(warn[0].split()[0])
    if kept + dropped < 0.9 * 8 * k:
        raise AssertionError(f"{kept} + {dropped} sampled calls of {8 * k}")
