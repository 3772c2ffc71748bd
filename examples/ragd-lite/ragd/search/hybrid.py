"""Hybrid search: semantic + BM25 fused with reciprocal rank fusion.

Ops: ``search`` (HybridSearcher.search), ``search.init`` (HybridSearcher.__init__),
``search.fusion`` (reciprocal_rank_fusion).  Stage timings are recorded here,
by the caller of each stage.

RAGD_LITE_SLOW_SEARCH=PCT (planted regression): after doing its real work,
HybridSearcher.search busy-spins on the CPU, inside its own frame, for PCT
percent of the time that work took -- so the whole call takes ~(1+PCT/100)x.
"""

import time
from dataclasses import dataclass, field

from ragd import timing
from ragd.config import env_float
from ragd.embedding.embedder import SentenceTransformerEmbedder
from ragd.search.bm25 import BM25Index
from ragd.storage.adapters.chromadb import ChromaDBAdapter

_now = time.perf_counter_ns

DEFAULT_RRF_K = 60


@dataclass
class FusedHit:
    chunk_id: str
    score: float
    ranks: dict = field(default_factory=dict)


@dataclass
class SearchResult:
    rank: int
    chunk_id: str
    score: float
    text: str
    path: str
    title: str
    semantic_rank: object = None
    keyword_rank: object = None


def reciprocal_rank_fusion(ranked_lists, k=DEFAULT_RRF_K, weights=None, limit=None):
    """RRF: score(d) = sum_i w_i / (k + rank_i(d)), ranks starting at 1.

    ranked_lists: sequence of (name, [hit with .chunk_id, ...]) best first.
    Returns FusedHit list, best first (ties broken by chunk_id).  Single return.
    """
    scores = {}
    ranks = {}
    for pos, (name, hits) in enumerate(ranked_lists):
        w = 1.0 if weights is None else weights[pos]
        for rank, hit in enumerate(hits, start=1):
            cid = hit.chunk_id
            scores[cid] = scores.get(cid, 0.0) + w / (k + rank)
            ranks.setdefault(cid, {})[name] = rank
    order = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    if limit is not None:
        order = order[:limit]
    fused = [FusedHit(chunk_id=cid, score=s, ranks=ranks[cid]) for cid, s in order]
    return fused


class HybridSearcher:
    def __init__(self, db_path, embedder=None, rrf_k=DEFAULT_RRF_K,
                 semantic_weight=1.0, keyword_weight=1.0, candidates=3):
        self.db_path = db_path
        self.embedder = embedder if embedder is not None else SentenceTransformerEmbedder()
        self.adapter = ChromaDBAdapter(db_path)
        self.bm25 = BM25Index(db_path)
        if self.adapter.dim != self.embedder.dim:
            raise ValueError("index %s has embedding dim %d but the embedder has %d"
                             % (db_path, self.adapter.dim, self.embedder.dim))
        self.rrf_k = rrf_k
        self.weights = (semantic_weight, keyword_weight)
        self.candidates = candidates
        self.slow_pct = env_float("RAGD_LITE_SLOW_SEARCH", 0.0)
        self.last_spin_ns = 0

    def hydrate(self, fused):
        info = self.adapter.fetch(h.chunk_id for h in fused)
        results = []
        for rank, h in enumerate(fused, start=1):
            text, path, title = info.get(h.chunk_id, ("", "", ""))
            results.append(SearchResult(rank=rank, chunk_id=h.chunk_id, score=h.score,
                                        text=text, path=path, title=title,
                                        semantic_rank=h.ranks.get("semantic"),
                                        keyword_rank=h.ranks.get("keyword")))
        return results

    def search(self, query, limit=10):
        """Hybrid search for *query*; returns SearchResult list.  Single return."""
        t_begin = _now()
        n_cand = max(limit * self.candidates, limit)

        t0 = _now()
        qvec = self.embedder.embed_single(query)
        timing.record("search.embed_query", t0, _now())

        t0 = _now()
        semantic = self.adapter.search(qvec, limit=n_cand)
        timing.record("search.semantic", t0, _now())

        t0 = _now()
        keyword = self.bm25.search(query, limit=n_cand)
        timing.record("search.keyword", t0, _now())

        t0 = _now()
        fused = reciprocal_rank_fusion([("semantic", semantic), ("keyword", keyword)],
                                       k=self.rrf_k, weights=self.weights, limit=limit)
        timing.record("search.fusion", t0, _now())

        results = self.hydrate(fused)

        # Planted slowdown: spin (CPU, this frame) for slow_pct% of the work above.
        spin_ns = int((_now() - t_begin) * self.slow_pct / 100.0)
        deadline = _now() + spin_ns
        x = 0
        while _now() < deadline:
            for i in range(200):
                x = (x * 31 + i) & 0xFFFFFFFF
        self.last_spin_ns = spin_ns
        return results

    def close(self):
        self.adapter.close()
        self.bm25.close()
