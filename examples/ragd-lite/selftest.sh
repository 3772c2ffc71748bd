#!/bin/sh
# ragd-lite self test: index the bundled corpus into a temp db, run search and
# ask once each (plus ask --stream), check the timings file and the
# single-RETURN property of every profiled op.  Exit 0 on success.
#   ./selftest.sh [PYTHON]        (default: $PYTHON or python3)
set -eu
PY=${1:-${PYTHON:-python3}}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ragd-lite-selftest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
cd "$HERE"
export RAGD_LITE_DB="$TMP/index.db"
T="$TMP/timings.jsonl"

echo "== $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
"$PY" -m ragd index corpus --timings "$T"
"$PY" -m ragd search "how does BM25 rank documents" --limit 3 --timings "$T"
"$PY" -m ragd ask "how long should sourdough proof in the fridge?" --timings "$T"
"$PY" -m ragd ask "what does vacuum do in PostgreSQL?" --stream --timings "$T" -q

"$PY" - "$T" <<'PYEOF'
import json, sys
want = {
    "index": {"startup", "index", "index.document", "index.extract", "index.normalise",
              "index.chunk", "index.embed", "index.store", "index.bm25"},
    "search": {"startup", "search", "search.init", "search.embed_query",
               "search.semantic", "search.keyword", "search.fusion"},
    "ask": {"startup", "chat", "chat.retrieve", "chat.context", "chat.generate",
            "chat.llm_request", "chat.stream", "search", "search.init"},
}
seen = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert set(r) >= {"op", "ns", "iter", "start_ns", "end_ns", "pid", "tid", "cmd"}, r
    assert isinstance(r["ns"], int) and r["ns"] > 0 and r["end_ns"] - r["start_ns"] == r["ns"], r
    seen.setdefault(r["cmd"], set()).add(r["op"])
for cmd, ops in want.items():
    missing = ops - seen.get(cmd, set())
    assert not missing, "%s: missing timings for %s" % (cmd, sorted(missing))
print("timings OK:", {k: len(v) for k, v in sorted(seen.items())}, "ops")
PYEOF

"$PY" tools/check_returns.py >/dev/null || { "$PY" tools/check_returns.py; echo "FAIL: an op has != 1 RETURN instruction"; exit 1; }
echo "selftest OK"
