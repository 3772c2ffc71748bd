"""Medians, ratios and goal verdicts for tools/bench/run.sh.

    python3 summarize.py RESULTS_DIR

RESULTS_DIR holds one file per (row, variant) named ROW.VARIANT with one time in seconds per
line (one line per run), ROW.f999.samples with the stack samples of each -F 999 run,
pyw.fire (1, or 0 and the self-test's reason), ROW.VARIANT.prec (precision and count of the
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
    "record": "record",
    "profile": "profile -n 10",
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
    # issue 11: exact Python per watched call
    name = "exact Python per watched call (breakpoints)"
    prec = r.text("pyw.watched.prec")
    per = r.per_call_us("pyw", "watched")
    fire = r.text("pyw.fire")
    if fire and fire[0] == "0":
        add(name, "-", "-", "<= 8 us", "SKIP (%s)" % " ".join(fire[1:]))
    elif per is None:
        add(name, "failed", "-", "<= 8 us", "FAIL")
    elif any(p != "exact" for p in prec[0::2]):
        add(name, "%.2f us" % per, "-", "<= 8 us", "SKIP (op not exact: %s)" % " ".join(prec[0::2]))
    elif any(int(c) < r.calls["pyw"] for c in prec[1::2]):
        add(name, "%.2f us" % per, "-", "<= 8 us",
            "FAIL (calls watched: %s of %d)" % (" ".join(prec[1::2]), r.calls["pyw"]))
    else:
        add(name, "%.2f us" % per, "was 16.7-20 us", "<= 8 us", verdict(per <= 8))

    # issue 11: stack sampling seen by the call-heavy workload
    base = r.m("callb", "alone")
    ratios = {hz: r.ratio("callb", "f%d" % hz) for hz in (99, 999, 4999)}
    val = ", ".join("%s at %d Hz" % ("%.3fx" % x if x else "failed", hz) for hz, x in ratios.items())
    add("stack sampling, call-heavy Python", val,
        "alone %s; was 1.09/1.10/1.38x" % (fmt(base) if base else "-"), "<= 1.03x at 999 Hz",
        verdict(ratios[999] is not None and ratios[999] <= 1.03))

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

    # issue 8: exact-only overhead
    for row, label, lim in (("ragd", "issue 8: -F 0, ragd-lite search x200, default spec", 1.02),
                            ("callb", "issue 8: -F 0, call-heavy, watched ops called rarely", 1.01)):
        a, x = r.m(row, "alone"), r.ratio(row, "f0")
        prec = r.text("%s.f0.prec" % row)[0::2]
        if a is None or x is None:
            add(label, "failed", "-", "<= %.2fx" % lim, "FAIL")
        elif any(p != "exact" for p in prec):
            add(label, "%.3fx" % x, "alone %s" % fmt(a), "<= %.2fx" % lim,
                "SKIP (watched op not exact: %s; see the JSON's notes)" % " ".join(prec))
        else:
            add(label, "%.3fx" % x, "alone %s" % fmt(a), "<= %.2fx" % lim, verdict(x <= lim))


def main():
    r = Results(sys.argv[1])
    print_rows(r)
    goals(r)


if __name__ == "__main__":
    main()
