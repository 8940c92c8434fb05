"""What a search is asked to do (`RetrievalOptions`), what it reads (`Sources`) and the query it runs (`Query`).

Every stage of `rag.search` takes these and returns `list[Hit]`, best first. The retrieval modes, fusions and
expansions are defined once, with the settings that choose them (`rag.config.MODES`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rag.config import DEFAULT_BM25_WEIGHT, EXPANSIONS, FUSIONS, MODES, Expansion, Fusion, Mode, Settings
from rag.errors import ConfigError, QueryError

if TYPE_CHECKING:  # the seams' types, without importing numpy, the index or the embedder here
    import numpy as np

    from rag.embedding import Embedder
    from rag.index.contract import Index

__all__ = ["EXPANSIONS", "FUSIONS", "MODES", "Query", "RetrievalOptions", "Sources", "check_query"]


@dataclass(frozen=True)
class RetrievalOptions:
    """How to search. `documents` holds doc_ids to search within (None = every document).

    `reranker` is "none", "embed" (offline, see rag/search/rerank.py), "all-mpnet-base-v2" (the embed score blended
    with mpnet's cosine, opt-in wheels) or a CrossEncoder path / hub id.
    """

    mode: Mode = "hybrid"
    k: int = 5
    candidates: int = 100  # per retriever, before fusion / re-ranking / MMR
    documents: tuple[str, ...] | None = None
    mmr_lambda: float = 1.0  # 1.0 = pure relevance; lower trades relevance for variety
    fusion: Fusion = "normalized"
    bm25_weight: float = DEFAULT_BM25_WEIGHT  # BM25's share in normalised fusion
    reranker: str = "none"
    rerank_depth: int = 20  # how many of the best candidates the re-ranker re-orders
    expansion: Expansion = "none"
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
            raise ConfigError("reranker is empty (RAG_RERANKER); use none, embed, all-mpnet-base-v2 or a CrossEncoder path")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> RetrievalOptions:
        """Return options from `settings` (retrieval, top_k, candidates, mmr_lambda, reranker, expansion,
        multi_hop, fusion, bm25_weight) with `overrides` applied.

        A BM25 weight of "auto" (None) is the library's own (`Library.options` passes it in); without one, the default.
        """
        base = cls(
            mode=settings.retrieval,
            k=settings.top_k,
            candidates=settings.candidates,
            mmr_lambda=settings.mmr_lambda,
            reranker=settings.reranker,
            expansion=settings.expansion,
            multi_hop=settings.multi_hop,
            fusion=settings.fusion,
            bm25_weight=DEFAULT_BM25_WEIGHT if settings.bm25_weight is None else settings.bm25_weight,
        )
        return replace(base, **overrides)

    def describe(self, fusion: str) -> str:
        """How these options find passages, in one line for people; `fusion` says where the BM25 weight comes from."""
        how = {"dense": "dense (embedding) search", "bm25": "keyword (BM25) search"}.get(self.mode, "")
        if self.mode == "hybrid":
            how = f"dense + keyword (BM25) search, fused by {self.fusion} scores ({fusion})"
        if self.expansion != "none" or self.multi_hop:
            how += ", with query expansion" if self.expansion != "none" else ", with a second hop"
        if self.reranker != "none":
            how += f", then the best {self.rerank_depth} re-ranked ({self.reranker})"
        return how

    @property
    def needs_vector(self) -> bool:
        """Whether a stage reads the query's vector (dense search, the re-ranker or MMR)."""
        return self.mode != "bm25" or self.mmr_lambda < 1.0 or self.reranker != "none"


@dataclass(frozen=True)
class Sources:
    """What a search reads: an index (see `rag.index.contract.Index`) and the embedder for the query."""

    index: Index
    embedder: Embedder


@dataclass(frozen=True)
class Query:
    """The question's text and, when a stage needs it, its unit vector (embedded once per search)."""

    text: str
    vector: np.ndarray | None


def check_query(query: str, max_chars: int) -> str:
    """Return the stripped query, or raise QueryError when it is empty or longer than `max_chars`.

    The one check every entry point makes (Library.search, answer, the eval tool), so they refuse alike.
    """
    text = (query or "").strip()
    if not text:
        raise QueryError("the question is empty; type what you want to find in your documents")
    if len(text) > max_chars:
        raise QueryError(
            f"the question is {len(text)} characters long; the limit is {max_chars} (RAG_MAX_QUERY_CHARS). Shorten it"
        )
    return text
