"""Sentence-aware chunking with overlap (op ``index.chunk``)."""

import re
from dataclasses import dataclass

DEFAULT_CHUNK_SIZE = 256      # characters
DEFAULT_OVERLAP = 96          # characters carried over from the previous chunk

# A "sentence": a run of text up to terminal punctuation, a newline or the end.
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"')\]]*(?=\s|$)|[.!?]+|(?=\n)|$)")
_WORD = re.compile(r"\S+")


@dataclass
class Chunk:
    index: int
    text: str
    start: int
    end: int


def _sentence_spans(text, max_len):
    """(start, end) spans of sentences; over-long ones are split on words."""
    spans = []
    for m in _SENTENCE.finditer(text):
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e <= s:
            continue
        if e - s <= max_len:
            spans.append((s, e))
            continue
        ws = None
        last = s
        for w in _WORD.finditer(text, s, e):
            if ws is None:
                ws = w.start()
            if w.end() - ws > max_len and last > ws:
                spans.append((ws, last))
                ws = w.start()
            last = w.end()
        if ws is not None:
            spans.append((ws, last))
    return spans


def chunk_text(text, chunk_size=DEFAULT_CHUNK_SIZE, overlap=DEFAULT_OVERLAP):
    """Greedily pack sentences into chunks of ~chunk_size characters, starting
    each new chunk with trailing sentences (<= overlap chars) of the previous
    one.  Chunk text is an exact slice of *text*.  Single return (profiler)."""
    spans = _sentence_spans(text, chunk_size)
    chunks = []
    i = 0
    n = len(spans)
    while i < n:
        first = i
        end = spans[i][1]
        j = i + 1
        while j < n and spans[j][1] - spans[first][0] <= chunk_size:
            end = spans[j][1]
            j += 1
        start = spans[first][0]
        chunks.append(Chunk(index=len(chunks), text=text[start:end], start=start, end=end))
        # next chunk: back up over trailing sentences that fit in `overlap`,
        # but always make progress.
        k = j
        while k - 1 > first and spans[j - 1][1] - spans[k - 1][0] <= overlap:
            k -= 1
        i = k if (k > first and j < n) else j
    result = chunks
    return result
