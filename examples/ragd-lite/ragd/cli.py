"""ragd-lite command line interface.

The body of this module is the profiler's ``startup`` op: it imports the
always-needed modules and builds the argument parser.  Pipeline modules are
imported lazily inside each command, as in the real ragd.

    python3 -m ragd index [DIR]        (default DIR: the bundled corpus/)
    python3 -m ragd search QUERY
    python3 -m ragd ask QUERY [--stream]
    python3 -m ragd serve-llm [--port N]
"""

import argparse
import os
import sys
import time

from ragd import __version__, timing
from ragd.config import default_db_path

_now = time.perf_counter_ns

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS = os.path.join(PACKAGE_ROOT, "corpus")


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _non_negative_float(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=None, metavar="PATH",
                        help="index file (default: $RAGD_LITE_DB or "
                             "${XDG_CACHE_HOME:-~/.cache}/ragd-lite/index.db)")
    common.add_argument("--timings", default=os.environ.get("RAGD_LITE_TIMINGS"),
                        metavar="FILE",
                        help="append JSON-lines timings to FILE ('-' = stderr, the "
                             "default; 'none' = off); env RAGD_LITE_TIMINGS")
    common.add_argument("--repeat", type=_positive_int, default=1, metavar="N",
                        help="run the operation N times in this process")
    common.add_argument("--sleep-ms", type=_non_negative_float, default=0.0, metavar="MS",
                        help="sleep MS milliseconds between repetitions (default 0)")
    common.add_argument("-q", "--quiet", action="store_true", help="no result output")

    parser = argparse.ArgumentParser(prog="ragd", description="ragd-lite: a tiny RAG CLI")
    parser.add_argument("--version", action="version", version="ragd-lite " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("index", parents=[common], help="index a directory or file")
    p.add_argument("path", nargs="?", default=DEFAULT_CORPUS,
                   help="directory or file (default: bundled corpus)")
    p.add_argument("--reset", action="store_true", help="delete the index first")
    p.add_argument("--chunk-size", type=_positive_int, default=None)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", parents=[common], help="hybrid search")
    p.add_argument("query")
    p.add_argument("--limit", type=_positive_int, default=10)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", parents=[common], help="retrieval-augmented answer")
    p.add_argument("query")
    p.add_argument("--limit", type=_positive_int, default=5, help="context chunks")
    p.add_argument("--stream", action="store_true",
                   help="use OllamaClient.generate_stream (default: generate)")
    p.add_argument("--llm-url", default=os.environ.get("RAGD_LITE_LLM_URL"),
                   help="existing Ollama-compatible server (env RAGD_LITE_LLM_URL); "
                        "default: start the stub server")
    p.add_argument("--llm-server", choices=("process", "thread"), default="process",
                   help="how to run the stub server when --llm-url is not given")
    p.add_argument("--model", default="ragd-lite-stub")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve-llm", help="run the stub LLM server in the foreground")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=11435)
    p.set_defaults(func=cmd_serve_llm)
    return parser


def _pause(args, i):
    if args.sleep_ms > 0 and i + 1 < args.repeat:
        time.sleep(args.sleep_ms / 1000.0)


def _shorten(text, n):
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def cmd_index(args):
    from ragd.ingestion.pipeline import index_path
    from ragd.ingestion.chunker import DEFAULT_CHUNK_SIZE

    db = args.db
    if args.reset:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
    stats = None
    for i in range(args.repeat):
        timing.set_iter(i)
        t0 = _now()
        stats = index_path(args.path, db, chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE)
        t1 = _now()
        timing.record("index", t0, t1)
        timing.flush()
        if not args.quiet:
            print("indexed %d documents, %d chunks (%d chars, bm25=%s) into %s in %.3f s"
                  % (stats.documents, stats.chunks, stats.chars, stats.bm25_backend, db,
                     (t1 - t0) / 1e9))
        _pause(args, i)
    return 0


def cmd_search(args):
    from ragd.search.hybrid import HybridSearcher

    results = []
    for i in range(args.repeat):
        timing.set_iter(i)
        t0 = _now()
        searcher = HybridSearcher(args.db)
        timing.record("search.init", t0, _now())
        t0 = _now()
        results = searcher.search(args.query, limit=args.limit)
        timing.record("search", t0, _now())
        searcher.close()
        timing.flush()
        _pause(args, i)
    if not args.quiet:
        for r in results:
            print("%2d. %.4f  %s  [%s]\n    %s" % (
                r.rank, r.score, os.path.basename(r.path), r.chunk_id, _shorten(r.text, 110)))
        if not results:
            print("no results")
    return 0


def cmd_ask(args):
    from ragd.chat.session import ChatSession
    from ragd.llm.ollama import OllamaClient

    server = None
    url = args.llm_url
    if not url:
        from ragd.llm import stub_server
        if args.llm_server == "thread":
            server = stub_server.StubServer().start()
        else:
            server = stub_server.StubServerProcess()
        url = server.url
    client = OllamaClient(url, model=args.model)
    on_token = None
    if args.stream and not args.quiet:
        def on_token(tok):
            sys.stdout.write(tok)
            sys.stdout.flush()
    answer = None
    try:
        for i in range(args.repeat):
            timing.set_iter(i)
            session = ChatSession(args.db, client, stream=args.stream, limit=args.limit,
                                  on_token=on_token)
            t0 = _now()
            answer = session.ask(args.query)
            timing.record("chat", t0, _now())
            session.close()
            if args.stream and not args.quiet:
                sys.stdout.write("\n")
                sys.stdout.flush()
            timing.flush()
            _pause(args, i)
    finally:
        if server is not None:
            server.stop()
    if not args.quiet and answer is not None:
        if not args.stream:
            print(answer.answer)
        for c in answer.citations:
            print("  [%d] %s" % (c.number, c.path))
    return 0


def cmd_serve_llm(args):
    from ragd.llm import stub_server
    return stub_server.main(["--host", args.host, "--port", str(args.port)])


def main(argv=None):
    args = PARSER.parse_args(argv)
    if getattr(args, "db", None) is None and args.command != "serve-llm":
        args.db = default_db_path()
    timing.configure(getattr(args, "timings", None), args.command)
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        rc = 130
    except Exception as exc:  # noqa: BLE001 - CLI boundary
        from ragd.storage.schema import IndexNotFoundError
        from ragd.llm.ollama import LLMError
        if not isinstance(exc, (IndexNotFoundError, LLMError, FileNotFoundError,
                                ValueError, ConnectionError)):
            raise
        print("ragd: error: %s" % exc, file=sys.stderr)
        rc = 2
    finally:
        timing.close()
    return rc


PARSER = build_parser()
