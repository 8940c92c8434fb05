"""The BM25 weight of hybrid fusion, chosen per library from the library's own passages (no labels needed).

    found = calibrate(index, embedder, sample_chunks(index))     # FusionCalibration(weight=0.3, findability=0.52)

No one weight suits every library. On six dev sets the app's default (normalised fusion, then the re-ranker)
wants 0.4-0.7 everywhere except the SEC 10-Q filings, where it must stay at or below 0.3 to beat dense search
alone (docs/retrieval-quality.md, "Fusion per library"). What sets such a library apart can be measured without
a single question: its passages cannot be told apart by their own words. Filings, annual reports, versions of one
manual repeat the same sentences from document to document, so keyword scores there are mostly ties between
look-alike passages of the wrong document.

`findability` is that measurement: one sentence (8-40 words) is cut from each of ~96 passages drawn across the
library, searched as a query with today's fusion, and scored by the reciprocal rank of the passage it came from
(MRR@10). It was 0.48-0.52 on the SEC filings (three seeds) and 0.86-0.97 on the five other sets.
`weight_for` maps it to a weight: 0.5 at 0.8 and above, 0.3 at 0.6 and below, linear between; the bounds sit
between the two groups. Chosen on solana, SEC 10-Q, COVID-QA and SciFact; checked on Cranfield and CISI.
A calibration costs 1-2 s (96 query embeddings and searches) and is stored with the index; a search only reads it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rag.config import DEFAULT_BM25_WEIGHT as DEFAULT_WEIGHT
from rag.embedding import Embedder
from rag.errors import RagError
from rag.index.contract import Index
from rag.search.fusion import fuse_normalized
from rag.text import sentence_spans
from rag.types import Chunk, Hit

LOW_WEIGHT = 0.3  # the share for libraries whose passages cannot be told apart by their words
FINDABLE, UNFINDABLE = 0.8, 0.6  # findability above which DEFAULT_WEIGHT, below which LOW_WEIGHT applies
QUERIES = 96  # pseudo-queries per calibration: 1-2 s; three seeds moved findability by < 0.04
MIN_QUERIES = 24  # fewer usable passages than this: keep DEFAULT_WEIGHT
DEPTH = 50  # candidates per retriever in calibration
SEED = 0  # the same library always gets the same pseudo-queries, so the same weight
logger = logging.getLogger(__name__)

RECALIBRATE_GROWTH = 0.2  # measure again when the library's passages grew or shrank by this share
NOTE = "fusion"  # the index note that holds the calibration


@dataclass(frozen=True)
class FusionCalibration:
    """The BM25 weight a library got, and what it was chosen from."""

    weight: float
    findability: float  # MRR@10 of one-sentence pseudo-queries for their own passages (see the module docstring)
    queries: int
    chunks: int  # the library's passages when it was measured

    def describe(self) -> str:
        """One line for people: "BM25 weight 0.30, calibrated: …"."""
        why = "passages of different documents look alike" if self.weight < DEFAULT_WEIGHT else "passages are distinct"
        return (
            f"BM25 weight {self.weight:.2f}, calibrated on this library: {self.findability:.0%} findability of "
            f"{self.queries} passages from one of their own sentences ({why})"
        )

    def to_note(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_note(cls, note: dict) -> FusionCalibration:
        return cls(float(note["weight"]), float(note["findability"]), int(note["queries"]), int(note["chunks"]))

    def stale(self, chunks: int) -> bool:
        """Whether a library of `chunks` passages has changed enough since this was measured to measure again."""
        return abs(chunks - self.chunks) > RECALIBRATE_GROWTH * max(self.chunks, 1)


def weight_for(findability: float) -> float:
    """DEFAULT_WEIGHT for findable passages, LOW_WEIGHT for look-alikes, linear between (rounded to 0.05)."""
    share = min(max((findability - UNFINDABLE) / (FINDABLE - UNFINDABLE), 0.0), 1.0)
    return round((LOW_WEIGHT + share * (DEFAULT_WEIGHT - LOW_WEIGHT)) * 20) / 20


def calibrate(index: Index, embedder: Embedder, sample: Sequence[Chunk], chunks: int) -> FusionCalibration | None:
    """Measure findability on `sample` (passages of the library, see `sample_chunks`) and choose the weight.

    `chunks` is the library's size now (recorded, to know when to measure again). Returns None when fewer than
    MIN_QUERIES pseudo-queries can be made (a small library keeps DEFAULT_WEIGHT).
    """
    queries = pseudo_queries(sample, QUERIES)
    if len(queries) < MIN_QUERIES:
        return None
    vectors = embedder.encode([text for text, _ in queries])
    total = 0.0
    for (text, target), vector in zip(queries, vectors, strict=True):
        dense = index.dense_search(vector, DEPTH)
        bm25 = index.keyword_search(text, DEPTH)
        total += reciprocal_rank(fuse_normalized([dense, bm25], [1 - DEFAULT_WEIGHT, DEFAULT_WEIGHT]), target)
    findability = total / len(queries)
    return FusionCalibration(weight_for(findability), round(findability, 4), len(queries), chunks)


def sample_chunks(index: Index, n: int = 4 * QUERIES) -> list[Chunk]:
    """Up to `n` passages drawn across the library: documents in random order, a few passages from each."""
    rng = random.Random(SEED)
    documents = index.documents()
    rng.shuffle(documents)
    per_document = max(1, n // max(len(documents), 1))
    picked: list[Chunk] = []
    for info in documents:
        passages = index.neighbours(info.doc_id, 0, info.chunks)
        picked += rng.sample(passages, min(per_document, len(passages)))
        if len(picked) >= n:
            break
    return picked[:n]


def pseudo_queries(chunks: Sequence[Chunk], n: int) -> list[tuple[str, Chunk]]:
    """Up to `n` (query, passage) pairs: one sentence of 8-40 words from each passage of 20+ words."""
    rng = random.Random(SEED)
    pool = [c for c in chunks if len(c.text.split()) >= 20]
    rng.shuffle(pool)
    out: list[tuple[str, Chunk]] = []
    for chunk in pool:
        sentences = [s.text for s in sentence_spans(chunk.text) if 8 <= len(s.text.split()) <= 40]
        if sentences:
            out.append((rng.choice(sentences), chunk))
        if len(out) == n:
            break
    return out


def reciprocal_rank(hits: Sequence[Hit], target: Chunk, depth: int = 10) -> float:
    """1/rank of `target` among the first `depth` hits, 0 when it is not there."""
    for rank, hit in enumerate(hits[:depth], start=1):
        if hit.chunk.chunk_id == target.chunk_id:
            return 1.0 / rank
    return 0.0


class LibraryFusion:
    """One library's BM25 weight: read from its index note, measured when missing or stale; safe across threads.

    `weight()` is what a search reads (a lookup once known); `refresh()` runs after the library's writes and
    measures again when its passages grew or shrank by more than RECALIBRATE_GROWTH.
    """

    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self._lock = threading.Lock()
        self._known: FusionCalibration | None = None
        self._checked = False  # the note was read (and measured if needed) in this process

    def weight(self) -> float:
        found = self.current()
        return found.weight if found is not None else DEFAULT_WEIGHT

    def describe(self, fixed: float | None = None) -> str:
        """The BM25 weight hybrid search uses and where it comes from; `fixed` is RAG_BM25_WEIGHT when set."""
        if fixed is not None:
            return f"BM25 weight {fixed:.2f}, set by RAG_BM25_WEIGHT"
        found = self.current()
        if found is None:
            return f"BM25 weight {DEFAULT_WEIGHT:.2f}, the default: too few passages to calibrate yet"
        return found.describe()

    def current(self) -> FusionCalibration | None:
        """The calibration in force (None: too few passages to measure, DEFAULT_WEIGHT applies)."""
        with self._lock:
            if not self._checked:
                self._known = self._stored()
                self._measure_if_stale()
                self._checked = True
            return self._known

    def refresh(self) -> None:
        """After writes: measure again if the library changed enough since the last calibration."""
        with self._lock:
            if self._checked:
                self._measure_if_stale()

    def _stored(self) -> FusionCalibration | None:
        raw = self.index.note(NOTE)
        try:
            return FusionCalibration.from_note(json.loads(raw)) if raw else None
        except (ValueError, KeyError, TypeError) as exc:  # a note from another version: measure again
            logger.info("ignoring the stored fusion calibration (%s)", exc)
            return None

    def _measure_if_stale(self) -> None:
        chunks = sum(d.chunks for d in self.index.documents())
        if self._known is not None and not self._known.stale(chunks):
            return
        if self._known is None and chunks < MIN_QUERIES:
            return
        found = calibrate(self.index, self.embedder, sample_chunks(self.index), chunks)
        if found is None:
            return
        self._known = found
        logger.info("fusion: %s", found.describe())
        try:
            self.index.write_note(NOTE, json.dumps(found.to_note()))
        except RagError as exc:  # a read-only library still searches with the weight it measured
            logger.warning("could not store the fusion calibration: %s", exc)
