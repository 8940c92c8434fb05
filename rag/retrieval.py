"""Search: dense (FAISS cosine), keyword (BM25) or both fused → `list[Hit]`, then optional later stages.

Every stage takes and returns `list[Hit]`, best first:

    candidates = gather(query, sources, options)        # dense / bm25 / hybrid, filtered per retriever;
                                                         # with expansion="prf": RM3 terms for BM25, Rocchio for dense
    candidates = second_hop(query, candidates, ...)      # multi_hop: search again with terms of the top passage
    candidates = rerank(query, candidates, ...)          # reranker="embed" or a CrossEncoder (rag/rerank.py)
    candidates = diversify(query, candidates, ...)       # MMR when mmr_lambda < 1
    hits = candidates[: options.k]

Hybrid fusion is min-max normalised score fusion by default ("normalized": (1-w)·dense + w·bm25, each scaled
to 0..1 over its own candidate list), which beat reciprocal rank fusion ("rrf") on every dev set measured in
docs/retrieval-quality.md. Fused and re-ranked scores are not cosines: compare them only with each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .config import Settings
from .embedding import Embedder
from .errors import ConfigError
from .lexical import Bm25Index
from .store import Store
from .types import Hit

MODES = ("dense", "bm25", "hybrid")
FUSIONS = ("normalized", "rrf")
EXPANSIONS = ("none", "prf")
RRF_C = 60  # the constant from Cormack et al. (2009); dampens the weight of the very top ranks


@dataclass(frozen=True)
class RetrievalOptions:
    """How to search. `documents` holds doc_ids to search within (None = every document).

    `reranker` is "none", "embed" (offline, see rag/rerank.py) or a CrossEncoder path / hub id.
    """

    mode: str = "hybrid"
    k: int = 5
    candidates: int = 100  # per retriever, before fusion / re-ranking / MMR
    documents: tuple[str, ...] | None = None
    mmr_lambda: float = 1.0  # 1.0 = pure relevance; lower trades relevance for variety
    fusion: str = "normalized"
    bm25_weight: float = 0.5  # BM25's share in normalised fusion
    reranker: str = "none"
    rerank_depth: int = 20  # how many of the best candidates the re-ranker re-orders
    expansion: str = "none"
    multi_hop: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"retrieval mode {self.mode!r} is unknown; use one of {', '.join(MODES)}")
        if self.k < 1 or self.candidates < 1 or self.rerank_depth < 1:
            raise ConfigError(
                f"k={self.k}, candidates={self.candidates} and rerank_depth={self.rerank_depth} must be at least 1"
            )
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise ConfigError(f"mmr_lambda={self.mmr_lambda} must be between 0 and 1")
        if self.fusion not in FUSIONS or not 0.0 <= self.bm25_weight <= 1.0:
            raise ConfigError(
                f"fusion={self.fusion!r} / bm25_weight={self.bm25_weight}: use one of {', '.join(FUSIONS)} "
                "and a weight between 0 and 1"
            )
        if self.expansion not in EXPANSIONS:
            raise ConfigError(f"expansion {self.expansion!r} is unknown (RAG_EXPANSION); use one of {EXPANSIONS}")
        if not self.reranker.strip():
            raise ConfigError("reranker is empty (RAG_RERANKER); use none, embed or a CrossEncoder path")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> RetrievalOptions:
        """Return options from `settings` (retrieval, top_k, candidates, mmr_lambda, reranker, expansion,
        multi_hop) with `overrides` applied."""
        base = cls(
            mode=settings.retrieval,
            k=settings.top_k,
            candidates=settings.candidates,
            mmr_lambda=settings.mmr_lambda,
            reranker=settings.reranker,
            expansion=settings.expansion,
            multi_hop=settings.multi_hop,
            fusion=settings.fusion,
            bm25_weight=settings.bm25_weight,
        )
        return replace(base, **overrides)


@dataclass(frozen=True)
class Sources:
    """What a search reads: the store (vectors + chunks), the BM25 index and the embedder for the query."""

    store: Store
    bm25: Bm25Index
    embedder: Embedder


@dataclass(frozen=True)
class Query:
    """The question's text and, when a stage needs it, its unit vector (embedded once per search)."""

    text: str
    vector: np.ndarray | None


def retrieve(query: str, sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return the top `options.k` hits for `query`, best first, after every stage `options` turns on."""
    from .expansion import second_hop
    from .rerank import rerank

    needs_vector = options.mode != "bm25" or options.mmr_lambda < 1.0 or options.reranker != "none"
    q = Query(query, sources.embedder.encode([query])[0] if needs_vector else None)
    candidates = gather(q, sources, options)
    if options.multi_hop and candidates:
        candidates = second_hop(q, candidates, sources, options)
    if options.reranker != "none" and len(candidates) > 1:
        candidates = rerank(q, candidates, sources, options)
    if options.mmr_lambda < 1.0 and len(candidates) > 1:
        candidates = diversify(q, candidates, sources, options)
    return candidates[: options.k]


def gather(query: Query, sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return up to `options.candidates` hits from the retriever(s) that `options.mode` names.

    With expansion="prf" each retriever runs twice: once as asked, then with feedback from its own top hits.
    """
    from .expansion import expand_bm25_query, expand_dense_vector

    wanted = max(options.candidates, options.k)
    dense: list[Hit] = []
    bm25: list[Hit] = []
    if options.mode in ("dense", "hybrid") and query.vector is not None:
        dense = sources.store.dense_search(query.vector, wanted, options.documents)
        if options.expansion == "prf" and dense:
            vector = expand_dense_vector(query.vector, sources.store.vectors_of([h.chunk.chunk_id for h in dense]))
            dense = sources.store.dense_search(vector, wanted, options.documents)
    if options.mode in ("bm25", "hybrid"):
        bm25 = sources.bm25.search(query.text, wanted, options.documents)
        if options.expansion == "prf" and bm25:
            bm25 = sources.bm25.search(expand_bm25_query(query.text, bm25), wanted, options.documents)
    if options.mode == "dense":
        return dense
    if options.mode == "bm25":
        return bm25
    return combine(dense, bm25, options)[:wanted]


def combine(dense: list[Hit], bm25: list[Hit], options: RetrievalOptions) -> list[Hit]:
    """Return dense and BM25 hits fused as `options.fusion` says."""
    if options.fusion == "rrf":
        return fuse([dense, bm25])
    return fuse_normalized([dense, bm25], [1.0 - options.bm25_weight, options.bm25_weight])


def fuse(rankings: Sequence[list[Hit]], c: int = RRF_C) -> list[Hit]:
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


def diversify(query: Query, hits: list[Hit], sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return the first `options.k` hits re-ordered by maximal marginal relevance, then the rest unchanged."""
    vector = query.vector if query.vector is not None else sources.embedder.encode([query.text])[0]
    vectors = sources.store.vectors_of([h.chunk.chunk_id for h in hits])
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
