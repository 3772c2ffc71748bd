"""Medians and ratios for tools/bench/run.sh.

    python3 summarize.py RESULTS_DIR

RESULTS_DIR holds one file per (row, variant) named ROW.VARIANT with one wall time in seconds
per line (one line per run), ROW.f999.samples with the stack samples of each -F 999 run,
and rows.txt with lines "ROW<TAB>LABEL<TAB>VARIANT[,VARIANT...]"
and optional "ROW<TAB>calls<TAB>N" lines giving the probed-call count of native rows, for
which the cost per probed call is printed too. The first variant of a row is the baseline.
"""

import os
import statistics
import sys

NAMES = {
    "alone": "alone",
    "f0": "with -F 0",
    "f999": "with -F 999",
    "uprobe": "with a uprobe",
}


def load(path):
    with open(path) as f:
        return [float(x) for x in f.read().split()]


def fmt(s):
    return "%.3fs" % s if s < 10 else "%.2fs" % s


def main():
    d = sys.argv[1]
    rows, calls = [], {}
    with open(os.path.join(d, "rows.txt")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            if parts[1] == "calls":
                calls[parts[0]] = int(parts[2])
            else:
                rows.append((parts[0], parts[1], parts[2].split(",")))
    print("Medians of alternating runs (spread: min-max); ratio = median / median alone")
    print()
    for row, label, variants in rows:
        vals = {}
        for v in variants:
            p = os.path.join(d, "%s.%s" % (row, v))
            if os.path.exists(p):
                vals[v] = load(p)
        if variants[0] not in vals or not vals[variants[0]]:
            print("%s: no baseline runs" % label)
            continue
        base = statistics.median(vals[variants[0]])
        parts = []
        for v in variants:
            if v not in vals or not vals[v]:
                parts.append("%s: failed" % NAMES.get(v, v))
                continue
            m = statistics.median(vals[v])
            if v == variants[0]:
                parts.append("%s %s" % (fmt(m), NAMES.get(v, v)))
            else:
                parts.append("%s %s (%.3fx)" % (fmt(m), NAMES.get(v, v), m / base))
        print("%s: %s" % (label, ", ".join(parts)))
        spread = "; ".join(
            "%s %s-%s n=%d" % (NAMES.get(v, v), fmt(min(vals[v])), fmt(max(vals[v])), len(vals[v]))
            for v in variants if vals.get(v))
        print("    spread: %s" % spread)
        sp = os.path.join(d, "%s.f999.samples" % row)
        if os.path.exists(sp) and vals.get("f999") and vals.get("f0"):
            samples = statistics.median(load(sp))
            if samples > 0:
                per = (statistics.median(vals["f999"]) - statistics.median(vals["f0"])) / samples * 1e6
                print("    -F 999: %d stack samples a run (on + off CPU); (t(-F 999) - t(-F 0)) / samples"
                      " = %.1f us per sample" % (samples, per))
        if row in calls and len(variants) > 1 and vals.get(variants[1]):
            n = calls[row]
            per = (statistics.median(vals[variants[1]]) - base) / n * 1e6
            print("    cost per probed call (entry + return): %.2f us over %d calls" % (per, n))
    print()


if __name__ == "__main__":
    main()
