"""Build the LLM context block from retrieved chunks (op ``chat.context``)."""

import os
import re
from dataclasses import dataclass, field

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Citation:
    number: int
    path: str
    title: str
    chunk_ids: list = field(default_factory=list)


@dataclass
class ContextBundle:
    text: str
    citations: list
    used_chunks: int
    dropped_chunks: int


def _shingles(text):
    words = _WORD.findall(text.lower())
    return {" ".join(words[i:i + 3]) for i in range(max(len(words) - 2, 1))}


def build_context_from_results(results, max_chars=2400, dedupe_threshold=0.6):
    """Group results by source document, drop near-duplicate chunks (Jaccard
    over word 3-shingles, catches chunk overlap), number the sources [1], [2],
    ... and pack chunk text up to *max_chars*.  Single return (profiler)."""
    kept = []
    kept_shingles = []
    dropped = 0
    for r in results:
        sh = _shingles(r.text)
        dup = False
        for other in kept_shingles:
            inter = len(sh & other)
            if inter and inter / float(len(sh | other)) >= dedupe_threshold:
                dup = True
        if dup:
            dropped += 1
        else:
            kept.append(r)
            kept_shingles.append(sh)
    citations = {}
    blocks = []
    used = 0
    budget = max_chars
    for r in kept:
        cit = citations.get(r.path)
        if cit is None:
            cit = Citation(number=len(citations) + 1, path=r.path, title=r.title)
            citations[r.path] = cit
        snippet = _WS.sub(" ", r.text).strip()
        if len(snippet) > budget:
            snippet = snippet[: max(budget, 0)].rsplit(" ", 1)[0] + " ..."
        if budget > 40:
            cit.chunk_ids.append(r.chunk_id)
            blocks.append("[%d] (%s) %s" % (cit.number, os.path.basename(r.path), snippet))
            budget -= len(snippet)
            used += 1
        else:
            dropped += 1
    cited = [c for c in citations.values() if c.chunk_ids]
    bundle = ContextBundle(text="\n\n".join(blocks), citations=cited, used_chunks=used,
                           dropped_chunks=dropped)
    return bundle
