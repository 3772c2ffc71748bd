"""ragd-lite: a small, stdlib-only stand-in for the ragd RAG CLI.

It mirrors ragd's module layout (ragd.ingestion.pipeline, ragd.search.hybrid,
ragd.chat.session, ...) so that ragd-bpfprof's built-in op spec resolves to
real functions here.  Nothing is imported eagerly: stage modules are imported
inside the CLI commands, as in the real ragd.
"""

__version__ = "0.1.0+lite"
