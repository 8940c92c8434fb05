"""Re-ranking: re-order the best `options.rerank_depth` candidates with a closer look at each.

    rerank(query, hits, sources, options) -> list[Hit]    # the re-ordered head, then the rest unchanged

`options.reranker` (RAG_RERANKER) chooses how:
- "embed": offline, with what is already loaded. Score = W_PRIOR · first-stage score (min-max over the head)
  + W_CHUNK · chunk cosine (stored vectors, no re-embedding) + W_COVERAGE · idf-weighted share of the query's
  words in the passage (+ W_SENTENCE · best sentence cosine, off by default: embedding ~60 sentences per query
  cost 0.2–5 s on the shared 2-core box and did not help on SEC 10-Q; see docs/retrieval-quality.md).
- anything else: a sentence-transformers CrossEncoder, from a local folder or a hub id already in the Hugging Face
  cache (nothing is downloaded). A missing model raises ModelLoadError naming RAG_RERANKER.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ModelLoadError
from .lexical import tokenize
from .types import Hit

if TYPE_CHECKING:
    from .retrieval import Query, RetrievalOptions, Sources

_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")
# Measured on four dev sets (docs/retrieval-quality.md, "Retrieval stages"): never worse at hit@5, +0.013 on COVID-QA.
W_PRIOR, W_SENTENCE, W_CHUNK, W_COVERAGE = 0.6, 0.0, 0.1, 0.3
MAX_SENTENCES = 64  # per query: bounds the embedding cost (~5 ms per short sentence on one CPU thread)
MIN_SENTENCE_WORDS = 4
CACHE_SIZE = 20_000  # sentence vectors kept (384 floats each: ~30 MB at most)

_cross_encoders: dict[str, Any] = {}
_load_lock = threading.Lock()


@dataclass(frozen=True)
class Scored:
    """A re-ranker's verdict on the head: one score per hit, in the head's order (higher = better)."""

    scores: tuple[float, ...]
    method: str


def rerank(query: Query, hits: list[Hit], sources: Sources, options: RetrievalOptions) -> list[Hit]:
    """Return `hits` with the first `options.rerank_depth` re-ordered by the re-ranker `options.reranker`."""
    head, tail = hits[: options.rerank_depth], hits[options.rerank_depth :]
    if options.reranker == "embed":
        scored = embed_scores(query, head, sources)
    else:
        scored = cross_encoder_scores(options.reranker, query.text, head)
    order = sorted(range(len(head)), key=lambda i: -scored.scores[i])  # stable: ties keep the first-stage order
    return [replace(head[i], score=scored.scores[i], method=scored.method) for i in order] + tail


# ---- offline re-ranker ---------------------------------------------------------------------------------------


def embed_scores(query: Query, head: Sequence[Hit], sources: Sources) -> Scored:
    """Return the "embed" score of each head hit (see the module docstring)."""
    vector = query.vector if query.vector is not None else sources.embedder.encode([query.text])[0]
    chunk_cos = sources.store.vectors_of([h.chunk.chunk_id for h in head]) @ vector
    sentence_cos = chunk_cos
    if W_SENTENCE > 0:  # the costly part: embedding up to MAX_SENTENCES sentences
        sentence_cos = best_sentence_cosines(vector, [h.chunk.text for h in head], sources.embedder, chunk_cos)
    cover = coverage(query.text, [h.chunk.text for h in head])
    prior = _minmax([h.score for h in head])
    total = W_PRIOR * prior + W_SENTENCE * sentence_cos + W_CHUNK * chunk_cos + W_COVERAGE * cover
    return Scored(tuple(float(s) for s in total), "rerank")


def _minmax(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    span = float(array.max() - array.min()) if len(array) else 0.0
    return (array - array.min()) / span if span > 0 else np.ones_like(array)


def sentences(text: str) -> list[str]:
    """Return the sentences of `text` with at least MIN_SENTENCE_WORDS words (the whole text if none)."""
    found = [s.strip() for s in _SENTENCE.split(text) if len(s.split()) >= MIN_SENTENCE_WORDS]
    return found or [text]


def best_sentence_cosines(
    query: np.ndarray, texts: Sequence[str], embedder: Any, fallback: np.ndarray, budget: int = MAX_SENTENCES
) -> np.ndarray:
    """Return, per text, the best cosine between `query` and one of its sentences.

    At most `budget` sentences are embedded, taken from the first texts first; a text left without any uses
    its `fallback` (the chunk cosine).
    """
    groups, used = [], 0
    for text in texts:
        group = sentences(text)[: max(budget - used, 0)]
        groups.append(group)
        used += len(group)
    vectors = _cached_encode(embedder, [s for group in groups for s in group])
    best = np.array(fallback, dtype=np.float32, copy=True)
    position = 0
    for i, group in enumerate(groups):
        if group:
            best[i] = float((vectors[position : position + len(group)] @ query).max())
            position += len(group)
    return best


class _VectorCache:
    """A bounded least-recently-used map (embedder name, sentence) → vector, shared by every search thread."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self.lock = threading.Lock()

    def encode(self, embedder: Any, texts: list[str]) -> np.ndarray:
        """Return one vector per text, embedding (in one batch) only the texts not seen recently."""
        name = getattr(embedder, "name", "")
        with self.lock:
            known = {t: self.items[(name, t)] for t in texts if (name, t) in self.items}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, np.asarray(embedder.encode(missing), dtype=np.float32), strict=True))
        with self.lock:
            for text in dict.fromkeys(texts):
                self.items[(name, text)] = known[text]
                self.items.move_to_end((name, text))
            while len(self.items) > self.size:
                self.items.popitem(last=False)  # the least recently used
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)


_sentence_cache = _VectorCache(CACHE_SIZE)
_cached_encode: Callable[[Any, list[str]], np.ndarray] = _sentence_cache.encode


def coverage(query: str, texts: Sequence[str]) -> np.ndarray:
    """Return, per text, the idf-weighted share of the query's stemmed words it contains (0..1).

    idf is taken over `texts` themselves: a query word every candidate has says little about which one answers.
    """
    wanted = set(tokenize([query])[0])
    if not wanted or not texts:
        return np.zeros(len(texts), dtype=np.float32)
    bags = [set(t) for t in tokenize(list(texts))]
    df = Counter(w for bag in bags for w in bag if w in wanted)
    idf = {w: math.log((len(texts) + 1) / (df[w] + 0.5)) for w in wanted}
    total = sum(idf.values()) or 1.0
    return np.array([sum(idf[w] for w in wanted & bag) / total for bag in bags], dtype=np.float32)


# ---- cross-encoder -------------------------------------------------------------------------------------------


def cross_encoder_scores(name: str, query: str, head: Sequence[Hit]) -> Scored:
    """Return a CrossEncoder's relevance score for each (query, passage) pair."""
    model = load_cross_encoder(name)
    scores = model.predict([(query, h.chunk.text) for h in head], show_progress_bar=False)
    return Scored(tuple(float(s) for s in np.asarray(scores).reshape(-1)), "cross_encoder")


def load_cross_encoder(name: str) -> Any:
    """Return the CrossEncoder `name` (a local folder or a cached hub id), loaded once per process, on CPU.

    Raises ModelLoadError naming RAG_RERANKER when it is not on this machine or cannot be read.
    """
    with _load_lock:
        if name in _cross_encoders:
            return _cross_encoders[name]
        path = Path(name).expanduser()
        try:
            from sentence_transformers import CrossEncoder

            model = CrossEncoder(str(path) if path.exists() else name, device="cpu", local_files_only=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelLoadError(
                f"could not load the re-ranker RAG_RERANKER={name!r} ({exc}). Nothing is downloaded: point "
                "RAG_RERANKER at a local CrossEncoder folder or a hub id already in the Hugging Face cache, "
                "or use 'embed' (offline) or 'none'"
            ) from exc
        _cross_encoders[name] = model
        return model
