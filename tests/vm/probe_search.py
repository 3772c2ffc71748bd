"""Experiment: where does BPF's exact search window sit inside the workload's clock?"""
import json, os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lib import *
import test_python as tp

py = sys.argv[1] if len(sys.argv) > 1 else "/usr/bin/python3"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
db = tp.index_db(py)
def run_wl(extra=None, prof=True, spec=None):
    tim = tmp("t.jsonl")
    cmd = [py, "-m", "ragd", "search", "hybrid search with bm25", "--db", db, "--repeat", str(n),
           "--sleep-ms", "3", "--timings", tim, "-q"]
    if prof:
        s = record((spec or []) + ["-F", "999", "--"] + cmd, env={"PYTHONPATH": RAGD_LITE})
    else:
        subprocess.run(cmd, env={**os.environ, "PYTHONPATH": RAGD_LITE}, check=True)
        s = None
    t = [json.loads(l) for l in open(tim)]
    return s, t
def p50(xs):
    xs = sorted(xs); return xs[len(xs) // 2]
_, t0 = run_wl(prof=False)
print("unprofiled p50", p50([r["ns"] for r in t0 if r["op"] == "search"]))
for spec in (None, ["-e", "search=py:ragd/search/hybrid.py:HybridSearcher.search"]):
    s, t = run_wl(spec=spec)
    wl = [r for r in t if r["op"] == "search"]
    o = op(s, "search")
    cs = calls(s, "search")
    print("spec", "default" if spec is None else "search only", "count", o["count"], "prec", o["precision"],
          "bpf p50", o["p50_ns"], "wl p50", p50([r["ns"] for r in wl]))
    pairs = tp.match_calls(cs, wl, s["monotonic_start_ns"])
    d = [j["ns"] - c["duration_ns"] for c, j in pairs]
    print("pairs", len(pairs), "diff wl-bpf p50", p50(d), "min", min(d), "max", max(d))
    st = s.get("stats", {})
    print("stats", {k: v for k, v in st.items() if isinstance(v, (int, float))})
if os.environ.get("AB"):
    for k in range(3):
        _, t0 = run_wl(prof=False)
        print("unprofiled p50", p50([r["ns"] for r in t0 if r["op"] == "search"]))
        s, t = run_wl(spec=["-e", "search=py:ragd/search/hybrid.py:HybridSearcher.search", "-F", "0"])
        print("profiled -F0 search-only: wl p50", p50([r["ns"] for r in t if r["op"] == "search"]), "bpf", op(s,"search")["p50_ns"])
