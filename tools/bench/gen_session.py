#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Writes a large, realistic ragd-bpfprof/1 session for the report/compare benchmark.

    gen_session.py OUT.json [--calls N] [--seed S] [--slower PCT]

N calls (default 1,000,000) of ragd-shaped ops: top-level index/search/chat calls with nested
stages (depth 1-2), a native op under them, a module body, several processes and threads, RSS
at entry/return/peak, a few open and unwound calls, sampled spans of sampled ops and a few
hundred collapsed stacks. Operation statistics and histograms are computed from the calls as
`record` does (nearest-rank percentiles, log-linear buckets of include/hist.h), so the file is
what the recorder would write. --slower stretches every duration (a "current" for compare).
Deterministic for a given seed.
"""
import argparse
import math
import random
import sys

SUB_BITS = 6
SUB = 1 << SUB_BITS
MAX_LOG2 = 42
BUCKETS = (MAX_LOG2 - SUB_BITS + 2) * SUB

F_UNWOUND, F_OPEN, F_SAMPLED = 1, 2, 4


def hist_index(v):
    if v < SUB:
        return v
    e = v.bit_length() - 1
    if e > MAX_LOG2:
        return BUCKETS - 1
    return (e - SUB_BITS + 1) * SUB + ((v >> (e - SUB_BITS)) & (SUB - 1))


def bucket_low(i):
    if i < SUB:
        return i
    e = i // SUB + SUB_BITS - 1
    return (SUB + i % SUB) << (e - SUB_BITS)


def bucket_high(i):
    return 2**64 - 1 if i >= BUCKETS - 1 else bucket_low(i + 1) - 1


# name, kind, precision, median duration (ns), children (name, calls per parent call)
OPS = [
    ("startup", "py_module", "exact", 14_000_000, []),
    ("index", "py", "exact", 9_000_000, [("index.chunk", 2), ("index.embed", 2), ("index.store", 1)]),
    ("index.chunk", "py", "exact", 600_000, []),
    ("index.embed", "py", "exact", 2_000_000, [("sqlite_step", 1)]),
    ("index.store", "py", "exact", 900_000, [("sqlite_step", 2)]),
    ("search", "py", "exact", 5_000_000, [("search.keyword", 1), ("search.semantic", 1),
                                          ("search.rerank", 1)]),
    ("search.keyword", "py", "exact", 700_000, [("sqlite_step", 2)]),
    ("search.semantic", "py", "exact", 2_500_000, [("sqlite_step", 1)]),
    ("search.rerank", "py", "exact", 400_000, []),
    ("chat", "py", "sampled", 40_000_000, [("chat.retrieve", 1), ("chat.generate", 1)]),
    ("chat.retrieve", "py", "sampled", 6_000_000, []),
    ("chat.generate", "py", "sampled", 30_000_000, []),
    ("sqlite_step", "native", "exact", 40_000, []),
    ("gc_collect", "native", "exact", 0, []),   # never seen: listed under "not seen"
]
BYNAME = {o[0]: o for o in OPS}
INDEX = {o[0]: i for i, o in enumerate(OPS)}
TOP = [("search", 6), ("index", 3), ("chat", 1)]   # weights of the top-level ops


def json_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Gen:
    def __init__(self, seed, slower):
        self.r = random.Random(seed)
        self.scale = 1 + slower / 100.0
        self.calls = []   # (op, pid, tid, iteration, start, dur, on, rss0, rss1, peak, depth, flags)

    def dur(self, name):
        med = BYNAME[name][3] * self.scale
        return max(1, int(self.r.lognormvariate(math.log(med), 0.35)))

    def call(self, name, pid, tid, it, start, depth, rss):
        """One call and its children, inside [start, start + duration); returns its end."""
        sampled = BYNAME[name][2] == "sampled"
        dur = self.dur(name)
        kids = []
        t = start + dur // 20
        for child, n in BYNAME[name][4]:
            for _ in range(n):
                kids.append((child, t))
                t += self.dur(child) + 1000
        dur = max(dur, t - start + dur // 20)
        me = len(self.calls)
        self.calls.append(None)
        for child, cstart in kids:
            rss = self.call(child, pid, tid, it, cstart, depth + 1, rss)[1]
        if sampled:
            self.calls[me] = (INDEX[name], 0, 0, it, start - start % 1_000_000,
                              dur - dur % 1_000_000 + 1_000_000, 0, 0, 0, 0, depth, F_SAMPLED)
            return start + dur, rss
        grow = self.r.choice((0, 0, 4096, 65536, 1 << 20)) if depth else self.r.randrange(1 << 21)
        if self.r.random() < 0.01 or rss > 300 << 20:   # freed: RSS stays in 30-300 MiB
            grow = -self.r.randrange(1 << 22)
        rss1 = max(30 << 20, rss + grow)
        flags = F_UNWOUND if self.r.random() < 0.002 else 0
        on = dur - self.r.randrange(dur // 4 + 1)
        self.calls[me] = (INDEX[name], pid, tid, it, start, dur, on, rss, rss1,
                          max(rss, rss1) + self.r.choice((0, 4096, 1 << 16)), depth, flags)
        return start + dur, rss1

    def run(self, ncalls):
        pids = [(4100 + p, [4100 + p] + [4100 + p + 17 * t for t in range(1, 4)]) for p in range(4)]
        now = [1_000_000] * len(pids)
        rss = [30 << 20] * len(pids)
        tops = [n for n, w in TOP for _ in range(w)]
        it = 0
        for p, (pid, _) in enumerate(pids):
            end, rss[p] = self.call("startup", pid, pid, 0, now[p], 0, rss[p])
            now[p] = end + 5_000
        while len(self.calls) < ncalls:
            p = self.r.randrange(len(pids))
            pid, tids = pids[p]
            end, rss[p] = self.call(self.r.choice(tops), pid, self.r.choice(tids), it,
                                    now[p], 0, rss[p])
            now[p] = end + self.r.randrange(2_000_000)
            if self.r.random() < 0.001:
                it += 1
        del self.calls[ncalls:]
        # the last few calls were still running when the session ended
        for i in range(max(0, ncalls - 3), ncalls):
            c = list(self.calls[i])
            c[11] |= F_OPEN
            self.calls[i] = tuple(c)
        return max(now)


def pct(sorted_v, q):
    n = len(sorted_v)
    rank = max(1, math.ceil(q * n))
    return sorted_v[min(rank, n) - 1]


def op_json(k, calls):
    name, kind, prec, _, _ = OPS[k]
    mine = [c for c in calls if c[0] == k and not c[11] & F_OPEN]
    d = sorted(c[5] for c in mine)
    n = len(d)
    tot = sum(d)
    mean = tot / n if n else 0.0
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1)) if n > 1 else 0.0
    on = sum(c[6] for c in mine)
    exact = prec == "exact"
    rss = [c for c in mine if c[7] or c[8] or c[9]]
    deltas = [c[8] - c[7] for c in rss]
    hist = {}
    for x in d:
        i = hist_index(x)
        hist[i] = hist.get(i, 0) + 1
    buckets = ",".join('\n        {"le_ns": %d, "count": %d}' % (bucket_high(i), hist[i])
                       for i in sorted(hist))
    fn = ("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0:sqlite3_step" if kind == "native"
          else "ragd/%s.py:%s" % (name.split(".")[0], name.replace(".", "_")))
    note = "" if n or not exact else "function not found in the target (module never imported?)"
    if not exact:
        note = "hardware breakpoints do not fire on this machine (self-test): timed from samples"
    def f(v):   # as the writer prints doubles: %.15g unless that does not read back
        t = "%.15g" % v
        return t if float(t) == v else "%.17g" % v
    return ("    {\n"
            f'      "name": {json_str(name)},\n      "kind": "{kind}",\n      "precision": "{prec}",\n'
            f'      "count": {n},\n      "total_ns": {tot},\n'
            f'      "min_ns": {d[0] if n else 0},\n      "max_ns": {d[-1] if n else 0},\n'
            f'      "mean_ns": {f(mean)},\n      "stdev_ns": {f(sd)},\n'
            f'      "p50_ns": {pct(d, .5) if n else 0},\n      "p90_ns": {pct(d, .9) if n else 0},\n'
            f'      "p95_ns": {pct(d, .95) if n else 0},\n      "p99_ns": {pct(d, .99) if n else 0},\n'
            f'      "on_cpu_ns": {on if exact else tot * 9 // 10},\n'
            f'      "off_cpu_ns": {tot - on if exact else tot // 10},\n'
            f'      "self_ns": {0 if exact else tot // 3},\n'
            f'      "unwound": {sum(1 for c in mine if c[11] & F_UNWOUND)},\n'
            f'      "stats_source": "{"calls" if exact else "samples"}",\n'
            f'      "function": {json_str(fn)},\n      "resolved": {"true" if n else "false"},\n'
            f'      "coverage": {1 if exact else 0},\n      "note": {json_str(note)},\n'
            f'      "histogram": {{"buckets": [{buckets}{chr(10) + "      " if buckets else ""}]}},\n'
            f'      "rss": {{"delta_bytes_mean": {f(sum(deltas) / len(deltas)) if deltas else 0}, '
            f'"delta_bytes_max": {max(deltas) if deltas else 0}, '
            f'"peak_bytes": {max((c[9] for c in rss), default=0)}}}\n    }}')


def stacks_json(r, n):
    frames = ["main (ragd/cli.py)", "run (ragd/app.py)", "HybridSearcher.search (ragd/search/hybrid.py)",
              "BM25.score (ragd/search/keyword.py)", "Embedder.embed (ragd/embed/model.py)",
              "Store.put (ragd/storage/sqlite.py)", "Chunker.split (ragd/index/chunk.py)",
              "LLM.generate (ragd/llm/client.py)", "Reranker.rank (ragd/search/rerank.py)",
              "tokenize (ragd/text/tok.py)", "<module> (<frozen runpy>)", "_run_code (runpy.py)"]
    seen, out = set(), []
    while len(out) < n:
        top = r.choice(("index", "search", "chat", "(other)"))
        st = ";".join([top] + [r.choice(frames) for _ in range(r.randrange(2, 9))])
        if st in seen:
            continue
        seen.add(st)
        on = r.randrange(1, 400) * 1001001
        off = r.choice((0, 0, r.randrange(1, 50) * 1001001))
        out.append('    {"stack": %s, "on_cpu_ns": %d, "off_cpu_ns": %d}' % (json_str(st), on, off))
    return ",\n".join(out)


def flags_json(fl):
    names = [n for b, n in ((F_UNWOUND, '"unwound"'), (F_OPEN, '"open"'), (F_SAMPLED, '"sampled"'))
             if fl & b]
    return "[" + ", ".join(names) + "]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--slower", type=float, default=0.0, help="percent added to every duration")
    a = ap.parse_args()
    g = Gen(a.seed, a.slower)
    end = g.run(a.calls)
    calls = g.calls
    nsamples = end // 1_001_001
    with open(a.out, "w") as f:
        f.write('{\n  "schema": "ragd-bpfprof/1",\n  "source_format": "ragd-bpfprof/1",\n'
                '  "name": "gen_session %d calls seed %d",\n'
                '  "started_at": "2026-12-02T01:00:00.000Z",\n'
                '  "ended_at": "2026-12-02T01:%02d:%02d.%03dZ",\n'
                '  "host": {"kernel": "6.18.44-bench", "cpus": 2},\n'
                '  "target": {"pid": 4100, "command": "python3 -m ragd serve", "exit_code": 0},\n'
                '  "stats": {"events": %d, "dropped_events": 0, "samples": %d, "sample_hz": 999, '
                '"dropped_calls": 0},\n'
                % (a.calls, a.seed, min(59, end // 60_000_000_000), end // 1_000_000_000 % 60,
                   end // 1_000_000 % 1000, 2 * len(calls), nsamples))
        f.write('  "operations": [\n' + ",\n".join(op_json(k, calls) for k in range(len(OPS))) +
                "\n  ],\n")
        names = [json_str(o[0]) for o in OPS]
        f.write('  "calls": [')
        sep = "\n"
        for c in calls:
            f.write('%s    {"op": %s, "pid": %d, "tid": %d, "iteration": %d, "start_ns": %d, '
                    '"duration_ns": %d, "on_cpu_ns": %d, "rss_start_bytes": %d, '
                    '"rss_end_bytes": %d, "rss_peak_bytes": %d, "depth": %d, "flags": %s}'
                    % (sep, names[c[0]], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9],
                       c[10], flags_json(c[11])))
            sep = ",\n"
        f.write("\n  ],\n" if calls else "],\n")
        f.write('  "stacks": [\n' + stacks_json(g.r, 400) + "\n  ],\n")
        f.write('  "warnings": [\n    "hardware breakpoints do not fire on this machine '
                '(self-test): py: function ops are sampled"\n  ]\n}\n')
    return 0


if __name__ == "__main__":
    sys.exit(main())
