"""SQLite file shared by the vector store ("ChromaStore") and the BM25 index."""

import os
import sqlite3

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, path TEXT NOT NULL, title TEXT, fmt TEXT,
    sha256 TEXT, n_chars INTEGER, n_chunks INTEGER, indexed_at REAL);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, idx INTEGER NOT NULL,
    start_char INTEGER, end_char INTEGER, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS embeddings (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, dim INTEGER NOT NULL,
    vec BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS embeddings_by_doc ON embeddings(doc_id);
"""


class IndexNotFoundError(RuntimeError):
    pass


def connect(db_path, create=False):
    """Open *db_path* (WAL, synchronous=NORMAL).  With create=False a missing
    or empty index raises IndexNotFoundError."""
    if not create and not os.path.exists(db_path):
        raise IndexNotFoundError(
            "no ragd-lite index at %s (run: python3 -m ragd index [DIR] --db %s)"
            % (db_path, db_path))
    if create:
        parent = os.path.dirname(os.path.abspath(db_path))
        os.makedirs(parent, exist_ok=True)
    conn = sqlite3.connect(db_path, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    if create:
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)",
                     (SCHEMA_VERSION,))
        conn.commit()
    else:
        row = None
        if _has_table(conn, "meta"):
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            conn.close()
            raise IndexNotFoundError("%s is not a ragd-lite index" % db_path)
    return conn


def _has_table(conn, name):
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                        (name,)).fetchone() is not None


def get_meta(conn, key, default=None):
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return row[0] if row else default


def set_meta(conn, key, value):
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, str(value)))


def fts5_available():
    """True if this sqlite3 build supports FTS5."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        ok = True
    except sqlite3.OperationalError:
        ok = False
    finally:
        conn.close()
    return ok
