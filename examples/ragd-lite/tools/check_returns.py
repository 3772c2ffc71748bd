#!/usr/bin/env python3
"""Print, for every op in the ragd-bpfprof spec, the code object the profiler
watches and how many RETURN instructions it has (RETURN_VALUE / RETURN_CONST;
generators also list YIELD_VALUE).  Exit 1 if any op has != 1 return.

    python3 tools/check_returns.py [--json]
"""

import dis
import importlib
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

# op -> (module, qualname); qualname None = module body
OPS = [
    ("index", "ragd.ingestion.pipeline", "index_path"),
    ("index.document", "ragd.ingestion.pipeline", "index_document"),
    ("index.extract", "ragd.ingestion.extractor", "extract_text"),
    ("index.normalise", "ragd.text.normalise", "normalise_text"),
    ("index.chunk", "ragd.ingestion.chunker", "chunk_text"),
    ("index.embed", "ragd.embedding.embedder", "SentenceTransformerEmbedder.embed"),
    ("index.store", "ragd.storage.chromadb", "ChromaStore.add_document"),
    ("index.bm25", "ragd.search.bm25", "BM25Index.add_chunks"),
    ("search", "ragd.search.hybrid", "HybridSearcher.search"),
    ("search.init", "ragd.search.hybrid", "HybridSearcher.__init__"),
    ("search.embed_query", "ragd.embedding.embedder", "SentenceTransformerEmbedder.embed_single"),
    ("search.semantic", "ragd.storage.adapters.chromadb", "ChromaDBAdapter.search"),
    ("search.keyword", "ragd.search.bm25", "BM25Index.search"),
    ("search.fusion", "ragd.search.hybrid", "reciprocal_rank_fusion"),
    ("chat", "ragd.chat.session", "ChatSession.ask"),
    ("chat.retrieve", "ragd.chat.session", "ChatSession._retrieve_with_fallback"),
    ("chat.context", "ragd.chat.context", "build_context_from_results"),
    ("chat.generate", "ragd.chat.session", "ChatSession._generate_response"),
    ("chat.llm_request", "ragd.llm.ollama", "OllamaClient.generate"),
    ("chat.stream", "ragd.llm.ollama", "OllamaClient.generate_stream"),
    ("startup", "ragd.cli", None),
]

RETURNS = {"RETURN_VALUE", "RETURN_CONST"}


def code_for(module, qualname):
    if qualname is None:
        spec = importlib.util.find_spec(module)
        with open(spec.origin, "rb") as fh:
            src = fh.read()
        return compile(src, spec.origin, "exec")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj.__code__


def main():
    rows = []
    bad = 0
    for op, module, qualname in OPS:
        code = code_for(module, qualname)
        ins = list(dis.get_instructions(code))
        rets = [i for i in ins if i.opname in RETURNS]
        yields = [i for i in ins if i.opname == "YIELD_VALUE"]
        is_gen = bool(code.co_flags & 0x20)
        row = {"op": op, "file": code.co_filename.split(os.sep + "ragd" + os.sep, 1)[-1],
               "qualname": qualname or "<module>",
               "co_qualname": getattr(code, "co_qualname", code.co_name),
               "firstlineno": code.co_firstlineno, "generator": is_gen,
               "returns": len(rets),
               "return_offsets": [i.offset for i in rets],
               "return_ops": sorted({i.opname for i in rets}),
               "yields": len(yields)}
        rows.append(row)
        if len(rets) != 1:
            bad += 1
    if "--json" in sys.argv:
        print(json.dumps({"python": sys.version.split()[0], "ops": rows}, indent=1))
    else:
        print("python %s" % sys.version.split()[0])
        for r in rows:
            print("%-20s %-34s %-46s returns=%d %s%s" % (
                r["op"], r["file"], r["qualname"], r["returns"],
                ",".join(r["return_ops"]),
                (" yields=%d (generator)" % r["yields"]) if r["generator"] else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
