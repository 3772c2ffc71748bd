"""Hashing n-gram embedder (ops ``index.embed`` and ``search.embed_query``).

Named after ragd's SentenceTransformerEmbedder but needs no model: each text is
turned into word unigrams, word bigrams and character 3- and 4-grams, every feature
is hashed (CRC32, deterministic across processes) with a sign bit into a
256-dimensional float vector, then sub-linearly scaled, L2-normalised and
densified by a structured random rotation (sign flips + fast Walsh-Hadamard
transform) -- all in pure Python, so the cost is real interpreter work.
"""

import math
import re
from zlib import crc32

DEFAULT_DIM = 256
MODEL_NAME = "ragd-lite/hashing-ngram-256"
ROTATION_ROUNDS = 4

_TOKEN = re.compile(r"[a-z0-9]+(?:[+#][+#]?)?")
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been
before being below between both but by can could did do does doing down during
each few for from further had has have having he her here hers him his how i if
in into is it its itself just me more most my no nor not of off on once only or
other our out over own same she should so some such than that the their them
then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours
""".split())


class SentenceTransformerEmbedder:
    def __init__(self, model_name=MODEL_NAME, dim=DEFAULT_DIM, batch_size=32):
        if dim & (dim - 1):
            raise ValueError("dim must be a power of two")
        self.model_name = model_name
        self.dim = dim
        self.batch_size = batch_size
        self._mask = dim - 1
        self._signs = [[1.0 if crc32(b"sign:%d:%d" % (r, i)) & 1 else -1.0
                        for i in range(dim)] for r in range(ROTATION_ROUNDS)]

    # -- core -------------------------------------------------------------
    def _encode(self, text):
        dim = self.dim
        mask = self._mask
        acc = [0.0] * dim
        prev = None
        for tok in _TOKEN.findall(text.lower()):
            if tok in STOPWORDS:
                prev = None
                continue
            h = crc32(b"w:" + tok.encode())
            acc[h & mask] += 1.0 if h & 0x80000000 else -1.0
            if prev is not None:
                h = crc32(("b:" + prev + " " + tok).encode())
                acc[h & mask] += 0.5 if h & 0x80000000 else -0.5
            padded = "^" + tok + "$"
            for j in range(len(padded) - 2):
                h = crc32(padded[j:j + 3].encode())
                acc[h & mask] += 0.25 if h & 0x80000000 else -0.25
                if j + 4 <= len(padded):
                    h = crc32(b"4" + padded[j:j + 4].encode())
                    acc[h & mask] += 0.2 if h & 0x80000000 else -0.2
            prev = tok
        norm = 0.0
        for i in range(dim):
            v = acc[i]
            v = math.log1p(v) if v >= 0.0 else -math.log1p(-v)
            acc[i] = v
            norm += v * v
        norm = math.sqrt(norm)
        if norm > 0.0:
            inv = 1.0 / norm
            for i in range(dim):
                acc[i] *= inv
        # Densify with a structured random rotation (sign flips + fast
        # Walsh-Hadamard transform, ROTATION_ROUNDS times).  It is orthogonal,
        # so cosine similarities are unchanged; it spreads the sparse hashed
        # features over all dimensions like a learned dense embedding would.
        scale = 1.0 / math.sqrt(dim)
        for signs in self._signs:
            for i in range(dim):
                acc[i] *= signs[i]
            h = 1
            while h < dim:
                for start in range(0, dim, h * 2):
                    for i in range(start, start + h):
                        a = acc[i]
                        b = acc[i + h]
                        acc[i] = a + b
                        acc[i + h] = a - b
                h *= 2
            for i in range(dim):
                acc[i] *= scale
        return acc

    # -- public API (profiled ops: single return each) ---------------------
    def embed(self, texts):
        """Embed a list of texts in batches; returns a list of float lists."""
        vectors = []
        bs = self.batch_size
        for start in range(0, len(texts), bs):
            for text in texts[start:start + bs]:
                vectors.append(self._encode(text))
        return vectors

    def embed_single(self, text):
        """Embed one query string."""
        vector = self._encode(text)
        return vector
