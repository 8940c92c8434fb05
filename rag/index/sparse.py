"""BM25 as sparse vectors, for the Qdrant backends: our own tokens in, Qdrant's IDF out.

A passage becomes {term id: BM25 term-frequency weight} and a query {term id: count}; the collection's sparse
vector has Qdrant's IDF modifier, so the engine multiplies in idf = ln(1 + (N - n + 0.5) / (n + 0.5)) from its
own live counts. The score is then Lucene's BM25, as bm25s computes it for the local backend, with one
difference: the length norm uses a fixed average length (AVERAGE_TOKENS) instead of the corpus's, so a passage's
vector never changes when others are added; our passages are size-bounded, so their lengths stay near it.
Tokens are the local backend's (`rag.index.lexical.tokenize`: English stopwords, Snowball stemming), so both
backends match the same words, and every Qdrant engine (embedded, server, the client's local mode) scores
them the same way, unlike a server text index, which the client's local mode cannot tokenise like the server.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass

from rag.index.lexical import tokenize

K1 = 1.5  # bm25s's defaults (Lucene's scoring)
B = 0.75
# Stemmed tokens per passage at the default 240-token chunks (sample library, solana, COVID-QA, SEC: 91-102).
AVERAGE_TOKENS = 100.0


@dataclass(frozen=True)
class SparseTerms:
    """Term ids (crc32 of the stemmed token) and their weights, ids ascending and unique."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __bool__(self) -> bool:
        return bool(self.indices)


def term_id(token: str) -> int:
    """A stable 32-bit id for a token (Qdrant's sparse indices are u32); collisions are ~1 in 40k for 100k terms."""
    return zlib.crc32(token.encode("utf-8"))


def passage_terms(texts: list[str]) -> list[SparseTerms]:
    """BM25 term-frequency weights of each indexed passage (header + text)."""
    return [_weights(Counter(tokens), len(tokens)) for tokens in tokenize(texts)]


def query_terms(query: str) -> SparseTerms:
    """The query's terms, each weighted by how often it occurs (as bm25s sums a repeated query word)."""
    counts = Counter(term_id(token) for token in tokenize([query])[0])
    ids = sorted(counts)
    return SparseTerms(tuple(ids), tuple(float(counts[i]) for i in ids))


def _weights(counts: Counter[str], length: int) -> SparseTerms:
    norm = K1 * (1 - B + B * length / AVERAGE_TOKENS)
    by_id: dict[int, float] = {}
    for token, tf in counts.items():
        key = term_id(token)
        by_id[key] = by_id.get(key, 0.0) + tf * (K1 + 1) / (tf + norm)  # a collision adds up, never overwrites
    ids = sorted(by_id)
    return SparseTerms(tuple(ids), tuple(by_id[i] for i in ids))
