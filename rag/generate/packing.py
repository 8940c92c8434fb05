"""What of the passages goes into the prompt: the retrieved passages cut to a token budget.

Prefill dominates the wait for the first word on a CPU (≈ prompt tokens ÷ 68-74 tokens/s on 2 cores here), so the budget is
the speed lever and what fills it is the quality lever. Two ways to fill it (`Settings.prompt_packing`):
- "passages": in rank order, whole passages while they fit; a passage that does not fit keeps its best
  sentences, leaving MIN_SHARE tokens for each passage after it.
- "sentences": the best-scoring sentences of all passages (`rag.generate.evidence.score_sentences`), wherever
  they are, until the budget is spent; a passage none of whose sentences made it is left out. Each passage
  keeps its number, file and page, so citations and the sources panel are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.generate.evidence import SentenceScores, next_covering
from rag.text import Span, asked_terms, content_terms, sentence_spans
from rag.types import Hit

MIN_SHARE = 48  # tokens a lower-ranked passage keeps for its best sentences before we drop it
HEADER_EXTRA = 4  # the "<<<" and ">>>" lines around a passage, in tokens

CountTokens = Callable[[str], int]


@dataclass(frozen=True)
class Passage:
    """One numbered passage as the model sees it. `trimmed` when only its best sentences fit."""

    n: int
    hit: Hit
    text: str
    trimmed: bool = False


@dataclass(frozen=True)
class Packing:
    """What fitted into the passage budget."""

    passages: tuple[Passage, ...]
    dropped: tuple[str, ...]  # chunk ids that did not fit at all
    tokens: int


@dataclass(frozen=True)
class Excerpt:
    """A passage cut down to its best sentences, and what it costs."""

    text: str
    tokens: int


def pack(
    question: str,
    hits: Sequence[Hit],
    budget: int,
    count_tokens: CountTokens,
    scores: SentenceScores | None = None,
    how: str = "passages",
) -> Packing:
    """Fit `hits` (best first) into `budget` tokens by whole passages or by best sentences (module docstring);
    "sentences" needs `scores` and falls back to "passages" without them."""
    if how == "sentences" and scores is not None:
        return pack_sentences(hits, budget, count_tokens, scores, asked_terms(question))
    return pack_passages(question, hits, budget, count_tokens, scores)


def header_tokens(n: int, hit: Hit, count_tokens: CountTokens) -> int:
    """What passage `n`'s header line and quote delimiters cost."""
    return count_tokens(f"[{n}] {hit.document}") + HEADER_EXTRA


def pack_passages(
    question: str, hits: Sequence[Hit], budget: int, count_tokens: CountTokens, scores: SentenceScores | None = None
) -> Packing:
    """Fit hits into `budget` tokens in rank order; returns the passages, the dropped chunk ids and tokens used.

    Each passage may use what is left minus MIN_SHARE for every passage after it, so a long top
    passage is trimmed to its best sentences instead of crowding out the rest.
    """
    terms = content_terms(question)
    passages: list[Passage] = []
    dropped: list[str] = []
    used = 0
    for i, hit in enumerate(hits):
        header = header_tokens(len(passages) + 1, hit, count_tokens)
        allowance = budget - used - MIN_SHARE * (len(hits) - i - 1) - header
        full = count_tokens(hit.chunk.text)
        if full <= allowance or (full <= budget - used - header and i == len(hits) - 1):
            text, cost, trimmed = hit.chunk.text, full, False
        elif allowance >= MIN_SHARE // 2:
            rank = (lambda span, hit=hit: scores.get(hit, span)) if scores else None
            excerpt = best_sentences(hit.chunk.text, terms, allowance, count_tokens, rank)
            text, cost, trimmed = excerpt.text, excerpt.tokens, True
        else:
            text, cost = "", 0
        if not text.strip():
            dropped.append(hit.chunk.chunk_id)
            continue
        passages.append(Passage(len(passages) + 1, hit, text, trimmed))
        used += cost + header
    return Packing(tuple(passages), tuple(dropped), used)


def best_sentences(
    text: str, terms: set[str], budget: int, count_tokens: CountTokens, rank: Callable[[Span], float] | None = None
) -> Excerpt:
    """Return the highest-scoring sentences of `text` that fit `budget`, in document order, joined by " … ".

    Sentences are scored by `rank`, or else by the query terms they contain (ties favour earlier ones);
    sentences with none of the terms are left out unless no sentence has any.
    """
    spans = sentence_spans(text)
    score = [rank(span) if rank else len(terms & content_terms(span.text)) for span in spans]
    order = sorted(range(len(spans)), key=lambda i: (-score[i], i))
    if any(score):  # sentences without a query term only cost prefill time
        order = [i for i in order if score[i]]
    chosen: list[int] = []
    used = 0
    for i in order:
        cost = count_tokens(spans[i].text) + 1
        if used + cost <= budget:
            chosen.append(i)
            used += cost
    return Excerpt(_join(spans, sorted(chosen)), used)


def pack_sentences(
    hits: Sequence[Hit], budget: int, count_tokens: CountTokens, scores: SentenceScores, asked: set[str] = frozenset()
) -> Packing:
    """Fill `budget` with the best-scoring sentences of all `hits`, best first; each passage shows its chosen
    sentences in document order (gaps marked "…"), passages keep rank order, and unchosen passages are dropped.

    With the question's content terms `asked`, each sentence after the first gains W_NEW × the share of them it
    states that the sentences taken before it do not (`rag.generate.evidence.next_covering`, as the quotes): a
    question on two subjects, or in two parts, gets sentences on both."""
    spans = [sentence_spans(hit.chunk.text) for hit in hits]
    pool = sorted(
        (
            (scores.get(hit, span), i, j, asked & content_terms(span.text, split_hyphens=True))
            for i, hit in enumerate(hits)
            for j, span in enumerate(spans[i])
        ),
        key=lambda c: (-c[0], c[1], c[2]),
    )
    chosen: dict[int, list[int]] = {}
    used, covered = 0, None  # covered: the question's terms the sentences taken so far state
    while pool:
        _, i, j, held = pool.pop(next_covering(pool, covered, len(asked)))
        header = 0 if i in chosen else header_tokens(i + 1, hits[i], count_tokens)  # paid by its first sentence
        cost = count_tokens(spans[i][j].text) + 1 + header
        if used + cost <= budget:
            chosen.setdefault(i, []).append(j)
            used += cost
            covered = (covered or set()) | held
    passages: list[Passage] = []
    for i, hit in enumerate(hits):
        if i in chosen:
            text = _join(spans[i], sorted(chosen[i]))
            passages.append(Passage(len(passages) + 1, hit, text, len(chosen[i]) < len(spans[i])))
    dropped = tuple(hit.chunk.chunk_id for i, hit in enumerate(hits) if i not in chosen)
    return Packing(tuple(passages), dropped, used)


def _join(spans: Sequence[Span], chosen: Sequence[int]) -> str:
    """The chosen sentences (indices in document order) joined by spaces, with "…" where sentences were skipped."""
    pieces: list[str] = []
    for k, i in enumerate(chosen):
        if k and chosen[k - 1] != i - 1:
            pieces.append("…")
        pieces.append(spans[i].text)
    return " ".join(pieces)
