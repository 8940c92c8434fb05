"""Search: dense (FAISS cosine), keyword (BM25) or both fused with reciprocal rank fusion → `list[Hit]`.

Every stage takes and returns `list[Hit]`, best first, so later stages (re-ranking, query expansion,
multi-hop) slot in as further functions over that list:

    candidates = gather(query, sources, options)       # dense / bm25 / hybrid (RRF), filtered per retriever
    candidates = diversify(query, candidates, ...)      # MMR when mmr_lambda < 1
    hits = candidates[: options.k]

Hybrid scores are RRF scores (sum of 1 / (60 + rank)), not cosines: compare them only with each other.
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
RRF_C = 60  # the constant from Cormack et al. (2009); dampens the weight of the very top ranks


@dataclass(frozen=True)
class RetrievalOptions:
    """How to search. `documents` holds doc_ids to search within (None = every document)."""

    mode: str = "hybrid"
    k: int = 5
    candidates: int = 100  # per retriever, before fusion / MMR
    documents: tuple[str, ...] | None = None
    mmr_lambda: float = 1.0  # 1.0 = pure relevance; lower trades relevance for variety

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"retrieval mode {self.mode!r} is unknown; use one of {', '.join(MODES)}")
        if self.k < 1 or self.candidates < 1:
            raise ConfigError(f"k={self.k} and candidates={self.candidates} must both be at least 1")
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise ConfigError(f"mmr_lambda={self.mmr_lambda} must be between 0 and 1")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> RetrievalOptions:
        """Return options from `settings` (retrieval, top_k, candidates, mmr_lambda) with `overrides` applied."""
        base = cls(settings.retrieval, settings.top_k, settings.candidates, None, settings.mmr_lambda)
        return replace(base, **overrides)


@dataclass(frozen=True)
class Sources:
    """What a search reads: the store (vectors + chunks), the BM25 index and the embedder for the query."""

    store: Store
    bm25: Bm25Index
    embedder: Embedder


def retrieve(query: str, sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return the top `options.k` hits for `query`, best first."""
    candidates = gather(query, sources, options)
    if options.mmr_lambda < 1.0 and len(candidates) > 1:
        candidates = diversify(query, candidates, sources, options)
    return candidates[: options.k]


def gather(query: str, sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return up to `options.candidates` hits from the retriever(s) that `options.mode` names."""
    wanted = max(options.candidates, options.k)
    rankings = []
    if options.mode in ("dense", "hybrid"):
        vector = sources.embedder.encode([query])[0]
        rankings.append(sources.store.dense_search(vector, wanted, options.documents))
    if options.mode in ("bm25", "hybrid"):
        rankings.append(sources.bm25.search(query, wanted, options.documents))
    return rankings[0] if len(rankings) == 1 else fuse(rankings)[:wanted]


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


def diversify(query: str, hits: list[Hit], sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return the first `options.k` hits re-ordered by maximal marginal relevance, then the rest unchanged."""
    query_vector = sources.embedder.encode([query])[0]
    vectors = sources.store.vectors_of([h.chunk.chunk_id for h in hits])
    order = mmr_order(query_vector, vectors, options.mmr_lambda, options.k)
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
