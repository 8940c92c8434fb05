"""Search: dense (cosine), keyword (BM25) or both fused → `list[Hit]`, then optional later stages.

Every stage takes and returns `list[Hit]`, best first:

    candidates = gather(query, sources, options)        # dense / bm25 / hybrid, filtered per retriever;
                                                         # with expansion="prf": RM3 terms for BM25, Rocchio for dense
    candidates = second_hop(query, candidates, ...)      # multi_hop: search again with terms of the top passage
    candidates = rerank(query, candidates, ...)          # reranker="embed" or a CrossEncoder (rerank.py)
    candidates = diversify(query, candidates, ...)       # MMR when mmr_lambda < 1
    hits = candidates[: options.k]

Fused and re-ranked scores are not cosines: compare them only with each other.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rag.search.expansion import expand_bm25_query, expand_dense_vector, second_hop
from rag.search.fusion import combine
from rag.search.options import Query, RetrievalOptions, Sources
from rag.search.rerank import rerank
from rag.types import Hit


def retrieve(query: str, sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return the top `options.k` hits for `query`, best first, after every stage `options` turns on."""
    q = Query(query, sources.embedder.encode([query])[0] if options.needs_vector else None)
    candidates = gather(q, sources, options)
    if options.multi_hop and candidates:
        flat = replace(options, expansion="none", multi_hop=False)
        candidates = second_hop(q, candidates, sources.embedder, lambda again: gather(again, sources, flat), options)
    if options.reranker != "none" and len(candidates) > 1:
        candidates = rerank(q, candidates, sources, options)
    if options.mmr_lambda < 1.0 and len(candidates) > 1:
        candidates = diversify(q, candidates, sources, options)
    return candidates[: options.k]


def gather(query: Query, sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return the hits of the retriever(s) that `options.mode` names: `options.candidates` from each, fused.

    With expansion="prf" each retriever runs twice: once as asked, then with feedback from its own top hits.
    The candidate depth, not `k`, sets how much each retriever contributes: min-max fusion scales each list by
    its own lowest score, so a deeper list would change the fused order, and asking for more passages must not
    change which come first.
    """
    wanted = options.candidates
    index = sources.index
    dense: list[Hit] = []
    bm25: list[Hit] = []
    if options.mode in ("dense", "hybrid") and query.vector is not None:
        dense = index.dense_search(query.vector, wanted, options.documents)
        if options.expansion == "prf" and dense:
            vector = expand_dense_vector(query.vector, index.vectors_of([h.chunk.chunk_id for h in dense]))
            dense = index.dense_search(vector, wanted, options.documents)
    if options.mode in ("bm25", "hybrid"):
        bm25 = index.keyword_search(query.text, wanted, options.documents)
        if options.expansion == "prf" and bm25:
            bm25 = index.keyword_search(expand_bm25_query(query.text, bm25), wanted, options.documents)
    if options.mode == "dense":
        return dense
    if options.mode == "bm25":
        return bm25
    return combine(dense, bm25, options)


def diversify(query: Query, hits: list[Hit], sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return the first `options.k` hits re-ordered by maximal marginal relevance, then the rest unchanged."""
    vector = query.vector if query.vector is not None else sources.embedder.encode([query.text])[0]
    vectors = sources.index.vectors_of([h.chunk.chunk_id for h in hits])
    order = mmr_order(vector, vectors, options.mmr_lambda, options.k)
    chosen = set(order)
    return [hits[i] for i in order] + [h for i, h in enumerate(hits) if i not in chosen]


def mmr_order(query: np.ndarray, vectors: np.ndarray, lam: float, k: int) -> list[int]:
    """Return up to `k` row indices of `vectors` picked greedily by λ·sim(query) − (1−λ)·max sim(picked)."""
    relevance = vectors @ query
    similarity = vectors @ vectors.T
    picked: list[int] = []
    remaining = list(range(len(vectors)))
    while remaining and len(picked) < k:
        redundancy = similarity[np.ix_(remaining, picked)].max(axis=1) if picked else np.zeros(len(remaining))
        gains = lam * relevance[remaining] - (1.0 - lam) * redundancy
        best = remaining[int(np.argmax(gains))]
        picked.append(best)
        remaining.remove(best)
    return picked
