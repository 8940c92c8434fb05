"""Query expansion from the search's own results: pseudo-relevance feedback and a second hop.

    expand_bm25_query(query, bm25_hits)         RM3-like: the query plus words typical of the top hits
    expand_dense_vector(query_vector, vectors)  Rocchio: the query vector pulled towards the top hits
    second_hop(query, hits, embedder, search, options)   multi-hop: search again with words of the top passage

A word is "typical" when it occurs in the feedback passages and is rare among the other candidates (an idf
over the candidate pool), so boilerplate shared by every candidate is never added. Words are compared as the
BM25 tokenizer sees them (lower-cased, stemmed, no stopwords), but added to the query as written.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from rag.embedding import Embedder
from rag.index.lexical import tokenize
from rag.search.fusion import fuse_rrf
from rag.search.options import Query, RetrievalOptions
from rag.text import words
from rag.types import Hit

PRF_DOCS = 3  # feedback passages for PRF
PRF_TERMS = 5  # words added by PRF
HOP_TERMS = 5  # words of the top passage carried into the second hop
ROCCHIO_BETA = 0.5  # weight of the feedback centroid against the query vector (1.0)


def _stems(written: Sequence[str]) -> dict[str, str]:
    """Return word → its BM25 stem, leaving out stopwords and words without letters."""
    unique = list(dict.fromkeys(w.lower() for w in written))
    tokens = tokenize(unique) if unique else []
    return {w: t[0] for w, t in zip(unique, tokens, strict=True) if len(t) == 1 and any(c.isalpha() for c in w)}


def feedback_terms(query: str, feedback: Sequence[Hit], rest: Sequence[Hit], n: int, min_docs: int = 1) -> list[str]:
    """Return up to `n` words of the `feedback` passages that the query lacks, best first.

    weight(stem) = Σ over feedback passages of tf / length × log((|rest| + 1) / (df in rest + 0.5)):
    frequent in the feedback, rare in the other candidates. A stem must occur in `min_docs` feedback passages.
    Example: feedback "Quuxcorp makes the Zorblat", query "Zorblat" → ["Quuxcorp", "makes"] (both once).
    """
    found = [words(h.chunk.text) for h in feedback]
    stems = _stems([w for passage in found for w in passage] + words(query))
    known = {stems[w.lower()] for w in words(query) if w.lower() in stems}
    surface: dict[str, str] = {}
    weight: Counter[str] = Counter()
    docs: Counter[str] = Counter()
    for passage in found:
        mine = [stems[w.lower()] for w in passage if w.lower() in stems]
        for stem, count in Counter(mine).items():
            weight[stem] += count / max(len(mine), 1)
            docs[stem] += 1
        for w in passage:
            surface.setdefault(stems.get(w.lower(), ""), w)
    rest_tokens = tokenize([h.chunk.text for h in rest]) if rest else []
    background = Counter(s for tokens in rest_tokens for s in set(tokens))
    scored = {
        s: w * math.log((len(rest) + 1) / (background[s] + 0.5))
        for s, w in weight.items()
        if s not in known and docs[s] >= min_docs and len(s) > 2
    }
    best = sorted(scored, key=lambda s: (-scored[s], s))[:n]
    return [surface[s] for s in best if scored[s] > 0]


def expand_bm25_query(query: str, hits: Sequence[Hit], docs: int = PRF_DOCS, terms: int = PRF_TERMS) -> str:
    """Return the query followed by up to `terms` words typical of its top `docs` BM25 hits (RM3-like).

    A word must occur in at least two feedback passages, so one off-topic passage cannot steer the query.
    """
    if len(hits) <= docs:
        return query
    added = feedback_terms(query, hits[:docs], hits[docs:], terms, min_docs=min(2, docs))
    return " ".join([query, *added])


def expand_dense_vector(query: np.ndarray, vectors: np.ndarray, docs: int = PRF_DOCS) -> np.ndarray:
    """Return the unit vector of query + β · mean(top `docs` passage vectors) (Rocchio, no negatives)."""
    if len(vectors) == 0:
        return query
    moved = query + ROCCHIO_BETA * vectors[:docs].mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return (moved / norm).astype(np.float32) if norm > 0 else query


def second_hop(
    query: Query,
    hits: list[Hit],
    embedder: Embedder,
    search: Callable[[Query], list[Hit]],
    options: RetrievalOptions,
) -> list[Hit]:
    """Return `hits` merged (reciprocal rank fusion) with `search` for the query plus words of the top passage.

    For questions that need two passages: the first names what the second is about ("the Zorblat is made by
    Quuxcorp" → search "… Quuxcorp"). The first round's best hit usually stays first: it tops both lists.
    `search` runs the first stage again (the caller's retrievers, without expansion or another hop).
    """
    added = feedback_terms(query.text, hits[:1], hits[1:], HOP_TERMS)
    if not added:
        return hits
    text = " ".join([query.text, *added])
    vector = embedder.encode([text])[0] if query.vector is not None else None
    again = search(Query(text, vector))
    # the second hop's list goes first, so an RRF tie (its 2nd vs the first round's 2nd) goes to the hop
    merged = fuse_rrf([again, hits])[: max(options.candidates, options.k)]
    return [replace(h, method="multi_hop") for h in merged]
