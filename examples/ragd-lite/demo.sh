#!/bin/sh
# `sudo make demo`: profile the bundled ragd-shaped workload (index, search, ask) with ragd's
# default operation spec and print the report.
set -e
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${DEMO_OUT:-/tmp/ragd-bpfprof-demo}
mkdir -p "$out"
export RAGD_LITE_DB="$out/index.db"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root to load BPF programs: run 'sudo make demo'" >&2
	exit 2
fi
cd "$here"
echo "== ragd-bpfprof profile all (bundled corpus: index, search, ask) =="
"$top/ragd-bpfprof" profile all --ragd "python3 -m ragd" --path "$here/corpus" \
	--query "how does hybrid search combine bm25 and vectors" -n 2 -o "$out/session.json" \
	-- --timings none
"$top/ragd-bpfprof" report "$out/session.json" --format folded > "$out/stacks.folded"
echo
echo "session JSON:   $out/session.json"
echo "folded stacks:  $out/stacks.folded (flamegraph.pl or https://speedscope.app)"
echo "compare later:  ragd-bpfprof profile --ragd \"python3 -m ragd\" --compare $out/session.json"
