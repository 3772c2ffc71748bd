"""Indexing pipeline (ops ``index``: index_path and ``index.document``:
index_document).  Stage timings are recorded here, by the caller of each
stage: extract -> normalise -> chunk -> embed -> store -> bm25."""

import hashlib
import os
import time
from dataclasses import dataclass

from ragd import timing
from ragd.embedding.embedder import SentenceTransformerEmbedder
from ragd.ingestion.chunker import DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP, chunk_text
from ragd.ingestion.extractor import SUPPORTED_SUFFIXES, extract_text
from ragd.search.bm25 import BM25Index
from ragd.storage.chromadb import ChromaStore
from ragd.text.normalise import normalise_text

_now = time.perf_counter_ns


@dataclass
class DocumentResult:
    path: str
    doc_id: str
    title: str
    n_chars: int
    n_chunks: int


@dataclass
class IndexStats:
    root: str
    documents: int
    chunks: int
    chars: int
    bm25_backend: str


def discover_files(root):
    """Supported files under *root* (or *root* itself), sorted, hidden skipped."""
    if os.path.isfile(root):
        return [root]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower().endswith(SUPPORTED_SUFFIXES):
                found.append(os.path.join(dirpath, name))
    return found


def document_id(path):
    return hashlib.sha1(os.path.abspath(path).encode("utf-8")).hexdigest()[:16]


def index_document(path, store, bm25, embedder, chunk_size=DEFAULT_CHUNK_SIZE,
                   overlap=DEFAULT_OVERLAP):
    """Extract, normalise, chunk, embed and store one document.  Single return."""
    t0 = _now()
    extracted = extract_text(path)
    timing.record("index.extract", t0, _now())

    t0 = _now()
    text = normalise_text(extracted.text)
    timing.record("index.normalise", t0, _now())

    t0 = _now()
    chunks = chunk_text(text, chunk_size=chunk_size, overlap=overlap)
    timing.record("index.chunk", t0, _now())

    t0 = _now()
    vectors = embedder.embed([c.text for c in chunks])
    timing.record("index.embed", t0, _now())

    doc_id = document_id(path)
    t0 = _now()
    store.add_document(doc_id, path, extracted.title, extracted.fmt, extracted.sha256,
                       len(text), chunks, vectors)
    timing.record("index.store", t0, _now())

    t0 = _now()
    bm25.add_chunks(doc_id, [("%s:%04d" % (doc_id, c.index), c.text) for c in chunks])
    timing.record("index.bm25", t0, _now())

    result = DocumentResult(path=path, doc_id=doc_id, title=extracted.title,
                            n_chars=len(text), n_chunks=len(chunks))
    return result


def index_path(path, db_path, embedder=None, chunk_size=DEFAULT_CHUNK_SIZE,
               overlap=DEFAULT_OVERLAP, on_document=None):
    """Index every supported file under *path* into *db_path* (documents are
    re-processed and replaced every time).  Returns IndexStats.  Single return."""
    if not os.path.exists(path):
        raise FileNotFoundError("no such file or directory: %s" % path)
    files = discover_files(path)
    if embedder is None:
        embedder = SentenceTransformerEmbedder()
    store = ChromaStore(db_path, embedding_model=embedder.model_name, dim=embedder.dim)
    bm25 = BM25Index(db_path, create=True)
    results = []
    for f in files:
        t0 = _now()
        res = index_document(f, store, bm25, embedder, chunk_size=chunk_size, overlap=overlap)
        timing.record("index.document", t0, _now())
        results.append(res)
        if on_document is not None:
            on_document(res)
    backend = bm25.backend
    store.close()
    bm25.close()
    stats = IndexStats(root=os.path.abspath(path), documents=len(results),
                       chunks=sum(r.n_chunks for r in results),
                       chars=sum(r.n_chars for r in results), bm25_backend=backend)
    return stats
