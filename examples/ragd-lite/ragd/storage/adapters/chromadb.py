"""Vector search (op ``search.semantic``: ChromaDBAdapter.search).

Brute-force cosine similarity in pure Python over every stored vector: this is
deliberately the dominant cost of a search.
"""

import heapq
import math
from array import array
from dataclasses import dataclass

from ragd.storage import schema


@dataclass
class SemanticHit:
    chunk_id: str
    score: float


class ChromaDBAdapter:
    def __init__(self, db_path):
        self.db_path = db_path
        self.conn = schema.connect(db_path, create=False)
        self.dim = int(schema.get_meta(self.conn, "embedding_dim", "0"))
        self.count = self.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]

    def search(self, query_vector, limit=10, min_score=0.0):
        """Top-*limit* chunks by cosine similarity (only those scoring above
        *min_score*, so an all-stopword query finds nothing).  Single return."""
        q = [float(x) for x in query_vector]
        qn = 0.0
        for a in q:
            qn += a * a
        qn = math.sqrt(qn)
        scored = []
        for chunk_id, blob in self.conn.execute("SELECT chunk_id, vec FROM embeddings"):
            v = array("f")
            v.frombytes(blob)
            dot = 0.0
            vn = 0.0
            for a, b in zip(q, v):
                dot += a * b
                vn += b * b
            denom = qn * math.sqrt(vn)
            sim = dot / denom if denom > 0.0 else 0.0
            if sim > min_score:
                scored.append((sim, chunk_id))
        top = heapq.nlargest(limit, scored)
        hits = [SemanticHit(chunk_id=cid, score=score) for score, cid in top]
        return hits

    def fetch(self, chunk_ids):
        """chunk_id -> (text, doc path, title) for the given ids."""
        out = {}
        ids = list(chunk_ids)
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(
                    "SELECT c.chunk_id, c.text, d.path, d.title FROM chunks c"
                    " JOIN documents d ON d.doc_id = c.doc_id"
                    " WHERE c.chunk_id IN (%s)" % marks, part):
                out[row[0]] = (row[1], row[2], row[3])
        return out

    def close(self):
        self.conn.close()
