"""Medians, ratios and goal verdicts for tools/bench/run.sh.

    python3 summarize.py RESULTS_DIR

RESULTS_DIR holds one file per (row, variant) named ROW.VARIANT with one time in seconds per
line (one line per run), ROW.f999.samples with the stack samples of each -F 999 run,
pyw.fire (1, or 0 and the self-test's reason), pyw.floor (pyfloor.py lines "US HITS ALONE
WATCHED"), pyw.bpfloor (bpfloor.c lines "TYPE NS HITS"), ROW.VARIANT.prec (precision and count of the
row's watched op in each run: pyw.watched, callb.f0, ragd.f0) and rows.txt with lines "ROW<TAB>LABEL<TAB>VARIANT[,VARIANT...]"
and optional "ROW<TAB>calls<TAB>N" lines giving the probed-call count of a row, for which the
cost per probed call is printed too. The first variant of a row is the baseline.
The goals derived from these rows are appended to RESULTS_DIR/goals.tsv
(NAME, VALUE, ANCHOR, GOAL, VERDICT), which run.sh prints as the final table.
"""

import os
import statistics
import sys

NAMES = {
    "alone": "alone",
    "f0": "with -F 0",
    "f99": "with -F 99",
    "f999": "with -F 999",
    "f4999": "with -F 4999",
    "uprobe": "with a uprobe",
    "bt_empty": "bpftrace empty",
    "bt_hist": "bpftrace hist()",
    "watched": "watched (-F 0)",
    "watched_rc": "watched, RAGD_BPFPROF_RC=1",
    "record": "record",
    "profile": "profile -n 10",
    "f0u": "with -F 0 --overhead 0",
    "fs": "with -F 0, mid a stage",
    "armed": "one idle debug register armed, no profiler",
    "clk999": "an empty 999 Hz clock, no profiler",
}


def load(path):
    with open(path) as f:
        return [float(x) for x in f.read().split()]


def fmt(s):
    return "%.3fs" % s if s < 10 else "%.2fs" % s


def verdict(ok):
    return "PASS" if ok else "FAIL"


class Results:
    def __init__(self, d):
        self.d = d
        self.rows, self.calls, self.med = [], {}, {}
        with open(os.path.join(d, "rows.txt")) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 3:
                    continue
                if parts[1] == "calls":
                    self.calls[parts[0]] = int(parts[2])
                else:
                    self.rows.append((parts[0], parts[1], parts[2].split(",")))
        self.vals = {}
        for row, _, variants in self.rows:
            for v in variants:
                p = os.path.join(d, "%s.%s" % (row, v))
                if os.path.exists(p) and load(p):
                    self.vals[(row, v)] = load(p)
                    self.med[(row, v)] = statistics.median(self.vals[(row, v)])

    def m(self, row, var):
        return self.med.get((row, var))

    def paired(self, row, var, f):
        # Median over rounds of f(variant, alone) from the same round: the runs of a round
        # are seconds apart, so load from other processes that drifts between rounds cancels.
        a, v = self.vals.get((row, "alone")), self.vals.get((row, var))
        if not a or not v:
            return None
        if len(a) != len(v):
            return f(self.m(row, var), self.m(row, "alone"))
        return statistics.median(f(x, y) for x, y in zip(v, a))

    def ratio(self, row, var):
        return self.paired(row, var, lambda v, a: v / a)

    def per_call_us(self, row, var):
        if row not in self.calls:
            return None
        return self.paired(row, var, lambda v, a: (v - a) / self.calls[row] * 1e6)

    def text(self, name):
        p = os.path.join(self.d, name)
        return open(p).read().split() if os.path.exists(p) else []


def print_rows(r):
    print("Medians of alternating runs (spread: min-max); ratio and cost per call: median over"
          " rounds of (run / the same round's run alone)")
    print()
    for row, label, variants in r.rows:
        base = r.m(row, variants[0])
        if base is None:
            fire = r.text("pyw.fire")
            skipped = row == "pyw" and fire and fire[0] == "0"
            print("%s: %s" % (label, "skipped (%s)" % " ".join(fire[1:]) if skipped
                              else "no baseline runs"))
            continue
        parts = []
        for v in variants:
            m = r.m(row, v)
            if m is None:
                parts.append("%s: %s" % (NAMES.get(v, v),
                                         "not run" if v.startswith("bt_") else "failed"))
            elif v == variants[0] or row == "prof":
                parts.append("%s %s" % (fmt(m), NAMES.get(v, v)))
            else:
                parts.append("%s %s (%.3fx)" % (fmt(m), NAMES.get(v, v), r.ratio(row, v)))
        print("%s: %s" % (label, ", ".join(parts)))
        spread = "; ".join("%s %s-%s n=%d" % (NAMES.get(v, v), fmt(min(r.vals[(row, v)])),
                                               fmt(max(r.vals[(row, v)])), len(r.vals[(row, v)]))
                           for v in variants if (row, v) in r.vals)
        print("    spread: %s" % spread)
        sp = os.path.join(r.d, "%s.f999.samples" % row)
        if os.path.exists(sp) and r.m(row, "f999") and r.m(row, "f0"):
            samples = statistics.median(load(sp))
            if samples > 0:
                per = (r.m(row, "f999") - r.m(row, "f0")) / samples * 1e6
                print("    -F 999: %d stack samples a run (on + off CPU); (t(-F 999) - t(-F 0)) / samples"
                      " = %.1f us per sample" % (samples, per))
        if row in r.calls:
            for v in variants[1:]:
                per = r.per_call_us(row, v)
                if per is not None:
                    print("    %s: %.2f us per call over %d calls" % (NAMES.get(v, v), per, r.calls[row]))
    print()


def goals(r):
    out = []
    rows = {row for row, _, _ in r.rows}

    def add(*cols):
        out.append("\t".join(cols))

    # issue 11: native pair vs bpftrace's programs on the same function
    ours, empty, hist = (r.per_call_us("nat0", v) for v in ("uprobe", "bt_empty", "bt_hist"))
    name = "native uprobe+uretprobe per call (%d calls)" % r.calls.get("nat0", 0)
    if ours is None:
        add(name, "failed", "-", "<= 1.3x bpftrace empty", "FAIL")
    elif empty is None or empty <= 0:
        add(name, "%.2f us" % ours, "bpftrace not run", "<= 1.3x bpftrace empty",
            "SKIP (no bpftrace)")
    else:
        add(name, "%.2f us (%.2fx empty)" % (ours, ours / empty),
            "bpftrace empty %.2f us, hist() %s" % (empty, "%.2f us" % hist if hist else "-"),
            "<= 1.3x bpftrace empty", verdict(ours / empty <= 1.3))

    if rows != {"nat0", "nat2"}:  # not BENCH_ONLY=native
        python_goals(r, add)
    with open(os.path.join(r.d, "goals.tsv"), "a") as f:
        for line in out:
            f.write(line + "\n")


def python_goals(r, add):
    # issue 11: exact Python per watched call, against this host's floor (the same calls under
    # the same watch with an empty BPF program: what the traps cost whoever runs them)
    label = next((l for row, l, _ in r.rows if row == "pyw"), "")
    ver = label.split(", ")[1].split(" ")[0] if ", " in label else "?"
    name = "exact Python per watched call (%s, refcount watch)" % ver
    prec = r.text("pyw.watched.prec")
    per = r.per_call_us("pyw", "watched")
    fire = r.text("pyw.fire")
    fl = [float(x) for x in r.text("pyw.floor")[0::4]]
    floor = statistics.median(fl) if fl else None
    goal = "<= 8 us" + (" (%.2fx the floor)" % (8 / floor) if floor else "")
    anchor = "floor %.2f us; was 16.7-20 us" % floor if floor else "was 16.7-20 us"
    if fire and fire[0] == "0":
        add(name, "-", "-", goal, "SKIP (%s)" % " ".join(fire[1:]))
    elif per is None:
        add(name, "failed", "-", goal, "FAIL")
    elif any(p != "exact" for p in prec[0::2]):
        add(name, "%.2f us" % per, anchor, goal, "SKIP (op not exact: %s)" % " ".join(prec[0::2]))
    elif any(int(c) < r.calls["pyw"] for c in prec[1::2]):
        add(name, "%.2f us" % per, anchor, goal,
            "FAIL (calls watched: %s of %d)" % (" ".join(prec[1::2]), r.calls["pyw"]))
    else:
        # Load from other work moves both a lot between rounds: compare within a round.
        a, w = r.vals.get(("pyw", "alone"), []), r.vals.get(("pyw", "watched"), [])
        pairs = [((x - y) / r.calls["pyw"] * 1e6, f) for x, y, f in zip(w, a, fl)]
        if floor and len(pairs) == len(fl):
            val = "%.2f us (%.2fx the floor, +%.2f us; paired by round)" % (
                per, statistics.median(c / f for c, f in pairs), statistics.median(c - f for c, f in pairs))
        else:
            val = "%.2f us" % per + (" (%.2fx the floor)" % (per / floor) if floor else "")
        v = verdict(per <= 8)
        if floor and floor > 8 and per > 8:
            v = "FAIL (8 us is below this host's floor of %.2f us)" % floor
        add(name, val, anchor, goal, v)
    if floor is not None:
        hits = statistics.median(float(x) for x in r.text("pyw.floor")[1::4])
        per_hit = {}
        bf = r.text("pyw.bpfloor")
        for t in ("W", "X"):
            ns = [float(bf[i + 1]) for i in range(0, len(bf) - 2, 3) if bf[i] == t and bf[i + 1] != "-"]
            if ns:
                per_hit[t] = statistics.median(ns) / 1000
        add("exact Python floor: the same calls, empty BPF program (%s)" % ver,
            "%.2f us a call (%.2f hits)" % (floor, hits),
            ", ".join("%s hit %.2f us" % (t, us) for t, us in per_hit.items()) or "-",
            "-", "INFO (anchor)")
    # 3.11: bytecode breakpoints by default, the refcount scheme opt-in
    for var, scheme in (("watched", "bytecode"), ("watched_rc", "refcount")):
        per = r.per_call_us("pyw11", var)
        if per is None:
            continue
        prec = r.text("pyw11.%s.prec" % var)
        note = "" if all(p == "exact" for p in prec[0::2]) else " (op not exact: %s)" % " ".join(prec[0::2])
        add("exact Python per watched call (3.11, %s)" % scheme, "%.2f us%s" % (per, note),
            "floor %.2f us (%s)" % (floor, ver) if floor else "-", "-", "INFO")

    # issue 11: stack sampling seen by the call-heavy workload
    base = r.m("callb", "alone")
    ratios = {hz: r.ratio("callb", "f%d" % hz) for hz in (99, 999, 4999)}
    val = ", ".join("%s at %d Hz" % ("%.3fx" % x if x else "failed", hz) for hz, x in ratios.items())
    clk = r.ratio("callb", "clk999")
    add("stack sampling, call-heavy Python", val,
        "alone %s; the host's 999 Hz clock interrupts alone (empty BPF program): %s; "
        "was 1.09/1.10/1.38x" % (fmt(base) if base else "-", "%.3fx" % clk if clk else "-"),
        "<= 1.03x at 999 Hz", verdict(ratios[999] is not None and ratios[999] <= 1.03))

    # issue 11: start-up
    t = r.m("start", "record")
    add("record -- /bin/true (wall)", "%.3f s" % t if t else "failed", "was 0.74-0.82 s", "<= 0.3 s",
        verdict(t is not None and t <= 0.3))

    # issue 11: profile's fixed cost an iteration
    p, a = r.m("prof", "profile"), r.m("prof", "alone")
    if p is None or a is None:
        add("profile search -n 10, fixed cost an iteration", "failed", "-", "<= 0.25 s", "FAIL")
    else:
        fixed = (p - 10 * a) / 10
        add("profile search -n 10, fixed cost an iteration", "%.3f s" % fixed,
            "search alone %.3f s; was 1.56 s" % a, "<= 0.25 s", verdict(fixed <= 0.25))

    # issue 8: exact-only overhead, on CPython >= 3.12 (ragd8, callb8; what ragd users run); the
    # rows on run.sh's PYTHON (ragd, callb) are INFO when that is another interpreter
    have8 = r.m("ragd8", "alone") is not None or r.m("callb8", "alone") is not None
    armed = r.ratio("ragd8", "armed")
    for row, var, label, lim in (
            ("ragd8", "f0", "issue 8: -F 0, ragd-lite search x200, default spec", 1.02),
            ("callr", "f0", "issue 8: -F 0, call-heavy, watched op called rarely (every ~11 ms)",
             1.01),
            ("ragd8", "armed", "issue 8: search x200 with one idle debug register armed, no "
             "profiler (the host's floor)", None),
            ("callb8", "f0", "issue 8: -F 0, call-heavy, mid() watched 1,500 times a second", None),
            ("ragd8", "f0u", "issue 8: as above, --overhead 0 (every stage)", None),
            ("callb8", "fs", "issue 8: call-heavy, mid a stage of outer (budgeted)", 1.01),
            ("ragd", "f0", "issue 8 on PYTHON: -F 0, ragd-lite search x200", None),
            ("callb", "f0", "issue 8 on PYTHON: -F 0, call-heavy", None)):
        a, x = r.m(row, "alone"), r.ratio(row, var)
        prec = r.text("%s.%s.prec" % (row, var))[0::2]
        goal_s = "<= %.2fx" % lim if lim else "-"
        if row.endswith("8") and not have8:
            if lim:
                add(label, "-", "-", goal_s, "SKIP (no CPython >= 3.12: set PYTHON8)")
            continue
        if a is None or x is None:
            add(label, "failed", "-", goal_s, "FAIL" if lim else "INFO")
        elif any(p != "exact" for p in prec):
            add(label, "%.3fx" % x, "alone %s" % fmt(a), goal_s,
                "SKIP (watched op not exact: %s; see the JSON's notes)" % " ".join(prec))
        else:
            anchor = "alone %s" % fmt(a)
            if row == "ragd8" and var != "armed" and armed:
                anchor += "; armed register alone %.3fx" % armed
            v = verdict(x <= lim) if lim else "INFO"
            if v == "FAIL" and row == "ragd8" and armed and armed > lim:
                v = "FAIL (%.2fx is below this host's floor of %.3fx)" % (lim, armed)
            add(label, "%.3fx" % x, anchor, goal_s, v)


def main():
    r = Results(sys.argv[1])
    print_rows(r)
    goals(r)


if __name__ == "__main__":
    main()
