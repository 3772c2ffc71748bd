"""Vector store writer (op ``index.store``: ChromaStore.add_document).

Named after ragd's ChromaDB-backed store; here chunks and their float32
vectors live in the shared SQLite file.
"""

import os
import time
from array import array

from ragd.storage import schema


class ChromaStore:
    def __init__(self, db_path, embedding_model=None, dim=None):
        self.db_path = db_path
        self.conn = schema.connect(db_path, create=True)
        if dim is not None:
            existing = schema.get_meta(self.conn, "embedding_dim")
            if existing is not None and int(existing) != dim:
                raise ValueError("index %s has embedding dim %s, embedder has %d; "
                                 "delete it or use --reset" % (db_path, existing, dim))
            schema.set_meta(self.conn, "embedding_dim", dim)
            schema.set_meta(self.conn, "embedding_model", embedding_model or "")
            self.conn.commit()

    def add_document(self, doc_id, path, title, fmt, sha256, n_chars, chunks, vectors):
        """Replace *doc_id*'s chunks and vectors; returns the number of chunks
        written.  One transaction per document.  Single return (profiler)."""
        if len(chunks) != len(vectors):
            raise ValueError("chunks/vectors length mismatch")
        conn = self.conn
        conn.execute("DELETE FROM embeddings WHERE doc_id=?", (doc_id,))
        conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
        conn.execute(
            "INSERT OR REPLACE INTO documents(doc_id, path, title, fmt, sha256, n_chars,"
            " n_chunks, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (doc_id, os.path.abspath(path), title, fmt, sha256, n_chars, len(chunks),
             time.time()))
        chunk_rows = []
        vec_rows = []
        for chunk, vec in zip(chunks, vectors):
            chunk_id = "%s:%04d" % (doc_id, chunk.index)
            chunk_rows.append((chunk_id, doc_id, chunk.index, chunk.start, chunk.end,
                               chunk.text))
            vec_rows.append((chunk_id, doc_id, len(vec), array("f", vec).tobytes()))
        conn.executemany("INSERT INTO chunks(chunk_id, doc_id, idx, start_char, end_char,"
                         " text) VALUES (?, ?, ?, ?, ?, ?)", chunk_rows)
        conn.executemany("INSERT INTO embeddings(chunk_id, doc_id, dim, vec)"
                         " VALUES (?, ?, ?, ?)", vec_rows)
        conn.commit()
        written = len(chunk_rows)
        return written

    def close(self):
        self.conn.close()
