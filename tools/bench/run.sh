#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# ragd-bpfprof overhead benchmark: `make bench` (needs root, about 7 minutes; BENCH_QUICK=1: 3).
#
# Prints, from ONE run, each overhead goal of issues 8 and 11 with its measured value, its anchor
# (what it is compared with, measured in the same run where it can be) and PASS/FAIL. Timed
# workloads run alone and under the profiler as medians of alternating runs (the variants of a
# row take turns, and the order rotates every round, so drift and warm-up hit every variant):
#
#   ragd-lite search x200    python3 -m ragd search Q --repeat 200 on a temporary index:
#                            alone / record -F 0 (ragd's default ops, no sampling) / -F 999
#   call-heavy Python        tools/bench/callbench.py, 30 million small calls, py: ops on outer()
#                            and mid() (1,501 calls): alone / -F 0 / -F 99 / -F 999 / -F 4999 /
#                            an empty 999 Hz clock without the profiler (the host's floor)
#   issue 8 (CPython>=3.12)  the two rows above on PYTHON8 (default: the first >= 3.12 found):
#                            search x200 alone / -F 0 / -F 0 --overhead 0 / one idle debug
#                            register armed without the profiler (the host's floor); callbench
#                            alone / -F 0 / -F 0 with mid named outer.mid (a stage, under the
#                            overhead budget); callbench 100 x 300,000 (mid called rarely) alone / -F 0
#   native op_busy(0)        .output/targets/workload busy 100000 0: alone / record (uprobe +
#                            uretprobe) / bpftrace's empty program / bpftrace's hist() program
#   native op_busy(2 ms)     workload busy 300 2: alone / record
#   watched Python call      callbench.py with 50,000 calls of leaf(), the op: alone / record -F 0,
#                            on a Python >= 3.12 (what ragd needs; refcount scheme), and the floor:
#                            the same calls under the same watch running an empty BPF program
#                            (tools/bench/pyfloor.py); INFO: 3.11, bytecode and refcount schemes
#   record -- /bin/true      the profiler's start-up and tear-down (wall)
#   profile search -n 10     wall of the 10 iterations vs the search command alone (first two
#                            rounds only: it is the longest variant)
#   report/compare 1M calls  tools/bench/report_bench.sh: time and max RSS of report and compare
#                            on a generated 1M-call session (goal <= 2 s, <= 300 MB)
# and once, after the rounds: BPF time per program run (kernel.bpf_stats_enabled), drops at a
# high event rate, the recorder's memory and write time at 1M calls (spilled vs all in memory),
# the recorder's CPU when attached (-p) to a ragd-lite search loop.
#
# Python times are the workload's own wall time (tools/bench/pywall.py, callbench.py), native
# times the sum of the per-call times the workload measures itself (WORKLOAD_TIMINGS), so the
# profiler's own start-up and tear-down are not counted: the figures say how much slower the
# program runs while it is profiled.
#
# Environment: BENCH_ONLY=native (only the native rows, BPF time per call and drops: about 1
# minute), BENCH_RUNS (runs per variant, default 5; BENCH_QUICK=1: 2), PYTHON (default
# python3; resolved to the real interpreter, so a pyenv shim works), PYW_PYTHON (the watched-call
# interpreter, >= 3.12; default: PYTHON if new enough, else the newest pyenv/PATH 3.13 or 3.12),
# PY311 (the 3.11 INFO row; default /usr/bin/python3.11 or pyenv's), PYTHON8 (issue 8's rows,
# CPython >= 3.12; default: as PYW_PYTHON), RAGD_BPFPROF (the binary,
# default ./ragd-bpfprof), BENCH_KEEP=1 keeps the temporary directory (session JSONs, logs).
# Exit status: 0 when every run worked (goals may FAIL: see the table), 1 when a run failed.
#
# Layout: one function per section; a section that measures once goes into the list in main()
# before `goals` and states its goals with `goal` (they print in the final table).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tools/bench
QUICK=${BENCH_QUICK:-0}
ONLY=${BENCH_ONLY:-}
RUNS=${BENCH_RUNS:-$([ "$QUICK" = 1 ] && echo 2 || echo 5)}
PROF=${RAGD_BPFPROF:-$ROOT/ragd-bpfprof}
WORKLOAD=$ROOT/.output/targets/workload
NAT_CALLS=100000
PYW_CALLS=50000

die() { echo "bench: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "needs root (BPF programs, uprobes, perf events): sudo make bench"
case $RUNS in ''|*[!0-9]*|0) die "BENCH_RUNS must be a positive integer" ;; esac
case $ONLY in '' | native) ;; *) die "BENCH_ONLY must be empty or native, not '$ONLY'" ;; esac
[ -x "$PROF" ] || make -C "$ROOT" --no-print-directory build >/dev/null || die "cannot build $PROF"
[ -x "$WORKLOAD" ] || make -C "$ROOT" --no-print-directory .output/targets/workload >/dev/null ||
	die "cannot build $WORKLOAD"
PY=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)' 2>/dev/null) ||
	die "no Python interpreter (${PYTHON:-python3})"
[ -x "$PY" ] || die "cannot resolve ${PYTHON:-python3} to an interpreter binary"
BPFTRACE=$(command -v bpftrace 2>/dev/null)

# pyver PYTHON: "3.12" etc., empty when it does not run.
pyver() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
# The watched-call row times what ragd users get: Python >= 3.12 (ragd's requirement), whose
# default exact scheme is the refcount watch. 3.11 (bytecode breakpoints by default) is INFO.
pick_pyw() {
	local c v
	for c in ${PYW_PYTHON:-} "$PY" /root/.pyenv/versions/3.13*/bin/python3 \
		/root/.pyenv/versions/3.12*/bin/python3 python3.13 python3.12; do
		c=$(command -v "$c" 2>/dev/null) || continue
		v=$(pyver "$c")
		case $v in 3.1[2-9]) echo "$c"; return ;; esac
		[ -n "${PYW_PYTHON:-}" ] && return # asked for one that is too old: skip, do not substitute
	done
}
pick_py311() {
	local c
	for c in ${PY311:-} /usr/bin/python3.11 /root/.pyenv/versions/3.11*/bin/python3 python3.11; do
		c=$(command -v "$c" 2>/dev/null) || continue
		[ "$(pyver "$c")" = 3.11 ] && { echo "$c"; return; }
	done
}
PYW_PY=$(pick_pyw)
PY311=$(pick_py311)
# Issue 8's rows too run on what ragd users run (PYTHON8 when given; none: they SKIP).
if [ -n "${PYTHON8:-}" ]; then PY8=$(PYW_PYTHON=$PYTHON8 pick_pyw); else PY8=$PYW_PY; fi

TMP=$(mktemp -d /tmp/ragd-bpfprof-bench.XXXXXX) || die "mktemp failed"
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
cleanup() {
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS" 2>/dev/null
	[ -n "${LOOP_PID:-}" ] && kill "$LOOP_PID" 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
# The host's floors without the profiler: a breakpoint hit, an armed register, a sampling clock.
BPFLOOR=$TMP/bpfloor
cc -O2 -o "$BPFLOOR" "$BENCH/bpfloor.c" || die "cannot build tools/bench/bpfloor.c"
RES=$TMP/results
mkdir -p "$RES"
: >"$RES/rows.txt"
: >"$RES/goals.tsv"

export PYTHONPATH=$ROOT/examples/ragd-lite${PYTHONPATH:+:$PYTHONPATH}
unset RAGD_LITE_SLOW_SEARCH RAGD_LITE_ALLOC_MB RAGD_LITE_TIMINGS WORKLOAD_SLOW WORKLOAD_START_DELAY_MS

QUERY="hybrid search"
fails=0

# goal NAME VALUE ANCHOR GOAL VERDICT: one row of the final table (VERDICT PASS, FAIL, SKIP, INFO).
goal() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RES/goals.tsv"
}

now_ns() { date +%s%N; }

# pyjson FILE CODE [ARG]: runs CODE with the session JSON FILE as s (ARG as sys.argv[2]).
pyjson() { "$PY" -c "import json, sys; s = json.load(open(sys.argv[1])); $2" "$1" "${@:3}" 2>/dev/null; }

# ------------------------------------------------------------------ header, set-up
header() {
	local others
	others=$(pgrep -x ragd-bpfprof | wc -l)
	echo "ragd-bpfprof overhead benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "  machine:  $(uname -n), kernel $(uname -r), $(nproc) CPU(s)," \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "  python:   $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"
	echo "  watched:  ${PYW_PY:-none >= 3.12 found: the watched-call rows are skipped} ${PYW_PY:+($(pyver "$PYW_PY"))}" \
		"${PY311:+; 3.11 INFO row: $PY311}"
	if [ -n "$PY8" ]; then
		echo "  issue 8:  $PY8 ($("$PY8" -c 'import platform; print(platform.python_version())'))"
	else
		echo "  issue 8:  no CPython >= 3.12 found (PYTHON8, python3.13, python3.12): its rows SKIP"
	fi
	echo "  profiler: $("$PROF" --version) ($PROF)"
	if [ -n "$BPFTRACE" ]; then
		echo "  bpftrace: $("$BPFTRACE" --version 2>/dev/null) ($BPFTRACE)"
	else
		echo "  bpftrace: absent: its anchors are skipped (apt-get install bpftrace; make deps)"
	fi
	echo "  runs:     $RUNS per variant, alternating$([ "$QUICK" = 1 ] && echo ' (BENCH_QUICK)');" \
		"load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	if [ "$others" -gt 0 ]; then
		echo "  NOTE: $others other ragd-bpfprof process(es) running: their samplers and tracepoints" \
			"slow every process, baselines included; figures are noisier than on an idle machine"
	fi
	echo
}

setup() {
	NATOP=(-e "op_busy=native:$WORKLOAD:op_busy")
	printf 'nat0\tnative op_busy(0) x%d\talone,uprobe,bt_empty,bt_hist\n' $NAT_CALLS >>"$RES/rows.txt"
	printf 'nat0\tcalls\t%d\n' $NAT_CALLS >>"$RES/rows.txt"
	printf 'nat2\tnative op_busy(2ms) x300\talone,uprobe\n' >>"$RES/rows.txt"
	[ "$ONLY" = native ] && return
	echo "indexing the ragd-lite corpus into $TMP/index.db ..."
	"$PY" -m ragd index --db "$TMP/index.db" --timings none -q >"$TMP/index.log" 2>&1 ||
		{ cat "$TMP/index.log" >&2; die "ragd-lite index failed"; }
	RAGD=("$PY" "$BENCH/pywall.py" "@OUT@" ragd search "$QUERY" --repeat 200 -q --timings none
		--db "$TMP/index.db")
	CALLB=("$PY" "$BENCH/callbench.py" "@OUT@")
	CALLB_OPS=(-e "outer=py:bench/callbench.py:outer" -e "mid=py:bench/callbench.py:mid")
	PYW=("$PYW_PY" "$BENCH/callbench.py" "@OUT@" 50 1000)
	PYW11=("$PY311" "$BENCH/callbench.py" "@OUT@" 50 1000)
	# issue 8 on >= 3.12; callb8's fs variant names mid a stage of outer (the overhead budget's subject)
	RAGD8=("${PY8:-false}" "$BENCH/pywall.py" "@OUT@" ragd search "$QUERY" --repeat 200 -q --timings none
		--db "$TMP/index.db")
	CALLB8=("${PY8:-false}" "$BENCH/callbench.py" "@OUT@")
	CALLB8_STAGE=(-e "outer=py:bench/callbench.py:outer" -e "outer.mid=py:bench/callbench.py:mid")
	# the same 30M calls with mid() called 100 times (every ~11 ms): "a watched op called rarely"
	CALLR=("${PY8:-false}" "$BENCH/callbench.py" "@OUT@" 100 300000)
	PYW_OPS=(-e "leaf=py:bench/callbench.py:leaf")
	SEARCH1=("$PY" -m ragd search "$QUERY" -q --timings none --db "$TMP/index.db")

	# Untimed warm-up: page cache, first-run effects.
	"$PY" "$BENCH/pywall.py" "$TMP/warm" ragd search "$QUERY" --repeat 20 -q --timings none \
		--db "$TMP/index.db" >/dev/null 2>&1
	"$PY" "$BENCH/callbench.py" "$TMP/warm" 150 20000 >/dev/null 2>&1

	printf 'ragd\tragd-lite search x200\talone,f0,f999\n' >>"$RES/rows.txt"
	if [ -n "$PY8" ]; then
		printf 'ragd8\tragd-lite search x200 (issue 8 interpreter)\talone,f0,f0u,armed\n' >>"$RES/rows.txt"
		printf 'callb8\tcall-heavy Python (issue 8 interpreter)\talone,f0,fs\n' >>"$RES/rows.txt"
		printf 'callr\tcall-heavy Python, mid() called rarely (100 x 300,000 calls)\talone,f0\n' \
			>>"$RES/rows.txt"
	fi
	printf 'callb\tcall-heavy Python (30M calls)\talone,f0,f99,f999,f4999,clk999\n' >>"$RES/rows.txt"
	printf 'pyw\twatched Python leaf() x%d, %s (refcount)\talone,watched\n' $PYW_CALLS \
		"${PYW_PY:+$(pyver "$PYW_PY")}" >>"$RES/rows.txt"
	printf 'pyw\tcalls\t%d\n' $PYW_CALLS >>"$RES/rows.txt"
	if [ -n "$PY311" ]; then
		printf 'pyw11\twatched Python leaf() x%d, 3.11 (bytecode; refcount)\talone,watched,watched_rc\n' \
			$PYW_CALLS >>"$RES/rows.txt"
		printf 'pyw11\tcalls\t%d\n' $PYW_CALLS >>"$RES/rows.txt"
	fi
	printf 'start\trecord -- /bin/true (wall)\trecord\n' >>"$RES/rows.txt"
	printf 'prof\tsearch once alone / profile search -n 10 (wall)\talone,profile\n' >>"$RES/rows.txt"
}

# ------------------------------------------------------------------ alternating rounds
# run ROW VARIANT: one timed run; appends the time (seconds) to $RES/ROW.VARIANT.
run() {
	local row=$1 var=$2 out=$TMP/t.$1.$2 log=$TMP/log.$1.$2 json=$TMP/s.$1.$2.json
	local -a cmd prof=()
	local rc t0

	rm -f "$out" "$out.raw"
	case $row in
	ragd) cmd=("${RAGD[@]}") ;;
	callb) cmd=("${CALLB[@]}"); prof=("${CALLB_OPS[@]}") ;;
	ragd8) cmd=("${RAGD8[@]}") ;;
	callr) cmd=("${CALLR[@]}"); prof=("${CALLB_OPS[@]}") ;;
	callb8) cmd=("${CALLB8[@]}"); prof=("${CALLB_OPS[@]}")
		[ "$var" = fs ] && prof=("${CALLB8_STAGE[@]}") ;;
	pyw) cmd=("${PYW[@]}"); prof=("${PYW_OPS[@]}") ;;
	pyw11) cmd=("${PYW11[@]}"); prof=("${PYW_OPS[@]}") ;;
	nat0) cmd=(/usr/bin/env "WORKLOAD_TIMINGS=$out.raw" "$WORKLOAD" busy $NAT_CALLS 0); prof=("${NATOP[@]}") ;;
	nat2) cmd=(/usr/bin/env "WORKLOAD_TIMINGS=$out.raw" "$WORKLOAD" busy 300 2); prof=("${NATOP[@]}") ;;
	start) cmd=(/bin/true) ;;
	prof) cmd=("${SEARCH1[@]}") ;;
	esac
	cmd=("${cmd[@]/@OUT@/$out}")
	t0=$(now_ns)
	case $var in
	alone) timeout 300 "${cmd[@]}" >"$log" 2>&1 ;;
	armed) # the host's price of an armed debug register, no profiler (bpfloor.c)
		timeout 300 "$BPFLOOR" armed "${cmd[@]}" >"$log" 2>&1 ;;
	clk999) # the host's price of a 999 Hz sampling clock with an empty BPF program (bpfloor.c)
		timeout 300 "$BPFLOOR" clock 999 "${cmd[@]}" >"$log" 2>&1 ;;
	f0u) # issue 8 before the overhead budget: every stage watched whenever it holds registers
		timeout 300 "$PROF" record -q -F 0 --overhead 0 "${prof[@]}" -o "$json" -- "${cmd[@]}" >"$log" 2>&1 ;;
	fs) timeout 300 "$PROF" record -q -F 0 "${prof[@]}" -o "$json" -- "${cmd[@]}" >"$log" 2>&1 ;;
	f*) timeout 300 "$PROF" record -q -F "${var#f}" "${prof[@]}" -o "$json" -- "${cmd[@]}" >"$log" 2>&1 ;;
	uprobe | record)
		timeout 300 "$PROF" record -q -F 0 "${prof[@]}" -o "$json" -- "${cmd[@]}" >"$log" 2>&1 ;;
	watched | watched_rc)
		# Attached with -p during the workload's untimed sleep, so every call is watched (3 s:
		# the recorder's start-up on a loaded machine took more than 1.5 s).
		"${cmd[@]}" 3 >"$log" 2>&1 &
		local tp=$! rcenv=()
		[ "$var" = watched_rc ] && rcenv=(RAGD_BPFPROF_RC=1)
		sleep 0.3 # the interpreter defines leaf() before the recorder looks
		timeout 300 env "${rcenv[@]}" "$PROF" record -q -F 0 "${prof[@]}" -p $tp -o "$json" >"$log.rec" 2>&1
		rc=$?
		wait $tp || rc=1
		cat "$log.rec" >>"$log"
		[ $rc -eq 0 ]
		;;
	bt_empty)
		timeout 300 "$BPFTRACE" -c "${cmd[*]}" -e "uprobe:$WORKLOAD:op_busy {} uretprobe:$WORKLOAD:op_busy {}" \
			>"$log" 2>&1 ;;
	bt_hist)
		timeout 300 "$BPFTRACE" -c "${cmd[*]}" -e "uprobe:$WORKLOAD:op_busy { @s[tid] = nsecs; }
			uretprobe:$WORKLOAD:op_busy /@s[tid]/ { @ns = hist(nsecs - @s[tid]); delete(@s[tid]); }" \
			>"$log" 2>&1 ;;
	profile)
		timeout 600 "$PROF" profile search --ragd "$PY -m ragd" --query "$QUERY" -n 10 -q \
			-o "$json" -- --db "$TMP/index.db" >"$log" 2>&1 ;;
	esac
	rc=$?
	case $row in start | prof) echo "$((($(now_ns) - t0) / 1000))" | awk '{ printf "%.6f\n", $1 / 1e6 }' >"$out" ;; esac
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
	# Watched ops (leaf(); mid(); ragd's search): exact only where breakpoints fire and the op
	# got a register.
	local wop=
	case $row.$var in pyw*.watched*) wop=leaf ;; callb.f0 | callb8.f0 | callr.f0) wop=mid ;; callb8.fs) wop=outer.mid ;;
	ragd.f0 | ragd8.f0 | ragd8.f0u) wop=search ;; esac
	if [ -n "$wop" ]; then
		pyjson "$json" 'o = [o for o in s["operations"] if o["name"] == sys.argv[2]][0]
print(o["precision"], o["count"])' "$wop" >>"$RES/$row.$var.prec"
	fi
	# Stack samples taken, for the cost per sample.
	if [ "$var" = f999 ] && [ -f "$json" ]; then
		pyjson "$json" 'print(s["stats"]["samples"])' >>"$RES/$row.$var.samples"
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

# The self-test of `probes`: exact Python needs hardware breakpoints that fire and a free debug
# register (other debuggers or profilers on the machine may hold them all: ENOSPC).
# Prints "1" or "0 REASON".
breakpoints_fire() {
	local line
	line=$("$PROF" probes -- /bin/true 2>/dev/null | sed -n 's/^debug registers: *//p')
	case $line in
	"self-test passed"*) echo 1 ;;
	*) echo "0 debug registers: ${line:-no self-test result}" ;;
	esac
}

rounds() {
	local bt=() pyw=1 v
	[ -n "$BPFTRACE" ] && bt=(bt_empty bt_hist)
	breakpoints_fire >"$RES/pyw.fire"
	[ "$(cut -d' ' -f1 "$RES/pyw.fire")" = 1 ] || pyw=0
	[ -n "$PYW_PY" ] || { pyw=0; echo "0 no Python >= 3.12 found (set PYW_PYTHON)" >"$RES/pyw.fire"; }
	local start
	start=$(date +%s)
	for ((i = 0; i < RUNS; i++)); do
		printf 'round %d/%d ...\n' $((i + 1)) "$RUNS"
		# three turns a round: its runs are 0.1-0.3 s and its ratio the noisiest of the table
		for k in 0 1 2; do
			for v in $(rotate $((i * 3 + k)) alone uprobe "${bt[@]}"); do run nat0 "$v"; done
		done
		for v in $(rotate $i alone uprobe); do run nat2 "$v"; done
		[ "$ONLY" = native ] && continue
		for v in $(rotate $i alone f0 f999); do run ragd "$v"; done
		if [ -n "$PY8" ]; then
			for v in $(rotate $i alone f0 f0u armed); do run ragd8 "$v"; done
			for v in $(rotate $i alone f0 fs); do run callb8 "$v"; done
			for v in $(rotate $i alone f0); do run callr "$v"; done
		fi
		for v in $(rotate $i alone f0 f99 f999 f4999 clk999); do run callb "$v"; done
		if [ $pyw = 1 ]; then
			for v in $(rotate $i alone watched); do run pyw "$v"; done
			floor
			[ -n "$PY311" ] && for v in $(rotate $i alone watched watched_rc); do run pyw11 "$v"; done
		fi
		run start record
		if [ $i -lt 2 ]; then
			for v in $(rotate $i alone profile); do run prof "$v"; done
		else
			run prof alone
		fi
	done
	echo "($(($(date +%s) - start))s of alternating runs)"
}

# The floor of a watched call, in the same round as the watched runs: the same 50,000 calls under
# the same refcount watch with an empty BPF program (pyfloor.py: "US HITS ALONE WATCHED"), and the
# cost of one W and one X breakpoint hit with an empty program (bpfloor.c: "TYPE NS HITS").
floor() {
	local t
	"$PYW_PY" "$BENCH/pyfloor.py" "$TMP/t.floor" 50 1000 3 >"$TMP/log.pyfloor" 2>&1 &&
		cat "$TMP/t.floor" >>"$RES/pyw.floor"
	for t in W X; do "$BPFLOOR" $t 20000 >>"$RES/pyw.bpfloor" 2>>"$TMP/log.bpfloor"; done
}

# ------------------------------------------------------------------ measured once
# BPF run time per program run of the native probes (kernel.bpf_stats_enabled, on only here).
bpf_time() {
	local out=$TMP/bpfstats
	if ! sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null; then
		goal "BPF time per native call" "-" "-" "-" "SKIP (kernel.bpf_stats_enabled not settable)"
		return
	fi
	python3 "$BENCH/bpfstats.py" "$out" op_entry,op_return -- "$PROF" record -q -F 0 "${NATOP[@]}" \
		-o "$TMP/s.bpfstats.json" -- "$WORKLOAD" busy 200000 0 >"$TMP/log.bpfstats" 2>&1
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	local v
	v=$(awk '$2 > 0 { printf "%s%s %.0f ns", sep, $1, $3 / $2; sep = ", " }' "$out" 2>/dev/null)
	if [ -z "$v" ]; then
		fails=$((fails + 1))
		goal "BPF time per native call" "failed" "-" "-" "FAIL"
		return
	fi
	goal "BPF time per native call (bpf_stats, 200k calls)" "$v" "was op_entry 277 ns, op_return 4642 ns; 311/380 ns before the per-thread caches" "-" "INFO"
}

# BPF time per breakpoint hit of a watched call (on_rc: refcount scheme on PYW_PY; on_bp: 3.11's
# bytecode scheme) and hits per call, attached (-p) as in the watched rows.
bpf_time_py() {
	local py row out v runs=
	[ "$(cut -d' ' -f1 "$RES/pyw.fire" 2>/dev/null)" = 1 ] || return
	sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null || return
	for row in pyw pyw11; do
		py=$PYW_PY
		[ $row = pyw11 ] && py=$PY311
		[ -n "$py" ] || continue
		out=$TMP/bpfstats.$row
		"$py" "$BENCH/callbench.py" "$TMP/t.bpfstats" 50 1000 3 >/dev/null 2>&1 &
		local tp=$!
		sleep 0.3
		python3 "$BENCH/bpfstats.py" "$out" on_rc,on_bp -- "$PROF" record -q -F 0 "${PYW_OPS[@]}" \
			-p $tp -o "$TMP/s.bpfstats.$row.json" >"$TMP/log.bpfstats.$row" 2>&1
		wait $tp
		v=$(awk -v n=$PYW_CALLS '$2 > 0 { printf "%s%s %.0f ns a hit, %.2f hits a call", sep, $1, $3 / $2, $2 / n; sep = ", " }' \
			"$out" 2>/dev/null)
		runs="$runs${runs:+; }$(pyver "$py"): ${v:-failed}"
	done
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	goal "BPF time per breakpoint hit, watched leaf() (bpf_stats)" "$runs" \
		"was on_rc 1797 ns (3.12)" "-" "INFO"
}

# Zero drops at >= 200k events/s: a native target calling a probed function as fast as it can,
# from two threads (150,000 calls each), so a busy machine still reaches the rate.
drops() {
	local json=$TMP/s.drops.json
	if ! timeout 300 "$PROF" record -q -F 0 "${NATOP[@]}" -o "$json" -- "$WORKLOAD" threads 150000 0 2 \
		>"$TMP/log.drops" 2>&1; then
		fails=$((fails + 1))
		goal "zero drops at 200k events/s" "run failed" "-" "0 dropped" "FAIL"
		return
	fi
	local r
	r=$(pyjson "$json" '
st = s["stats"]; t = [c["start_ns"] for c in s["calls"]]
rate = (len(t) - 1) / ((max(t) - min(t)) / 1e9) if len(t) > 1 else 0
d = st.get("dropped_events", 0) + st.get("dropped_calls", 0)
print("%d %d %.0f" % (d, len(t), rate))')
	set -- $r
	if [ $# -ne 3 ]; then
		fails=$((fails + 1))
		goal "zero drops at 200k events/s" "unreadable JSON" "-" "0 dropped" "FAIL"
		return
	fi
	local verdict=PASS
	[ "$1" -eq 0 ] && [ "$2" -eq 300000 ] || verdict=FAIL
	[ "${3%.*}" -ge 200000 ] || verdict="FAIL (rate below 200k/s)"
	goal "zero drops at 200k events/s" "$1 dropped, $2 of 300000 calls at $(($3 / 1000))k calls/s" \
		"-" "0 dropped at >= 200k/s" "$verdict"
}

# Recorder memory and write time at 1M calls (workload threads 500000 0 2, op_busy): max RSS
# (/usr/bin/time; the workload itself stays near 1.4 MB) with the default call-memory budget
# (calls beyond it spill to a file) and, as the anchor, with every call kept in memory
# (RAGD_BPFPROF_CALL_MEM=1 GiB, how record worked before); "statistics and JSON" is the -v line.
recorder_memory() {
	local name="recorder memory for 1M calls (max RSS)" v nspill var rss ms n mem=() res=()
	if [ ! -x /usr/bin/time ]; then
		goal "$name" "no /usr/bin/time" "was 101 MB" "bounded" "SKIP"
		return
	fi
	for var in spill inmem; do
		mem=()
		[ $var = inmem ] && mem=(env RAGD_BPFPROF_CALL_MEM=1073741824)
		if ! /usr/bin/time -f %M -o "$TMP/rss.$var" "${mem[@]}" "$PROF" record -q -v -F 0 "${NATOP[@]}" \
			-o "$TMP/s.mem.json" -- "$WORKLOAD" threads 500000 0 2 >"$TMP/log.mem.$var" 2>&1; then
			fails=$((fails + 1))
			sed 's/^/    /' "$TMP/log.mem.$var" | tail -5 >&2
			goal "$name" "run failed ($var)" "was 101 MB" "bounded" "FAIL"
			return
		fi
		rss=$(tail -1 "$TMP/rss.$var")
		ms=$(sed -n 's/^calls: .*statistics and JSON in \([0-9]*\) ms$/\1/p' "$TMP/log.mem.$var")
		n=$(grep -c '^    {"op": ' "$TMP/s.mem.json")
		res+=("$((rss / 1024)) MB, JSON in ${ms:-?} ms, $n calls")
		[ $var = spill ] && v=$rss && nspill=$n
		rm -f "$TMP/s.mem.json"
	done
	local verdict=PASS
	[ "$v" -le $((40 * 1024)) ] && [ "$nspill" -eq 1000000 ] || verdict=FAIL
	goal "$name" "${res[0]}" "all in memory: ${res[1]}; was 101 MB" "<= 40 MB, every call written" "$verdict"
}

# cpu_ticks PID: utime + stime of PID in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
ctx_switches() { awk '/ctxt_switches/ { s += $2 } END { print s + 0 }' "/proc/$1/status" 2>/dev/null; }

# Recorder CPU with the default spec at 999 Hz, attached (-p) to a ragd-lite search loop: CPU of
# the recorder over 3 s once it runs (its start-up, BPF verification, is not in the window).
recorder_cpu() {
	"$PY" -m ragd search "$QUERY" --repeat 100000 -q --timings none --db "$TMP/index.db" \
		>"$TMP/log.loop" 2>&1 &
	LOOP_PID=$!
	sleep 1
	"$PROF" record -q -F 999 -p "$LOOP_PID" -d 6 -o "$TMP/s.reccpu.json" >"$TMP/log.reccpu" 2>&1 &
	local rp=$! hz c0 c1 s0 s1 t0 t1
	hz=$(getconf CLK_TCK)
	sleep 2
	c0=$(cpu_ticks $rp) s0=$(ctx_switches $rp) t0=$(now_ns)
	sleep 3
	c1=$(cpu_ticks $rp) s1=$(ctx_switches $rp) t1=$(now_ns)
	wait $rp
	local rc=$?
	kill "$LOOP_PID" 2>/dev/null
	wait "$LOOP_PID" 2>/dev/null
	LOOP_PID=
	if [ -z "$c0" ] || [ -z "$c1" ] || [ $rc -ne 0 ]; then
		fails=$((fails + 1))
		sed 's/^/    /' "$TMP/log.reccpu" | tail -5 >&2
		goal "recorder CPU, default spec, 999 Hz, -p search loop" "run failed (exit $rc)" "-" "<= 30 ms/s" "FAIL"
		return
	fi
	local v
	v=$(awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v hz="$hz" -v w=$((t1 - t0)) \
		'BEGIN { printf "%.1f %.0f", c / hz * 1e3 / (w / 1e9), s / (w / 1e9) }')
	set -- $v
	goal "recorder CPU, default spec, 999 Hz, -p search loop" "$1 ms/s ($2 context switches/s)" \
		"was 292-310 ms/s" "<= 30 ms/s" "$(awk -v x="$1" 'BEGIN { print (x <= 30 ? "PASS" : "FAIL") }')"
}

# ------------------------------------------------------------------ results
summary() {
	echo
	python3 "$BENCH/summarize.py" "$RES" || "$PY" "$BENCH/summarize.py" "$RES"
	# What the profiler measured in the -F 0 runs, and how precisely.
	"$PY" - "$TMP/s.ragd.f0.json" "$TMP/s.callb.f0.json" "$TMP/s.pyw.watched.json" \
		"$TMP/s.nat0.uprobe.json" <<'EOF'
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
}

# The goals table: the rows summarize.py derived from the rounds, then the measured-once rows.
goals() {
	echo
	echo "Goals (issues 8 and 11), measured in this run:"
	"$PY" - "$RES/goals.tsv" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
# issue 11's table order, then issue 8's rows, then anything else
order = ("native", "BPF time", "exact Python", "recorder CPU", "stack sampling", "record --",
         "profile", "report", "recorder memory", "zero drops", "issue 8")
rows.sort(key=lambda r: next((i for i, o in enumerate(order) if r[0].startswith(o)), len(order)))
head = ("what", "value", "anchor", "goal", "verdict")
w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
for r in [head] + rows:
    print("  " + "  ".join(r[i].ljust(w[i]) for i in range(4)) + "  " + r[4])
n = {v: sum(1 for r in rows if r[4].startswith(v)) for v in ("PASS", "FAIL", "SKIP")}
print("  %d PASS, %d FAIL, %d SKIP" % (n["PASS"], n["FAIL"], n["SKIP"]))
EOF
}

# Time and peak RSS of report and compare on a generated 1M-call session (own script: no root).
report_1m() {
	echo
	BENCH_GOALS=$RES/goals.tsv "$BENCH/report_bench.sh" || fails=$((fails + 1))
}

main() {
	header
	setup
	rounds
	bpf_time
	[ "$ONLY" = native ] || bpf_time_py
	drops
	if [ "$ONLY" != native ]; then
		recorder_memory
		recorder_cpu
		summary
		report_1m
	else
		summary
	fi
	goals
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	[ $fails -eq 0 ] || { echo "bench: $fails run(s) failed" >&2; exit 1; }
	exit 0
}

main "$@"
