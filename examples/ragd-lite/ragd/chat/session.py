"""Retrieval-augmented chat (ops ``chat``: ChatSession.ask, ``chat.retrieve``,
``chat.context``, ``chat.generate``).  Stage timings are recorded here, by the
caller of each stage."""

import time
from dataclasses import dataclass, field

from ragd import timing
from ragd.chat.context import build_context_from_results
from ragd.search.hybrid import FusedHit, HybridSearcher

_now = time.perf_counter_ns

SYSTEM_PROMPT = ("You are ragd, a helpful assistant. Answer using only the numbered "
                 "context passages and cite them like [1].")


@dataclass
class ChatAnswer:
    question: str
    answer: str
    citations: list = field(default_factory=list)
    n_results: int = 0
    fallback_used: bool = False


class ChatSession:
    def __init__(self, db_path, llm, stream=False, limit=5, max_context_chars=2400,
                 on_token=None, history_turns=3):
        self.llm = llm
        self.stream = stream
        self.limit = limit
        self.max_context_chars = max_context_chars
        self.on_token = on_token
        self.history_turns = history_turns
        self.history = []
        self.last_fallback = False
        t0 = _now()
        self.searcher = HybridSearcher(db_path)
        timing.record("search.init", t0, _now())

    def _retrieve_with_fallback(self, question):
        """Hybrid search; if it finds nothing, retry keyword-only with a relaxed
        query (question words only).  Single return (profiler)."""
        t0 = _now()
        results = self.searcher.search(question, limit=self.limit)
        timing.record("search", t0, _now())
        self.last_fallback = not results
        if not results:
            relaxed = " ".join(w for w in question.split() if len(w) > 3)
            t0 = _now()
            hits = self.searcher.bm25.search(relaxed, limit=self.limit)
            timing.record("search.keyword", t0, _now())
            results = self.searcher.hydrate(
                [FusedHit(chunk_id=h.chunk_id, score=h.score, ranks={"keyword": i})
                 for i, h in enumerate(hits, start=1)])
        retrieved = list(results[: self.limit])
        return retrieved

    def _build_prompt(self, question, context):
        parts = [SYSTEM_PROMPT, ""]
        for turn in self.history[-self.history_turns:]:
            parts.append("User: %s\nAssistant: %s" % (turn.question, turn.answer))
        parts.append("Context:\n" + (context.text or "(no relevant passages)"))
        parts.append("\nQuestion: %s\nAnswer:" % question)
        return "\n".join(parts)

    def _generate_response(self, question, context):
        """Prompt the LLM (streaming or not) and post-process the answer text.
        Single return (profiler)."""
        prompt = self._build_prompt(question, context)
        if self.stream:
            t0 = _now()
            pieces = []
            for token in self.llm.generate_stream(prompt):
                pieces.append(token)
                if self.on_token is not None:
                    self.on_token(token)
            text = "".join(pieces)
            timing.record("chat.stream", t0, _now())
        else:
            t0 = _now()
            response = self.llm.generate(prompt)
            text = response.text
            timing.record("chat.llm_request", t0, _now())
        answer = " ".join(text.split())
        if context.citations and "[" not in answer:
            answer += " [1]"
        return answer

    def ask(self, question):
        """Answer *question* with retrieval-augmented generation.  Single return."""
        t0 = _now()
        results = self._retrieve_with_fallback(question)
        timing.record("chat.retrieve", t0, _now())

        t0 = _now()
        context = build_context_from_results(results, max_chars=self.max_context_chars)
        timing.record("chat.context", t0, _now())

        t0 = _now()
        text = self._generate_response(question, context)
        timing.record("chat.generate", t0, _now())

        answer = ChatAnswer(question=question, answer=text, citations=context.citations,
                            n_results=len(results), fallback_used=self.last_fallback)
        self.history.append(answer)
        return answer

    def close(self):
        self.searcher.close()

