#!/bin/sh
# `sudo make demo`: profile the bundled ragd-shaped workload (index, search, ask) with ragd's
# default operation spec and tell what happened on one 80x50 screen. The workload's own output
# and the build go to a log; the session JSON, a flame graph and a timeline are written and named.
set -e
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${DEMO_OUT:-/tmp/ragd-bpfprof-demo}
runs=${DEMO_RUNS:-3}
query="how does hybrid search combine bm25 and vectors"
mkdir -p "$out"
log="$out/demo.log"
: > "$log"
export RAGD_LITE_DB="$out/index.db"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
bin="$top/ragd-bpfprof"
if ! make -C "$top" --no-print-directory build >> "$log" 2>&1; then
	tail -20 "$log" >&2
	echo "demo: build failed (full log: $log)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root to load BPF programs: run 'sudo make demo'" >&2
	exit 2
fi
cd "$here"
profile() {
	"$bin" profile all --ragd "python3 -m ragd" --path "$here/corpus" --query "$query" \
		-n "$runs" -q --no-color -o "$1" -- --timings none >> "$log" 2>&1 && return 0
	tail -20 "$log" >&2
	echo "demo: profile failed (full log: $log)" >&2
	exit 1
}
echo "ragd-bpfprof demo: the bundled ragd-lite workload, profiled from outside (eBPF)"
echo "  ran: ragd index, search and ask on examples/ragd-lite/corpus, $runs runs each"
echo "  log: $log (the workload's own output, the build)"
echo
if [ -n "$DEMO_COMPARE" ]; then
	# The same workload, spec and run count as the session before: a like-for-like compare.
	if [ ! -s "$out/session.json" ]; then
		echo "demo: no earlier session in $out: run 'sudo make demo' first" >&2
		exit 2
	fi
	profile "$out/again.json"
	echo "compare $out/session.json (before) with $out/again.json (now):"
	"$bin" compare "$out/session.json" "$out/again.json" --no-color
	exit 0
fi
profile "$out/session.json"
"$bin" report "$out/session.json" --brief --width 80 --no-color
"$bin" report "$out/session.json" --format svg -o "$out/flame.svg"
"$bin" report "$out/session.json" --format perfetto -o "$out/trace.json"
echo
echo "Wrote $out/session.json and two pictures:"
echo "  flame graph: $out/flame.svg (a browser)"
echo "  timeline:    $out/trace.json (ui.perfetto.dev)"
echo "Next: sudo DEMO_COMPARE=1 make demo  (same workload again, compared op by op)"
