#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# The report/compare row of `make bench`: time and peak memory of `report` and `compare` on a
# 1M-call session (tools/bench/gen_session.py: ragd-shaped ops, nested calls, 4 processes,
# RSS fields, sampled spans, stacks; about 250 MB of JSON). Goal (issue 11): <= 2 s and
# <= 300 MB each. Needs no root; run alone with `tools/bench/report_bench.sh`.
#
# Environment: BENCH_RUNS (runs each, default 3; the median is printed), RAGD_BPFPROF (the
# binary), BENCH_CALLS (default 1000000), BENCH_REPORT_OLD (a second binary, e.g. an older
# build, measured on the same files for a before/after line), PYTHON (default python3).
# Sessions are generated once into .output/bench/ and reused while the generator is unchanged.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tools/bench
RUNS=${BENCH_RUNS:-3}
PROF=${RAGD_BPFPROF:-$ROOT/ragd-bpfprof}
CALLS=${BENCH_CALLS:-1000000}
PY=${PYTHON:-python3}

die() { echo "report bench: $*" >&2; exit 2; }
case $RUNS in ''|*[!0-9]*|0) die "BENCH_RUNS must be a positive integer" ;; esac
case $CALLS in ''|*[!0-9]*|0) die "BENCH_CALLS must be a positive integer" ;; esac
[ -x "$PROF" ] || make -C "$ROOT" --no-print-directory build >/dev/null || die "cannot build $PROF"

DIR=$ROOT/.output/bench
mkdir -p "$DIR" || die "cannot create $DIR"
tag=$(cat "$BENCH/gen_session.py" | cksum | cut -d' ' -f1)-$CALLS
A=$DIR/session-$tag-a.json
B=$DIR/session-$tag-b.json
if [ ! -s "$A" ] || [ ! -s "$B" ]; then
	echo "generating two $CALLS-call sessions into $DIR ..."
	rm -f "$DIR"/session-*.json
	"$PY" "$BENCH/gen_session.py" "$A.tmp" --calls "$CALLS" --seed 1 &&
		"$PY" "$BENCH/gen_session.py" "$B.tmp" --calls "$CALLS" --seed 2 --slower 3 &&
		mv "$A.tmp" "$A" && mv "$B.tmp" "$B" || die "gen_session.py failed"
fi

# measure BIN ARGS...: "wall_s cpu_s maxrss_mb exit" over RUNS runs (medians, the largest
# RSS, the last exit code). Each run in a fresh python, so ru_maxrss is that run's own peak.
measure() {
	"$PY" - "$RUNS" "$@" <<'EOF'
import statistics, subprocess, sys
ONE = """import resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
w = time.monotonic() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(w, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024, rc)"""
runs, cmd = int(sys.argv[1]), sys.argv[2:]
res = [subprocess.run([sys.executable, "-c", ONE] + cmd, stdout=subprocess.PIPE,
                      text=True).stdout.split() for _ in range(runs)]
res = [[float(x) for x in r] for r in res if len(r) == 4]
if not res:
    print("0 0 0 127")
else:
    print("%.2f %.2f %.0f %d" % (statistics.median(r[0] for r in res),
                                 statistics.median(r[1] for r in res),
                                 max(r[2] for r in res), res[-1][3]))
EOF
}

# row LABEL BIN ARGS...
row() {
	local label=$1 r wall cpu mb rc verdict
	shift
	r=$(measure "$@") || r="0 0 0 1"
	read -r wall cpu mb rc <<<"$r"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then   # compare exits 1 on a regression
		verdict="FAILED (exit $rc)"
	elif awk -v w="$wall" -v m="$mb" 'BEGIN { exit !(w <= 2 && m <= 300) }'; then
		verdict="ok"
	else
		verdict="over the goal"
	fi
	printf '  %-34s %6.2f s wall %6.2f s CPU %7.0f MB max RSS   %s\n' "$label" "$wall" "$cpu" \
		"$mb" "$verdict"
	# make bench's goals table (run.sh sets BENCH_GOALS)
	[ -z "${BENCH_GOALS:-}" ] || printf '%s\t%.2f s, %.0f MB max RSS\t%s\t<= 2 s, <= 300 MB\t%s\n' \
		"$label, 1M calls" "$wall" "$mb" "was 9.3 s, 1.72 GB" \
		"$([ "$verdict" = ok ] && echo PASS || echo FAIL)" >>"$BENCH_GOALS"
}

size=$(($(stat -c %s "$A") / 1000000))
echo "report/compare of a $CALLS-call session ($size MB JSON), median of $RUNS, goal <= 2 s and <= 300 MB:"
row "report" "$PROF" report "$A"
row "compare (two such sessions)" "$PROF" compare "$A" "$B"
if [ -n "${BENCH_REPORT_OLD:-}" ]; then
	row "report, $(basename "$BENCH_REPORT_OLD")" "$BENCH_REPORT_OLD" report "$A"
	row "compare, $(basename "$BENCH_REPORT_OLD")" "$BENCH_REPORT_OLD" compare "$A" "$B"
fi
echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPU(s))"
