"""A stub Ollama-compatible LLM server for ragd-lite (stdlib only).

    python3 ragd/llm/stub_server.py [--host 127.0.0.1] [--port 0]
    python3 -m ragd serve-llm [--port N]

Prints "READY <port>" on stdout once listening.  Endpoints:
  GET  /            -> "Ollama is running"
  GET  /api/tags    -> one fake model
  POST /api/generate {"prompt": ..., "stream": bool}
       streams NDJSON {"response": tok, "done": false} lines, one per token,
       sleeping RAGD_LITE_LLM_DELAY_MS (default 2) before each, then a final
       {"done": true, ...}; with "stream": false it "generates" the same way
       and then sends one JSON object.
Tokens per answer: RAGD_LITE_LLM_TOKENS (default 40).  The answer is built
deterministically from words in the prompt's context.

The CLI starts this file as a child process (``python3 -I <this file>``) so
the server's CPU time never lands in the profiled ragd process; it imports
nothing from the ragd package.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")
_OPENERS = ["According", "to", "[1]:"]


def _env_num(name, default):
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def compose_tokens(prompt, n_tokens):
    """Deterministic pseudo-answer: an opener, then the words of the first
    context passages in order, cut to n_tokens tokens."""
    ctx = prompt.split("Context:", 1)[-1].split("\nQuestion:", 1)[0]
    ctx = re.sub(r"\[\d+\] \([^)]*\)", " ", ctx)
    words = _WORD.findall(ctx)
    toks = list(_OPENERS)
    if not words or "(no relevant passages)" in ctx:
        words = "the indexed documents do not seem to cover this question".split()
        toks = ["Sorry,"]
    i = 0
    while len(toks) < n_tokens:
        toks.append(words[i % len(words)])
        i += 1
    toks = toks[:max(n_tokens, 1)]
    out = [t + " " for t in toks[:-1]] + [toks[-1] + "."]
    return out


class Handler(BaseHTTPRequestHandler):
    server_version = "ragd-lite-stub/0.1"
    protocol_version = "HTTP/1.0"     # close after each response: simple framing
    disable_nagle_algorithm = True    # per-token writes must not be delayed

    def log_message(self, fmt, *args):   # quiet
        pass

    def _send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/api/tags":
            self._send_json(200, {"models": [{"name": "ragd-lite-stub", "size": 0}]})
        elif self.path == "/":
            body = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self._send_json(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/api/generate":
            self._send_json(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length", "0"))
        try:
            req = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send_json(400, {"error": "bad json"})
            return
        model = req.get("model") or "ragd-lite-stub"
        stream = req.get("stream", True)
        prompt = str(req.get("prompt", ""))
        delay = _env_num("RAGD_LITE_LLM_DELAY_MS", 2.0) / 1000.0
        n_tokens = int(_env_num("RAGD_LITE_LLM_TOKENS", 40))
        tokens = compose_tokens(prompt, n_tokens)
        t_start = time.perf_counter_ns()
        created = datetime.now(timezone.utc).isoformat()
        if stream:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            for tok in tokens:
                if delay > 0:
                    time.sleep(delay)
                line = json.dumps({"model": model, "created_at": created,
                                   "response": tok, "done": False}) + "\n"
                self.wfile.write(line.encode())
        else:
            for _ in tokens:
                if delay > 0:
                    time.sleep(delay)
        final = {"model": model, "created_at": created,
                 "response": "" if stream else "".join(tokens), "done": True,
                 "done_reason": "stop",
                 "total_duration": time.perf_counter_ns() - t_start,
                 "prompt_eval_count": len(prompt.split()),
                 "eval_count": len(tokens), "eval_duration": time.perf_counter_ns() - t_start}
        if stream:
            self.wfile.write((json.dumps(final) + "\n").encode())
        else:
            self._send_json(200, final)


class StubServer:
    """In-process server on a background thread (used by ``--llm-server thread``)."""

    def __init__(self, host="127.0.0.1", port=0):
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://%s:%d" % (host, self.port)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       name="ragd-lite-stub-llm", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class StubServerProcess:
    """The stub server in a child process (default for ``ragd ask``)."""

    def __init__(self, host="127.0.0.1"):
        import subprocess
        self.proc = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), "--host", host, "--port", "0"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "READY":
            self.proc.kill()
            raise RuntimeError("stub LLM server failed to start")
        self.port = int(line[1])
        self.url = "http://%s:%d" % (host, self.port)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description="stub Ollama server for ragd-lite")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True
    print("READY %d" % httpd.server_address[1], flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
