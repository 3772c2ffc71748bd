"""Ground-truth timings, written as JSON lines.

Every top-level op and every stage is measured by its *caller* with
``time.perf_counter_ns()`` immediately around the call::

    t0 = time.perf_counter_ns()
    hits = self.bm25.search(query, limit)
    timing.record("search.keyword", t0, time.perf_counter_ns())

Records are buffered in memory and written by :func:`flush` (the CLI flushes
after each iteration, outside every timed region).  One JSON object per line::

    {"op": "search.keyword", "ns": 812345, "iter": 3, "start_ns": ..., "end_ns": ...,
     "pid": 4242, "tid": 4242, "cmd": "search"}

``start_ns``/``end_ns`` are raw ``perf_counter_ns()`` values, i.e.
CLOCK_MONOTONIC on Linux (the same clock as ``bpf_ktime_get_ns()``).
"""

import json
import os
import sys
import threading

_records = []
_iter = 0
_cmd = ""
_sink = None          # file object, or None for stderr
_enabled = True
_owns_sink = False


def configure(path, cmd):
    """path: None or "-" -> stderr; "none" -> disabled; else append to file."""
    global _sink, _enabled, _cmd, _owns_sink
    _cmd = cmd
    if path is None or path == "-":
        _sink = None
        _enabled = True
    elif path.lower() == "none":
        _sink = None
        _enabled = False
    else:
        _sink = open(path, "a", encoding="utf-8")
        _owns_sink = True
        _enabled = True


def set_iter(i):
    global _iter
    _iter = i


def record(op, start_ns, end_ns):
    _records.append((op, end_ns - start_ns, _iter, start_ns, end_ns,
                     threading.get_native_id()))


def flush():
    if not _records:
        return
    if _enabled:
        pid = os.getpid()
        out = _sink if _sink is not None else sys.stderr
        lines = []
        for op, ns, it, s, e, tid in _records:
            lines.append(json.dumps({"op": op, "ns": ns, "iter": it,
                                     "start_ns": s, "end_ns": e,
                                     "pid": pid, "tid": tid, "cmd": _cmd}))
        out.write("\n".join(lines) + "\n")
        out.flush()
    _records.clear()


def close():
    global _sink, _owns_sink
    flush()
    if _owns_sink and _sink is not None:
        _sink.close()
    _sink = None
    _owns_sink = False
