"""Re-ranking: re-order the best `options.rerank_depth` candidates with a closer look at each.

    rerank(query, hits, sources, options) -> list[Hit]    # the re-ordered head, then the rest unchanged

`options.reranker` (RAG_RERANKER) chooses how:
- "embed": offline, with what is already loaded; nothing is embedded at query time. Score =
  W_PRIOR · first-stage score (min-max over the head) + W_CHUNK · chunk cosine (stored vectors)
  + W_COVERAGE · idf-weighted share of the query's words in the passage and its context header
  + W_SENTENCE · the same share for the passage's best single sentence (with its header), which rewards
  passages where the question's words meet in one sentence: the answer sentence, usually, rather than a
  passage that mentions them far apart. Weights and measurements: docs/retrieval-quality.md.
- "all-mpnet-base-v2": the "embed" score blended with all-mpnet-base-v2's cosine between the query and each
  passage (header + text, as indexed), min-max scaled over the head: a stronger embedder (768 dims, the opt-in
  `rag.mpnet`) judges only the 20 finalists, so the index keeps MiniLM's cheap vectors. It embeds the query and
  20 passages per search, seconds on a CPU; opt-in, since it won on four dev sets and lost on COVID-QA (README).
- anything else: a sentence-transformers CrossEncoder, from a local folder or a hub id already in the Hugging Face
  cache (nothing is downloaded). A missing model raises ModelLoadError naming RAG_RERANKER.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.errors import ModelLoadError
from rag.index.lexical import tokenize
from rag.mpnet import MPNET_IDENTITY, MPNET_NAME
from rag.search.options import Query, RetrievalOptions, Sources
from rag.text import clauses
from rag.types import Chunk, Hit

# Chosen on four dev sets, checked on 300 held-out COVID-QA questions (docs/retrieval-quality.md,
# "Sentence coverage"): SEC 10-Q +0.016 and COVID-QA +0.017 hit@5 over the earlier 0.6/0.1/0.3/0 weights.
W_PRIOR, W_CHUNK, W_COVERAGE, W_SENTENCE = 0.4, 0.1, 0.2, 0.4
MIN_SENTENCE_WORDS = 4
# The mpnet cosine's share against the "embed" score, chosen with bench/mpnet_eval.py on solana, SEC 10-Q, COVID-QA
# and SciFact (0.25: SEC +0.026 hit@5, SciFact +0.011 nDCG@10, solana level, COVID-QA -0.017; 0.5 lost 0.057 on
# COVID-QA), checked on Cranfield (+0.017) and CISI (+0.007). Off by default: README, "Opt-in: all-mpnet-base-v2".
W_MPNET = 0.25

_cross_encoders: dict[str, Any] = {}
_embedders: dict[str, Any] = {}  # re-rankers that are embedders (mpnet), by RAG_RERANKER name
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
    elif options.reranker == MPNET_NAME:
        scored = mpnet_scores(query, head, sources)
    else:
        scored = cross_encoder_scores(options.reranker, query.text, head)
    order = sorted(range(len(head)), key=lambda i: -scored.scores[i])  # stable: ties keep the first-stage order
    return [replace(head[i], score=scored.scores[i], method=scored.method) for i in order] + tail


# ---- offline re-ranker ---------------------------------------------------------------------------------------


def embed_scores(query: Query, head: Sequence[Hit], sources: Sources) -> Scored:
    """Return the "embed" score of each head hit (see the module docstring)."""
    vector = query.vector if query.vector is not None else sources.embedder.encode([query.text])[0]
    chunk_cos = sources.index.vectors_of([h.chunk.chunk_id for h in head]) @ vector
    cover, in_sentence = word_coverage(query.text, [h.chunk for h in head])
    prior = _minmax([h.score for h in head])
    total = W_PRIOR * prior + W_CHUNK * chunk_cos + W_COVERAGE * cover + W_SENTENCE * in_sentence
    return Scored(tuple(float(s) for s in total), "rerank")


def _minmax(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    span = float(array.max() - array.min()) if len(array) else 0.0
    return (array - array.min()) / span if span > 0 else np.ones_like(array)


def sentence_pieces(text: str) -> list[tuple[str, bool]]:
    """Split `text` into clauses (`rag.text.clauses`); each comes with whether it counts as a sentence
    (at least MIN_SENTENCE_WORDS words). The pieces hold every word of `text`: the splits fall on whitespace."""
    return [(piece, len(piece.split()) >= MIN_SENTENCE_WORDS) for piece in clauses(text)]


def word_coverage(query: str, passages: Sequence[Chunk]) -> tuple[np.ndarray, np.ndarray]:
    """Return, per passage, the idf-weighted share of the query's stemmed words (0..1) found
    - in the passage with its context header, idf over the passages (a query word every candidate has says
      little about which one answers), and
    - in its best sentence with the header, idf over all the passages' sentences (a passage without a sentence
      counts as one). The header (file, title, headings) belongs to every sentence: "Intel" in a 10-Q's header
      answers the company part of "Intel's revenue" for each sentence of it.
    Each passage is tokenized once: its pieces' words together are its words.
    """
    empty = np.zeros(len(passages), dtype=np.float32)
    wanted = set(tokenize([query])[0])
    if not wanted or not passages:
        return empty, empty.copy()
    groups = [sentence_pieces(c.text) for c in passages]
    words = tokenize([c.context for c in passages] + [piece for group in groups for piece, _ in group])
    rest = iter(words[len(passages) :])
    passage_bags: list[set[str]] = []
    sentence_bags: list[set[str]] = []
    owners: list[int] = []
    for i, group in enumerate(groups):
        header, bags = set(words[i]), [set(next(rest)) for _ in group]
        passage_bags.append(header.union(*bags))
        kept = [header | bag for (_, is_sentence), bag in zip(group, bags, strict=True) if is_sentence]
        sentence_bags += kept or [passage_bags[-1]]
        owners += [i] * max(len(kept), 1)
    best = empty.copy()
    np.maximum.at(best, np.array(owners), _idf_shares(wanted, sentence_bags))
    return _idf_shares(wanted, passage_bags), best


def _idf_shares(wanted: set[str], bags: Sequence[set[str]]) -> np.ndarray:
    """Per bag of words, the idf-weighted share of `wanted` it holds; idf over `bags` themselves."""
    df = Counter(word for bag in bags for word in bag & wanted)
    idf = {word: math.log((len(bags) + 1) / (df[word] + 0.5)) for word in wanted}
    total = sum(idf.values()) or 1.0
    return np.array([sum(idf[w] for w in wanted & bag) / total for bag in bags], dtype=np.float32)


# ---- a stronger embedder on the finalists ---------------------------------------------------------------------


def mpnet_scores(query: Query, head: Sequence[Hit], sources: Sources) -> Scored:
    """Return the "embed" score of each head hit blended with mpnet's query-passage cosine (module docstring)."""
    base = embed_scores(query, head, sources).scores
    cosines = embedder_cosines(query, head, sources, reranker_embedder(MPNET_NAME, sources))
    return Scored(tuple(float(s) for s in blend(base, cosines, W_MPNET)), "rerank_mpnet")


def blend(base: Sequence[float] | np.ndarray, cosines: np.ndarray, weight: float) -> np.ndarray:
    """(1 - weight) · base + weight · cosines min-max scaled over the head: the cosines of 20 finalists differ by
    a few hundredths, the base score by up to 1, so unscaled they would barely move the order."""
    return (1.0 - weight) * np.asarray(base, dtype=np.float32) + weight * _minmax(cosines)


def embedder_cosines(query: Query, head: Sequence[Hit], sources: Sources, model: Any) -> np.ndarray:
    """Cosine between the query and each head passage under `model` (unit vectors: inner product).

    When the library was built by the same model, its stored vectors and the query's are used: nothing is embedded.
    """
    if model is sources.embedder and query.vector is not None:
        return sources.index.vectors_of([h.chunk.chunk_id for h in head]) @ query.vector
    vectors = model.encode([query.text] + [h.chunk.indexed_text for h in head])
    return vectors[1:] @ vectors[0]


def reranker_embedder(name: str, sources: Sources) -> Any:
    """The embedder re-ranking as `name`: the library's own when it is that model, else the one loaded for it.

    Loaded once per process: up front by `load_reranker(settings)`, otherwise on first use with the settings of
    the environment (as a CrossEncoder is).
    """
    if getattr(sources.embedder, "name", "") == MPNET_IDENTITY:
        return sources.embedder
    if name not in _embedders:
        load_reranker(Settings.from_env().replace(reranker=name))
    return _embedders[name]


def load_reranker(settings: Settings) -> None:
    """Load the model `settings.reranker` names (mpnet or a CrossEncoder), once per process; "none" and "embed"
    need nothing. Callers that want the cost at start rather than on the first search call this.

    Raises ModelLoadError when the model is not installed or cannot be read.
    """
    name = settings.reranker
    if name in ("none", "embed"):
        return
    if name != MPNET_NAME:
        load_cross_encoder(name)
        return
    with _load_lock:
        if name not in _embedders:
            from rag.embedding import load_embedder  # torch and sentence-transformers only when asked for

            _embedders[name] = load_embedder(settings.replace(embedder=MPNET_NAME))


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
