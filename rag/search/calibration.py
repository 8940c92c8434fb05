"""The BM25 weight a library's own passages ask for, found without labels: pseudo-queries with known targets.

    found = calibrate(index, embedder)          # Calibration(weight=0.3, ...), a few seconds per library

No single fusion weight suits every library: filings that share their whole vocabulary want little BM25, papers
answered in their own words want more (docs/retrieval-quality.md, "Fusion per library"). So the library is
asked: pseudo-queries are cut from its own passages (see `pseudo_queries`), each searched once by each retriever,
and the weight whose fused ranking puts the source passage highest on average (MRR@10) wins, ties going to
the weight nearest the middle.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rag.embedding import Embedder
from rag.index.contract import Index
from rag.index.lexical import tokenize
from rag.search.fusion import fuse_normalized
from rag.text import sentence_spans, words
from rag.types import Chunk, Hit

WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
QUERIES = 96  # pseudo-queries per calibration: a few seconds, and the weight's MRR moves < 0.01 beyond this
DEPTH = 50  # candidates per retriever in calibration
SEED = 0  # the same library always gets the same pseudo-queries, so the same weight


@dataclass(frozen=True)
class PseudoQuery:
    text: str
    target: Chunk


@dataclass(frozen=True)
class Calibration:
    """The chosen weight, and the pseudo-queries' MRR@10 at each weight tried (to show why)."""

    weight: float
    scores: tuple[tuple[float, float], ...]
    queries: int


def calibrate(
    index: Index, embedder: Embedder, chunks: Sequence[Chunk], recipe: str = "sentence", n: int = QUERIES
) -> Calibration | None:
    """Return the weight `chunks` (a sample of the library's passages) ask for, or None when too few pseudo-queries
    can be made from them."""
    queries = pseudo_queries(chunks, recipe, n)
    if len(queries) < n // 4:
        return None
    vectors = embedder.encode([q.text for q in queries])
    totals = dict.fromkeys(WEIGHTS, 0.0)
    for query, vector in zip(queries, vectors, strict=True):
        dense = index.dense_search(vector, DEPTH)
        bm25 = index.keyword_search(query.text, DEPTH)
        for weight in WEIGHTS:
            totals[weight] += reciprocal_rank(fuse_normalized([dense, bm25], [1 - weight, weight]), query.target)
    scores = tuple((w, totals[w] / len(queries)) for w in WEIGHTS)
    best = max(scores, key=lambda ws: (round(ws[1], 3), -abs(ws[0] - 0.5)))[0]
    return Calibration(best, scores, len(queries))


def sample_chunks(index: Index, n: int = 4 * QUERIES) -> list[Chunk]:
    """Up to `n` passages drawn from the whole library: documents picked at random, then passages within them."""
    rng = random.Random(SEED)
    documents = index.documents()
    rng.shuffle(documents)
    picked: list[Chunk] = []
    per_document = max(1, n // max(len(documents), 1))
    for info in documents:
        chunks = index.neighbours(info.doc_id, 0, info.chunks)
        picked += rng.sample(chunks, min(per_document, len(chunks)))
        if len(picked) >= n:
            break
    return picked[:n]


def reciprocal_rank(hits: Sequence[Hit], target: Chunk, depth: int = 10) -> float:
    for rank, hit in enumerate(hits[:depth], start=1):
        if hit.chunk.chunk_id == target.chunk_id:
            return 1.0 / rank
    return 0.0


def pseudo_queries(chunks: Sequence[Chunk], recipe: str, n: int) -> list[PseudoQuery]:
    """Up to `n` queries cut from the passages, each with the passage it came from.

    "sentence": one sentence of 8+ words, as written. "common": the same sentence without its rarest third of
    words (rare in the sample) — a question shares a passage's topic words, rarely its exact figures and names.
    """
    rng = random.Random(SEED)
    pool = [c for c in chunks if len(c.text.split()) >= 20]
    rng.shuffle(pool)
    df = Counter(t for c in pool for t in set(tokenize([c.text])[0])) if recipe == "common" else Counter()
    out: list[PseudoQuery] = []
    for chunk in pool:
        sentences = [s.text for s in sentence_spans(chunk.text) if 8 <= len(s.text.split()) <= 40]
        if not sentences:
            continue
        text = rng.choice(sentences)
        if recipe == "common":
            text = _without_rare_words(text, df, len(pool))
        if len(text.split()) >= 4:
            out.append(PseudoQuery(text, chunk))
        if len(out) == n:
            break
    return out


def _without_rare_words(sentence: str, df: Counter[str], docs: int) -> str:
    """The sentence's words without the rarest third of them (by document frequency in the sample)."""
    written = words(sentence)
    stems = [(w, tokenize([w])[0]) for w in written]
    rarity = {w: math.log((docs + 1) / (df[s[0]] + 0.5)) if s else 0.0 for w, s in stems}
    ranked = sorted({w for w, s in stems if s}, key=lambda w: -rarity[w])
    dropped = set(ranked[: len(ranked) // 3])
    return " ".join(w for w in written if w not in dropped)
