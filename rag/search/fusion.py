"""Fusing ranked lists: min-max normalised score fusion (the default) and reciprocal rank fusion.

Hybrid fusion is min-max normalised score fusion by default ("normalized": (1-w)·dense + w·bm25, each scaled
to 0..1 over its own candidate list), which beat reciprocal rank fusion ("rrf") on every dev set measured in
docs/retrieval-quality.md. Fused scores are not cosines: compare them only with each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.search.options import RetrievalOptions
from rag.types import Hit

RRF_C = 60  # the constant from Cormack et al. (2009); dampens the weight of the very top ranks


def combine(dense: list[Hit], bm25: list[Hit], options: RetrievalOptions) -> list[Hit]:
    """Return dense and BM25 hits fused as `options.fusion` says."""
    if options.fusion == "rrf":
        return fuse_rrf([dense, bm25])
    return fuse_normalized([dense, bm25], [1.0 - options.bm25_weight, options.bm25_weight])


def fuse_rrf(rankings: Sequence[list[Hit]], c: int = RRF_C) -> list[Hit]:
    """Return the reciprocal rank fusion of several rankings: score = Σ 1 / (c + rank), rank from 1.

    Example: dense [a, b], bm25 [b, c] → b (1/62 + 1/61) first, then a (1/61), then c (1/62).
    """
    scores: dict[str, float] = {}
    chunks = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.chunk.chunk_id] = scores.get(hit.chunk.chunk_id, 0.0) + 1.0 / (c + rank)
            chunks.setdefault(hit.chunk.chunk_id, hit.chunk)
    order = sorted(scores, key=lambda cid: -scores[cid])  # stable: ties keep first-seen order
    return [Hit(chunks[cid], scores[cid], "hybrid") for cid in order]


def minmax(hits: Sequence[Hit]) -> dict[str, float]:
    """Return chunk_id → score scaled to 0..1 within `hits` (all 1.0 when every score is equal)."""
    if not hits:
        return {}
    scores = [h.score for h in hits]
    low, span = min(scores), max(scores) - min(scores)
    return {h.chunk.chunk_id: (h.score - low) / span if span > 0 else 1.0 for h in hits}


def fuse_normalized(rankings: Sequence[list[Hit]], weights: Sequence[float]) -> list[Hit]:
    """Return the union ranked by Σ weight · min-max normalised score; a list missing a chunk gives it 0.

    Example: dense [a 0.9, b 0.5, c 0.1] → a 1, b 0.5, c 0; bm25 [c 12, d 6, a 0] → c 1, d 0.5, a 0;
    with weights 0.5/0.5: a 0.5, c 0.5, b 0.25, d 0.25 (ties keep first-seen order).
    Unlike RRF it keeps how far ahead a hit is: a BM25 hit that towers over the rest stays on top.
    """
    scores: dict[str, float] = {}
    chunks = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for cid, value in minmax(ranking).items():
            scores[cid] = scores.get(cid, 0.0) + weight * value
        for hit in ranking:
            chunks.setdefault(hit.chunk.chunk_id, hit.chunk)
    order = sorted(chunks, key=lambda cid: -scores[cid])
    return [Hit(chunks[cid], scores[cid], "hybrid") for cid in order]
