#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# ragd-bpfprof overhead benchmark: `make bench` (needs root, about 2 minutes).
#
# Prints, from ONE run, the wall time of each workload without the profiler and under
# `ragd-bpfprof record`, as medians of alternating runs (the variants of a row take turns, and
# the order rotates every round, so drift and warm-up hit every variant alike):
#
#   ragd-lite search x200    python3 -m ragd search Q --repeat 200 on a temporary index:
#                            alone / record -F 0 (ragd's default ops, no sampling) / -F 999
#   call-heavy Python        tools/bench/callbench.py, 30 million small calls: alone /
#                            -F 0 / -F 999, with py: ops on outer() and mid() (1,501 calls)
#   native op_busy(0)        .output/targets/workload busy 50000 0: alone / uprobe+uretprobe on
#                            op_busy; the difference divided by the calls is the cost per call
#   native op_busy(2 ms)     .output/targets/workload busy 300 2: alone / uprobe on op_busy
#   report/compare 1M calls  tools/bench/report_bench.sh: time and max RSS of report and compare
#                            on a generated 1M-call session (goal <= 2 s, <= 300 MB)
#
# Python times are the workload's own wall time (tools/bench/pywall.py, callbench.py), native
# times the sum of the per-call times the workload measures itself (WORKLOAD_TIMINGS), so the
# profiler's own start-up (BPF load, ~0.5 s) and tear-down are not counted: the figures say how
# much slower the program runs while it is profiled.
#
# Environment: BENCH_RUNS (runs per variant, default 5), PYTHON (default python3; resolved to
# the real interpreter, so a pyenv shim works), RAGD_BPFPROF (the binary, default ./ragd-bpfprof),
# BENCH_KEEP=1 keeps the temporary directory (session JSONs, logs).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tools/bench
RUNS=${BENCH_RUNS:-5}
PROF=${RAGD_BPFPROF:-$ROOT/ragd-bpfprof}
WORKLOAD=$ROOT/.output/targets/workload

die() { echo "bench: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "needs root (BPF programs, uprobes, perf events): sudo make bench"
case $RUNS in ''|*[!0-9]*|0) die "BENCH_RUNS must be a positive integer" ;; esac
[ -x "$PROF" ] || make -C "$ROOT" --no-print-directory build >/dev/null || die "cannot build $PROF"
[ -x "$WORKLOAD" ] || make -C "$ROOT" --no-print-directory .output/targets/workload >/dev/null ||
	die "cannot build $WORKLOAD"
PY=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)' 2>/dev/null) ||
	die "no Python interpreter (${PYTHON:-python3})"
[ -x "$PY" ] || die "cannot resolve ${PYTHON:-python3} to an interpreter binary"

TMP=$(mktemp -d /tmp/ragd-bpfprof-bench.XXXXXX) || die "mktemp failed"
if [ "${BENCH_KEEP:-0}" = 1 ]; then
	trap 'echo "kept: $TMP"' EXIT
else
	trap 'rm -rf "$TMP"' EXIT
fi
RES=$TMP/results
mkdir -p "$RES"
: > "$RES/rows.txt"

export PYTHONPATH=$ROOT/examples/ragd-lite${PYTHONPATH:+:$PYTHONPATH}
unset RAGD_LITE_SLOW_SEARCH RAGD_LITE_ALLOC_MB RAGD_LITE_TIMINGS WORKLOAD_SLOW WORKLOAD_START_DELAY_MS

# ------------------------------------------------------------------ header
others=$(pgrep -x ragd-bpfprof | wc -l)
echo "ragd-bpfprof overhead benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "  machine:  $(uname -n), kernel $(uname -r), $(nproc) CPU(s)," \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "  python:   $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"
echo "  profiler: $("$PROF" --version) ($PROF)"
echo "  runs:     $RUNS per variant, alternating; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$others" -gt 0 ]; then
	echo "  NOTE: $others other ragd-bpfprof process(es) running: their samplers and tracepoints" \
		"slow every process, baselines included; figures are noisier than on an idle machine"
fi
echo

# ------------------------------------------------------------------ set-up
echo "indexing the ragd-lite corpus into $TMP/index.db ..."
"$PY" -m ragd index --db "$TMP/index.db" --timings none -q >"$TMP/index.log" 2>&1 ||
	{ cat "$TMP/index.log" >&2; die "ragd-lite index failed"; }

QUERY="hybrid search"
RAGD=("$PY" "$BENCH/pywall.py" "@OUT@" ragd search "$QUERY" --repeat 200 -q --timings none
	--db "$TMP/index.db")
CALLB=("$PY" "$BENCH/callbench.py" "@OUT@")
CALLB_OPS=(-e "outer=py:bench/callbench.py:outer" -e "mid=py:bench/callbench.py:mid")

# Untimed warm-up: page cache, first-run effects.
"$PY" "$BENCH/pywall.py" "$TMP/warm" ragd search "$QUERY" --repeat 20 -q --timings none \
	--db "$TMP/index.db" >/dev/null 2>&1
"$PY" "$BENCH/callbench.py" "$TMP/warm" 150 20000 >/dev/null 2>&1

printf 'ragd\tragd-lite search x200\talone,f0,f999\n' >>"$RES/rows.txt"
printf 'callb\tcall-heavy Python (30M calls)\talone,f0,f999\n' >>"$RES/rows.txt"
printf 'nat0\tnative op_busy(0) x50000\talone,uprobe\n' >>"$RES/rows.txt"
printf 'nat0\tcalls\t50000\n' >>"$RES/rows.txt"
printf 'nat2\tnative op_busy(2ms) x300\talone,uprobe\n' >>"$RES/rows.txt"

fails=0
# run ROW VARIANT: one timed run; appends the time to $RES/ROW.VARIANT.
run() {
	local row=$1 var=$2 out=$TMP/t.$1.$2 log=$TMP/log.$1.$2 json=$TMP/s.$1.$2.json
	local -a cmd prof=()
	local rc

	rm -f "$out"
	case $row in
	ragd) cmd=("${RAGD[@]}") ;;
	callb) cmd=("${CALLB[@]}"); prof=("${CALLB_OPS[@]}") ;;
	nat0) cmd=(env "WORKLOAD_TIMINGS=$out.raw" "$WORKLOAD" busy 50000 0) ;;
	nat2) cmd=(env "WORKLOAD_TIMINGS=$out.raw" "$WORKLOAD" busy 300 2) ;;
	esac
	cmd=("${cmd[@]/@OUT@/$out}")
	case $var in
	alone) timeout 300 "${cmd[@]}" >"$log" 2>&1 ;;
	f0) timeout 300 "$PROF" record -q -F 0 "${prof[@]}" -o "$json" -- "${cmd[@]}" >"$log" 2>&1 ;;
	f999) timeout 300 "$PROF" record -q -F 999 "${prof[@]}" -o "$json" -- "${cmd[@]}" >"$log" 2>&1 ;;
	uprobe) timeout 300 "$PROF" record -q -F 0 -e "op_busy=native:$WORKLOAD:op_busy" -o "$json" \
			-- "${cmd[@]}" >"$log" 2>&1 ;;
	esac
	rc=$?
	if [ -f "$out.raw" ]; then
		awk '{ s += $2 } END { if (NR) printf "%.6f\n", s / 1e9 }' "$out.raw" >"$out"
		rm -f "$out.raw"
	fi
	if [ $rc -ne 0 ] || [ ! -s "$out" ]; then
		echo "  run failed: $row $var (exit $rc), log:" >&2
		sed 's/^/    /' "$log" | tail -5 >&2
		fails=$((fails + 1))
		return
	fi
	cat "$out" >>"$RES/$row.$var"
	# Stack samples taken, for the cost per sample.
	if [ "$var" = f999 ] && [ -f "$json" ]; then
		"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["samples"])' \
			"$json" >>"$RES/$row.$var.samples" 2>/dev/null
	fi
}

# rotate ROUND VARIANT...: the variants, starting at ROUND mod count.
rotate() {
	local r=$1
	shift
	local -a v=("$@")
	local n=${#v[@]}
	for ((k = 0; k < n; k++)); do
		echo "${v[$(((r + k) % n))]}"
	done
}

start=$(date +%s)
for ((i = 0; i < RUNS; i++)); do
	printf 'round %d/%d ...\n' $((i + 1)) "$RUNS"
	for v in $(rotate $i alone f0 f999); do run ragd "$v"; done
	for v in $(rotate $i alone f0 f999); do run callb "$v"; done
	for v in $(rotate $i alone uprobe); do run nat0 "$v"; done
	for v in $(rotate $i alone uprobe); do run nat2 "$v"; done
done
echo "($(($(date +%s) - start))s of measurements)"
echo

python3 "$BENCH/summarize.py" "$RES" || "$PY" "$BENCH/summarize.py" "$RES"

# What the profiler measured in the -F 0 runs, and how precisely. Where hardware breakpoints do
# not fire (start-up self-test), py: function ops fall back to stack samples, which -F 0 turns
# off: those runs then pay only for the exact probes (startup's PyEval_EvalCode uprobe, the
# scheduler tracepoints, the module-load pauses).
"$PY" - "$TMP/s.ragd.f0.json" "$TMP/s.callb.f0.json" "$TMP/s.nat0.uprobe.json" <<'EOF'
import json, sys
for path in sys.argv[1:]:
    try:
        s = json.load(open(path))
    except (OSError, ValueError):
        continue
    ops = [o for o in s["operations"] if o["count"] or o.get("resolved")]
    desc = ", ".join("%s %s %d call(s)" % (o["name"], o["precision"], o["count"]) for o in ops)
    print("%s: %s" % (path.rsplit("/", 1)[-1], desc or "no op resolved"))
    for w in s.get("warnings", []):
        if "breakpoint" in w:
            print("  warning: %s" % w)
            break
EOF
# ------------------------------------------------------------------ report/compare, 1M calls
# Time and peak RSS of report and compare on a generated 1M-call session (own script: no root).
echo
"$BENCH/report_bench.sh" || fails=$((fails + 1))

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ $fails -eq 0 ] || { echo "bench: $fails run(s) failed" >&2; exit 1; }
exit 0
