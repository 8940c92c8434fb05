"""Retrieval prototypes, measured on the eval's datasets before any of them moves into the engine.

    python bench/experiments.py --dataset llamaindex:../shared/eval/blockchain_solana --strategies nfuse,afuse,prf \
        --cache-dir /tmp/evalcache

Each idea is a plain function over `list[Hit]` (best first) so `rag/search/` can adopt it as a stage:

    fuse_normalized(dense, bm25, w)    min-max normalised score fusion with BM25 weight w
    adaptive_bm25_weight(dense, bm25)  a per-query w from how sharply each retriever's top result stands out
    expand_query(query, hits)          pseudo-relevance feedback: the query plus distinctive words of the top hits
    rerank_by_sentences(...)           offline re-ranker: best sentence cosine + chunk cosine + query-word coverage
    document_prior(hits, w)            blend each passage's score with its document's evidence (mean of its top 3)

`strategies(embedder)` turns them into named search strategies (index, query, depth) -> hits for the eval's runner
(`rag.evaluate.runner.RunConfig`), printed beside the engine's own rows. Not part of the product.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rag.evaluate.index import SearchIndex  # noqa: E402
from rag.search import fusion  # noqa: E402
from rag.types import Hit  # noqa: E402

Strategy = Callable[[SearchIndex, str, int], list[Hit]]

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])|\n+")
# Words that carry no topic; kept short on purpose: BM25's idf already discounts the rest.
STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have", "how", "in", "is", "it", "its", "of", "on", "or", "that", "the", "their", "this", "to", "was", "were", "what", "when", "where", "which", "who", "why", "will", "with"]
)  # fmt: skip


def words(text: str) -> list[str]:
    """Lower-cased content words of `text` (stopwords removed)."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def fuse_normalized(dense: Sequence[Hit], bm25: Sequence[Hit], bm25_weight: float) -> list[Hit]:
    """Return the union ranked by (1-w)·dense + w·bm25 normalised scores (the engine's fusion, labelled "fused")."""
    fused = fusion.fuse_normalized([list(dense), list(bm25)], [1 - bm25_weight, bm25_weight])
    return [replace(h, method="fused") for h in fused]


def _standout(hits: Sequence[Hit], top: int = 20) -> float:
    """How far the best score leads the runner-up, as a share of the top `top` scores' range (0 if < 3 hits).

    Example: 30, 5, 4, 3 → 25 / 27 = 0.93 (a clear winner); 0.50, 0.49, 0.48, 0.47 → 0.01 / 0.03 = 0.33.
    """
    scores = [h.score for h in hits[:top]]
    if len(scores) < 3 or scores[0] == scores[-1]:
        return 0.0
    return (scores[0] - scores[1]) / (scores[0] - scores[-1])


def adaptive_bm25_weight(dense: Sequence[Hit], bm25: Sequence[Hit], low: float = 0.3, high: float = 0.7) -> float:
    """BM25's share for this query, in [low, high]: the retriever whose top hit stands out more gets more weight.

    A rare exact term (a name, a number) makes BM25's first hit tower over the rest; a paraphrased question
    gives BM25 a flat list while the dense ranking still has a clear winner.
    """
    d, b = _standout(dense), _standout(bm25)
    if d + b <= 0:
        return (low + high) / 2
    return low + (high - low) * b / (d + b)


def expand_query(query: str, hits: Sequence[Hit], feedback: int = 3, terms: int = 5) -> str:
    """The query plus up to `terms` words frequent in the top `feedback` hits and rare in the rest (RM3-like)."""
    if len(hits) <= feedback:
        return query
    top = Counter(w for h in hits[:feedback] for w in set(words(h.chunk.text)))
    rest = Counter(w for h in hits[feedback:] for w in set(words(h.chunk.text)))
    background = len(hits) - feedback
    known = set(words(query))

    def weight(word: str) -> float:
        # in how many feedback chunks × how rare among the other candidates (idf over the candidate pool)
        return top[word] * math.log((background + 1) / (rest[word] + 0.5))

    chosen = [w for w in sorted(top, key=lambda w: (-weight(w), w)) if w not in known and len(w) > 2 and top[w] > 1]
    return " ".join([query, *chosen[:terms]])


def coverage(query: str, text: str) -> float:
    """Share of the query's distinct content words that occur in `text` (0 when the query has none)."""
    wanted = set(words(query))
    return len(wanted & set(words(text))) / len(wanted) if wanted else 0.0


def rerank_by_sentences(
    query: str, hits: Sequence[Hit], encode: Callable[[list[str]], np.ndarray], top: int = 20
) -> list[Hit]:
    """Re-order the first `top` hits by 0.5·best sentence cosine + 0.3·chunk cosine + 0.2·query-word coverage.

    A chunk embedding blurs several topics; the best single sentence says whether the passage really answers.
    Hits after `top` keep their order below the re-ranked ones.
    """
    head = list(hits[:top])
    if not head:
        return list(hits)
    sentences = [[s for s in _SENTENCE.split(h.chunk.text) if len(s.split()) >= 3] or [h.chunk.text] for h in head]
    flat = [s for group in sentences for s in group]
    vectors = encode([query, *(h.chunk.text for h in head), *flat])
    q, chunk_vecs, sent_vecs = vectors[0], vectors[1 : 1 + len(head)], vectors[1 + len(head) :]
    sims, position = sent_vecs @ q, 0
    scored = []
    for i, (hit, group) in enumerate(zip(head, sentences, strict=True)):
        best = float(sims[position : position + len(group)].max())
        position += len(group)
        value = 0.5 * best + 0.3 * float(chunk_vecs[i] @ q) + 0.2 * coverage(query, hit.chunk.text)
        scored.append(replace(hit, score=value, method="rerank"))
    scored.sort(key=lambda h: -h.score)
    return scored + list(hits[top:])


def document_prior(hits: Sequence[Hit], weight: float, top: int = 3) -> list[Hit]:
    """Re-rank by (1-w)·passage score + w·document evidence, both min-max scaled over `hits`.

    A document's evidence is the mean of its `top` best passage scores (missing ones count 0), so a file with
    several good passages (the filing of the company the question names) lifts its passages above a lone
    look-alike passage of another file. Example: scores A1 .9, B1 .8, B2 .7, B3 .6 → evidence A .3, B .7.
    """
    if len(hits) < 2:
        return list(hits)
    low, high = min(h.score for h in hits), max(h.score for h in hits)
    span = (high - low) or 1.0
    scaled = [(h.score - low) / span for h in hits]
    per_doc: dict[str, list[float]] = {}
    for hit, value in zip(hits, scaled, strict=True):
        per_doc.setdefault(hit.chunk.doc_id, []).append(value)
    evidence = {doc: sum(sorted(v, reverse=True)[:top]) / top for doc, v in per_doc.items()}
    best = max(evidence.values()) or 1.0
    rescored = [
        replace(h, score=(1 - weight) * v + weight * evidence[h.chunk.doc_id] / best, method="docprior")
        for h, v in zip(hits, scaled, strict=True)
    ]
    return sorted(rescored, key=lambda h: -h.score)


def _pool(depth: int) -> int:
    # fusion needs each retriever's list deeper than the cutoff, or chunks ranked just below it never compete
    return max(depth, 50)


def strategies(encode: Callable[[list[str]], np.ndarray]) -> dict[str, Strategy]:
    """Named search strategies built from the functions above; `encode` is the index's embedder."""
    from rag.search.fusion import fuse_rrf as fuse

    def both(index: SearchIndex, query: str, depth: int) -> tuple[list[Hit], list[Hit]]:
        pool = _pool(depth)
        return index.search(query, k=pool, mode="dense"), index.search(query, k=pool, mode="bm25")

    def nfuse_at(weight: float) -> Strategy:
        def nfuse(index: SearchIndex, query: str, depth: int) -> list[Hit]:
            return fuse_normalized(*both(index, query, depth), weight)[:depth]

        return nfuse

    def afuse(index: SearchIndex, query: str, depth: int) -> list[Hit]:
        dense, bm25 = both(index, query, depth)
        return fuse_normalized(dense, bm25, adaptive_bm25_weight(dense, bm25))[:depth]

    def prf(index: SearchIndex, query: str, depth: int) -> list[Hit]:
        dense, bm25 = both(index, query, depth)
        expanded = index.search(expand_query(query, bm25), k=_pool(depth), mode="bm25")
        return fuse([dense, expanded])[:depth]

    def rerank(index: SearchIndex, query: str, depth: int) -> list[Hit]:
        return rerank_by_sentences(query, index.search(query, k=max(depth, 20), mode="hybrid"), encode)[:depth]

    def afuse_rerank(index: SearchIndex, query: str, depth: int) -> list[Hit]:
        return rerank_by_sentences(query, afuse(index, query, max(depth, 20)), encode)[:depth]

    def doc_at(weight: float) -> Strategy:
        def doc(index: SearchIndex, query: str, depth: int) -> list[Hit]:
            return document_prior(index.search(query, k=max(_pool(depth), 100), mode="hybrid"), weight)[:depth]

        return doc

    fixed = {f"nfuse{round(w * 100)}": nfuse_at(w) for w in (0.3, 0.7)}
    fixed |= {f"doc{round(w * 100)}": doc_at(w) for w in (0.2, 0.35, 0.5)}
    return {"nfuse": nfuse_at(0.5), **fixed, "afuse": afuse, "prf": prf, "rerank": rerank, "afuse+rerank": afuse_rerank}


def main(argv: list[str] | None = None) -> int:
    """Evaluate the named strategies beside the engine's rows on each --dataset; print the Markdown report."""
    from rag.config import Settings
    from rag.embedding import load_embedder
    from rag.evaluate.datasets import read_dataset
    from rag.evaluate.report import to_markdown
    from rag.evaluate.runner import RunConfig, evaluate, parse_configs
    from rag.library import Library

    parser = argparse.ArgumentParser(description="Retrieval prototypes beside the engine's rows.")
    parser.add_argument("--dataset", action="append", required=True, metavar="KIND:PATH")
    parser.add_argument("--strategies", default="nfuse,afuse,prf", help="comma-separated names of strategies()")
    parser.add_argument("--mode", default="dense,bm25,default", help="the engine's rows to print beside them")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--cache-dir", type=Path)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    embedder = load_embedder(settings)
    known = strategies(embedder.encode)
    configs = parse_configs(args.mode) + [RunConfig(n, "hybrid", known[n]) for n in args.strategies.split(",") if n]
    for spec in args.dataset:
        evalset = read_dataset(spec, None, args.limit)
        result = evaluate(evalset, settings, configs, (5, 10), lambda s: Library.open(s, embedder), embedder.name,
                          args.cache_dir)  # fmt: skip
        sys.stdout.write(to_markdown([result]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
