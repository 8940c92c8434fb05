"""Evidence in a second: the sentences of the passages that best answer the question, verbatim, before the model.

    quotes = select_evidence(query, sources, embedder)   # up to 3 Citations: [n], file, page and the sentence

Shown as soon as retrieval is done ("From your documents"), so a person reads the documents' own words while
the model is still reading the prompt. Nothing is generated: each quote is a span of a passage with its page
offsets, so it can be wrong only by being the wrong sentence, never by saying what the documents do not.

A sentence's score = W_DENSE · cosine(query, sentence) + W_TERMS · share of the query's content terms in the
sentence (with its passage's context header, which names the document and section). Weights were picked on
COVID-QA and solana and confirmed on SEC 10-Q (bench/evidence.py --sweep; docs/answer-quality.md, "Evidence"):
the blend beat dense alone by 0.06-0.08 on both picking sets; a passage-rank prior did not pay (0.82 COVID-QA
but 0.91 solana), so there is none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.entities import numbers
from rag.text import Span, asked_terms, content_terms, is_heading, sentence_spans
from rag.types import Citation, Hit

W_DENSE, W_TERMS = 0.5, 0.5
# A question asking for an amount: a sentence that states one (a table row, "revenue was up 81%") gains W_FIGURE,
# so the rows that hold the answer are not outranked by prose about the same subject (SEC 10-Q: session 12).
W_FIGURE = 0.1
_ASKS_AMOUNT = re.compile(
    r"\b(?:how\s+(?:much|many)|amounts?|totals?|figures?|percentages?|proportion|rates?|revenues?|sales|income|"
    r"margins?|expenses?|expenditures?|spen[dt]|spending|costs?|prices?|cash|earnings|profits?|loss(?:es)?|debt)\b",
    re.IGNORECASE,
)
MAX_QUOTES = 3
# After the first quote, a sentence gains W_NEW × the share of the question's terms it holds that the quotes before
# it lack: "What is the difference between LoRA and adapters?" quotes a sentence about adapters after one about
# LoRA, instead of three about LoRA. A question the first quote covers whole is quoted as before.
W_NEW = 0.15
MIN_WORDS = 4  # "Table 3." or a lone heading is not evidence
MIN_PROSE_WORDS = 2  # words starting lower-case: a running header ("Apple Inc. | Q1 2023 Form 10-Q | 5") has none
MAX_CHARS = 400  # a run-on "sentence" (a table dumped as one line) is cut at a word boundary for display


@dataclass(frozen=True)
class SentenceScores:
    """How well each sentence of some passages meets one question: (chunk id, sentence start) → score.

    Scored once per question; the prompt packs the best sentences of a passage that does not fit whole
    (`rag.generate.prompting`) and the evidence is the best of them, so both agree and nothing is embedded twice.
    """

    scores: dict[tuple[str, int], float]

    def get(self, hit: Hit, span: Span) -> float:
        return self.scores.get((hit.chunk.chunk_id, span.start), 0.0)


def score_sentences(query: str, hits: Sequence[Hit], embedder: Embedder) -> SentenceScores:
    """Score every sentence of `hits` against `query`: W_DENSE · cosine + W_TERMS · share of the query's terms."""
    spans = [(hit, span) for hit in hits for span in sentence_spans(hit.chunk.text)]
    if not spans:
        return SentenceScores({})
    vectors = np.asarray(embedder.encode([query] + [span.text for _, span in spans]), dtype=np.float32)
    cosines = vectors[1:] @ vectors[0]
    wanted = asked_terms(query)
    figure = W_FIGURE if asks_amount(query) else 0.0
    return SentenceScores(
        {
            (hit.chunk.chunk_id, span.start): 0.0  # a heading names the question's subject and answers nothing
            if is_heading(span.text, hit.chunk.document)
            else W_DENSE * float(cosines[i])
            + W_TERMS * _term_share(wanted, hit, span)
            + (figure if figure and states_amount(span.text) else 0.0)
            for i, (hit, span) in enumerate(spans)
        }
    )


def asks_amount(question: str) -> bool:
    """Whether the question asks for an amount: "how much", "revenue", "percentage", "expenses"…"""
    return bool(_ASKS_AMOUNT.search(question))


def states_amount(text: str) -> bool:
    """Whether `text` states a number other than a year or a day of the month ("July 1, 2023" states none)."""
    return any(not (value.isdigit() and (int(value) <= 31 or 1900 <= int(value) <= 2100)) for value in numbers(text))


def select_evidence(
    query: str,
    sources: Sequence[Hit],
    embedder: Embedder,
    limit: int = MAX_QUOTES,
    scores: SentenceScores | None = None,
) -> tuple[Citation, ...]:
    """Return up to `limit` sentences of `sources` that best answer `query`, best first, as Citations.

    `sources` are the passages in prompt order, so each quote's `n` is the same `[n]` the answer will cite.
    Only prose sentences of MIN_WORDS or more; the same sentence text (overlapping chunks) only once. `scores`
    from `score_sentences` saves embedding the sentences again.
    """
    scores = scores or score_sentences(query, sources, embedder)
    wanted = asked_terms(query)
    candidates = [
        (scores.get(hit, span), n, hit, span, wanted & content_terms(span.text, split_hyphens=True))
        for n, hit in enumerate(sources, start=1)
        for span in sentence_spans(hit.chunk.text)
        if _is_prose(span.text) and not is_heading(span.text, hit.chunk.document)
    ]
    candidates.sort(key=lambda c: -c[0])
    chosen: list[Citation] = []
    seen: set[str] = set()
    covered: set[str] | None = None  # the question's terms the quotes so far hold (None before the first)
    while candidates and len(chosen) < limit:
        score, n, hit, span, held = candidates.pop(next_covering(candidates, covered, len(wanted)))
        key = " ".join(span.text.split()).lower()
        if key in seen:
            continue
        seen.add(key)
        covered = (covered or set()) | held
        shown = _shorten(span)
        start = hit.chunk.start + shown.start
        chosen.append(Citation(n, hit.chunk, round(score, 4), start, start + len(shown.text)))
    return tuple(chosen)


def next_covering(pool: Sequence[tuple], covered: set[str] | None, asked: int) -> int:
    """The index in `pool` of the sentence to take next, for the quotes here and the prompt's sentences
    (`rag.generate.packing`). `pool` holds (score, …, question terms the sentence states) tuples, best score
    first. Before the first sentence is taken (`covered` is None) that is the best score; after, the best score +
    W_NEW × the share of the `asked` question terms the sentence states beyond those `covered`."""
    if covered is None or not asked:
        return 0
    gains = [entry[0] + W_NEW * len(entry[-1] - covered) / asked for entry in pool]
    return max(range(len(pool)), key=gains.__getitem__)  # ties: the earlier


def _is_prose(text: str) -> bool:
    tokens = text.split()
    return len(tokens) >= MIN_WORDS and sum(t[0].islower() for t in tokens) >= MIN_PROSE_WORDS


def _shorten(span: Span) -> Span:
    """Return `span`, cut to MAX_CHARS at a word boundary when it is longer (offsets stay exact)."""
    if len(span.text) <= MAX_CHARS:
        return span
    cut = span.text.rfind(" ", 0, MAX_CHARS)
    text = span.text[: cut if cut > 0 else MAX_CHARS]
    return Span(span.start, span.start + len(text), text)


def _term_share(wanted: set[str], hit: Hit, span: Span) -> float:
    """Share of the query's content terms in the sentence or its passage's context header."""
    if not wanted:
        return 0.0
    have = content_terms(span.text, split_hyphens=True) | content_terms(hit.chunk.context, split_hyphens=True)
    return len(wanted & have) / len(wanted)
