"""all-mpnet-base-v2 as a re-ranker of the fused top 20, against the app's default ("embed"), on one index.

    export HF_HUB_OFFLINE=1 RAG_THREADS=1 RAG_EMBED_DTYPE=float32
    python bench/mpnet_eval.py --dataset squad:../shared/eval/covid_qa/200423_covidQA.json --limit 100 \
        --index /tmp/s8/evalcache/squad-200423_covidQA-91881c5dbd616d81 --k 1,5,10 \
        --out bench/results/2026-12-05-session9/mpnet-rerank-covid.json

`--index` is a MiniLM eval index built earlier by `python -m rag eval --cache-dir` (the folder itself, so an
unrelated code change does not force a rebuild). Rows, all over that index and the same first `--limit` questions:
"default" is exactly the app (hybrid fusion with the library's BM25 weight, then the "embed" re-ranker), and
"mpnet w=W" re-orders the same fused top 20 by (1 - W) · embed score + W · mpnet cosine (min-max over the 20),
`rag.search.rerank.blend`; W=1 is mpnet alone, W=0 must equal "default"; "minilm w=1" orders the same 20 by
the index's own MiniLM cosine alone, to compare the two models as judges of the same finalists. Each passage and query is embedded by
mpnet once and reused by every row, so rows cost the same and the mpnet time is reported on its own.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import go_offline, load_avg, write_json


class CachedCosines:
    """mpnet cosines between a query and passages, each text embedded once per run (chunk ids as keys)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.passages: dict[int, Any] = {}
        self.queries: dict[str, Any] = {}
        self.seconds = 0.0

    def __call__(self, index: Any, q: Any, head: list[Any]) -> Any:
        import numpy as np

        query = q.text
        missing = [h.chunk for h in head if h.chunk.chunk_id not in self.passages]
        texts = ([query] if query not in self.queries else []) + [c.indexed_text for c in missing]
        if texts:
            started = time.perf_counter()
            vectors = self.model.encode(texts)
            self.seconds += time.perf_counter() - started
            if query not in self.queries:
                self.queries[query], vectors = vectors[0], vectors[1:]
            self.passages.update({c.chunk_id: v for c, v in zip(missing, vectors, strict=True)})
        return np.stack([self.passages[h.chunk.chunk_id] for h in head]) @ self.queries[query]


def minilm_cosines(index: Any, q: Any, head: list[Any]) -> Any:
    """The library's own (MiniLM) cosines from its stored vectors: the same judge without a second model."""
    return index.sources.index.vectors_of([h.chunk.chunk_id for h in head]) @ q.vector


def strategy(weight: float, cosines: Any) -> Any:
    """(index, query, depth) -> hits: the app's fused list, its top 20 re-ordered by the blend at `weight`."""
    from rag.search.options import Query, check_query
    from rag.search.rerank import blend, embed_scores
    from rag.search.retrieve import retrieve

    def search(index: Any, query: str, depth: int) -> list[Any]:
        text = check_query(query, index.settings.max_query_chars)
        options = index.options(k=depth)
        fused = retrieve(text, index.sources, replace(options, reranker="none", k=max(depth, options.rerank_depth)))
        head, tail = fused[: options.rerank_depth], fused[options.rerank_depth :]
        q = Query(text, index.sources.embedder.encode([text])[0])
        base = embed_scores(q, head, index.sources).scores
        scores = blend(base, cosines(index, q, head), weight) if weight > 0 else base
        order = sorted(range(len(head)), key=lambda i: -scores[i])
        return ([replace(head[i], score=float(scores[i])) for i in order] + tail)[:depth]

    return search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, metavar="KIND:PATH")
    parser.add_argument("--index", type=Path, required=True, help="a MiniLM eval index folder (holds eval-index.json)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--k", default="1,5,10")
    parser.add_argument("--weights", default="0,0.25,0.5,0.75,1", help="mpnet shares to compare")
    parser.add_argument("--mpnet-dtype", default="bfloat16", help="mpnet's dtype (bf16 only where native)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    go_offline()
    from rag.config import Settings
    from rag.embedding import load_embedder
    from rag.evaluate.datasets import read_dataset
    from rag.evaluate.report import to_json, to_markdown
    from rag.evaluate.runner import RunConfig, evaluate
    from rag.library import Library
    from rag.mpnet import MPNET_NAME

    settings = Settings.from_env()
    minilm = load_embedder(settings)
    cosines = CachedCosines(load_embedder(settings.replace(embedder=MPNET_NAME, embed_dtype=args.mpnet_dtype)))
    weights = [float(w) for w in args.weights.split(",")]
    configs = [RunConfig("default", "default")]
    configs += [RunConfig(f"mpnet w={w:g}", "hybrid", strategy(w, cosines)) for w in weights]
    configs.append(RunConfig("minilm w=1", "hybrid", strategy(1.0, minilm_cosines)))  # the judge mpnet replaces
    evalset = read_dataset(args.dataset, None, args.limit)
    ks = tuple(int(k) for k in args.k.split(","))
    started = time.perf_counter()
    result = evaluate(evalset, settings, configs, ks, lambda s: Library.open(s, minilm), minilm.name, args.index)
    print(to_markdown([result]))
    per_query = cosines.seconds / max(len(evalset.queries), 1)
    print(
        f"mpnet embedded {len(cosines.passages)} passages + {len(cosines.queries)} queries in "
        f"{cosines.seconds:.0f} s ({len(cosines.passages) / max(cosines.seconds, 1e-9):.1f} passages/s, "
        f"{per_query:.2f} s per question with reuse across questions); wall {time.perf_counter() - started:.0f} s"
    )
    write_json(
        args.out,
        {
            "result": json.loads(to_json([result]))["results"][0],
            "limit": args.limit,
            "index": str(args.index),
            "mpnet_dtype": args.mpnet_dtype,
            "minilm_dtype": settings.embed_dtype,
            "threads": settings.resolved_threads,
            "mpnet_passages": len(cosines.passages),
            "mpnet_seconds": cosines.seconds,
            "load_avg_after": load_avg(),
        },
    )


if __name__ == "__main__":
    main()
