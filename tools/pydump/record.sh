#!/bin/sh
# Records a memory image of a live Python for tests/unit/test_python.c (root needed):
#   tools/pydump/record.sh PYTHON NAME     e.g. record.sh /usr/bin/python3.11 py311d
# Runs target.py under PYTHON, checks the live answers of user/python.c against Python's own
# (pydump prints any mismatch) and writes tests/unit/data/NAME.img and NAME.expect.
set -e
PY=$1
NAME=$2
[ -n "$PY" ] && [ -n "$NAME" ] || { echo "usage: $0 PYTHON NAME" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
cc -O2 -g -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE -I"$ROOT/include" \
	-I"$ROOT/user" -o "$TMP/pydump" "$ROOT/tools/pydump/pydump.c" "$ROOT/user/python.c" \
	"$ROOT/user/symbols.c" -lelf
"$PY" "$ROOT/tools/pydump/target.py" "$TMP/expect" > "$TMP/ready" &
PID=$!
i=0
until grep -q ready "$TMP/ready" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "target did not start" >&2; exit 1; }
	sleep 0.1
done
"$TMP/pydump" $PID "$TMP/expect" "$ROOT/tests/unit/data/$NAME.img"
cp "$TMP/expect" "$ROOT/tests/unit/data/$NAME.expect"
