"""Keyword index (ops ``index.bm25``: BM25Index.add_chunks and
``search.keyword``: BM25Index.search).

Backend "fts5": an SQLite FTS5 table ranked with its built-in bm25().
Backend "python": term postings in plain SQLite tables scored with Okapi BM25
in Python; used automatically when this sqlite3 build lacks FTS5, or forced
with RAGD_LITE_BM25=python *when the index is created*.  The backend is
recorded in the index's meta table.

RAGD_LITE_ALLOC_MB=N makes every BM25Index.search allocate N MiB (a bytearray
whose pages are all written) that stays alive until the method returns -- a
planted RSS bump for the profiler's memory-delta checks.
"""

import heapq
import math
import os
import re
from dataclasses import dataclass

from ragd.config import env_int
from ragd.storage import schema

K1 = 1.2
B = 0.75

_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset("""a an and are as at be by for from has have how i in is it its
of on or that the this to was what when where which who why will with do does
can you your""".split())


@dataclass
class KeywordHit:
    chunk_id: str
    score: float


def _stem(tok):
    """A deliberately tiny suffix stripper for the pure-Python backend."""
    for suffix in ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "ly", "s"):
        if len(tok) > len(suffix) + 2 and tok.endswith(suffix):
            tok = tok[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return tok


def query_terms(text):
    seen = []
    for tok in _TOKEN.findall(text.lower()):
        if len(tok) > 1 and tok not in _STOP and tok not in seen:
            seen.append(tok)
    return seen


class BM25Index:
    def __init__(self, db_path, create=False):
        self.db_path = db_path
        self.conn = schema.connect(db_path, create=create)
        backend = schema.get_meta(self.conn, "bm25_backend")
        if backend is None:
            if not create:
                raise schema.IndexNotFoundError("%s has no keyword index" % db_path)
            forced = os.environ.get("RAGD_LITE_BM25", "").strip().lower()
            backend = "fts5" if (forced != "python" and schema.fts5_available()) else "python"
            if backend == "fts5":
                self.conn.execute(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5("
                    "text, chunk_id UNINDEXED, doc_id UNINDEXED,"
                    " tokenize='porter unicode61 remove_diacritics 2')")
            else:
                self.conn.executescript("""
                    CREATE TABLE IF NOT EXISTS bm25_chunks (
                        chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL,
                        length INTEGER NOT NULL);
                    CREATE INDEX IF NOT EXISTS bm25_chunks_by_doc ON bm25_chunks(doc_id);
                    CREATE TABLE IF NOT EXISTS bm25_postings (
                        term TEXT NOT NULL, chunk_id TEXT NOT NULL, tf INTEGER NOT NULL);
                    CREATE INDEX IF NOT EXISTS bm25_postings_by_term
                        ON bm25_postings(term);
                    CREATE INDEX IF NOT EXISTS bm25_postings_by_chunk
                        ON bm25_postings(chunk_id);
                """)
            schema.set_meta(self.conn, "bm25_backend", backend)
            self.conn.commit()
        self.backend = backend
        self.alloc_mb = env_int("RAGD_LITE_ALLOC_MB", 0)
        self.last_alloc_bytes = 0

    # ------------------------------------------------------------ indexing
    def add_chunks(self, doc_id, chunks):
        """Index [(chunk_id, text), ...] for *doc_id*, replacing its previous
        rows.  Returns the number of chunks indexed.  Single return (profiler)."""
        conn = self.conn
        if self.backend == "fts5":
            conn.execute("DELETE FROM chunks_fts WHERE doc_id=?", (doc_id,))
            conn.executemany("INSERT INTO chunks_fts(text, chunk_id, doc_id) VALUES (?, ?, ?)",
                             [(text, cid, doc_id) for cid, text in chunks])
        else:
            conn.execute("DELETE FROM bm25_postings WHERE chunk_id IN"
                         " (SELECT chunk_id FROM bm25_chunks WHERE doc_id=?)", (doc_id,))
            conn.execute("DELETE FROM bm25_chunks WHERE doc_id=?", (doc_id,))
            chunk_rows = []
            posting_rows = []
            for cid, text in chunks:
                tf = {}
                n = 0
                for tok in _TOKEN.findall(text.lower()):
                    if tok in _STOP:
                        continue
                    term = _stem(tok)
                    tf[term] = tf.get(term, 0) + 1
                    n += 1
                chunk_rows.append((cid, doc_id, n))
                posting_rows.extend((term, cid, c) for term, c in tf.items())
            conn.executemany("INSERT INTO bm25_chunks(chunk_id, doc_id, length)"
                             " VALUES (?, ?, ?)", chunk_rows)
            conn.executemany("INSERT INTO bm25_postings(term, chunk_id, tf)"
                             " VALUES (?, ?, ?)", posting_rows)
        conn.commit()
        added = len(chunks)
        return added

    # ------------------------------------------------------------ search
    def _search_fts5(self, terms, limit):
        match = " OR ".join('"%s"' % t.replace('"', '""') for t in terms)
        rows = self.conn.execute(
            "SELECT chunk_id, bm25(chunks_fts) AS r FROM chunks_fts"
            " WHERE chunks_fts MATCH ? ORDER BY r LIMIT ?", (match, limit)).fetchall()
        return [KeywordHit(chunk_id=cid, score=-r) for cid, r in rows]

    def _search_python(self, terms, limit):
        conn = self.conn
        n_docs, avgdl = conn.execute(
            "SELECT COUNT(*), COALESCE(AVG(length), 0) FROM bm25_chunks").fetchone()
        scores = {}
        for term in {_stem(t) for t in terms}:
            rows = conn.execute(
                "SELECT p.chunk_id, p.tf, c.length FROM bm25_postings p"
                " JOIN bm25_chunks c ON c.chunk_id = p.chunk_id WHERE p.term=?",
                (term,)).fetchall()
            df = len(rows)
            idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            for cid, tf, dl in rows:
                denom = tf + K1 * (1.0 - B + B * dl / (avgdl or 1.0))
                scores[cid] = scores.get(cid, 0.0) + idf * tf * (K1 + 1.0) / denom
        top = heapq.nlargest(limit, scores.items(), key=lambda kv: (kv[1], kv[0]))
        return [KeywordHit(chunk_id=cid, score=s) for cid, s in top]

    def search(self, query, limit=10):
        """Top-*limit* chunks by BM25.  Single return (profiler)."""
        ballast = None
        if self.alloc_mb > 0:
            ballast = bytearray(self.alloc_mb << 20)
            ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
        terms = query_terms(query)
        if not terms:
            hits = []
        elif self.backend == "fts5":
            hits = self._search_fts5(terms, limit)
        else:
            hits = self._search_python(terms, limit)
        if ballast is not None:
            self.last_alloc_bytes = len(ballast)
        return hits

    def close(self):
        self.conn.close()
