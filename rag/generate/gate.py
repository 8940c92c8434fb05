"""The abstain gate: whether the passages hold the answer, from retrieval evidence and the checked answer.

`measure` scores what retrieval found (best dense similarity, query-term coverage, dense/lexical agreement, the
question's names found in the passages); below `PRE_GATE` the model is not asked at all, which saves the whole
prefill; nor when `no_sentence_answers` (the best sentence of the passages scores below `EVIDENCE_GATE`: topical
passages that do not hold the answer, the case a retrieval-level score cannot see). After generation, `decide`
combines that confidence with the share of the answer's sentences a passage supports, and the model's own "not
in the passages" verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.generate.citations import CitationCheck
from rag.text import content_terms, mentions, names, strip_markers
from rag.types import Citation, Hit

PRE_GATE = 0.25  # below this retrieval confidence the model is not asked (dev: 0% answerable, ~82% unanswerable)
# Below this score of the best quoted sentence (rag.generate.evidence) the model is not asked either: the passages
# are on the subject but no sentence in them meets the question. Picked on COVID-QA and solana as the highest
# threshold that refuses at most 2 % of their answerable questions, confirmed on SEC 10-Q (bench/answers.py
# --retrieval-only --sec; docs/answer-quality.md, "Refusing what the documents do not say").
EVIDENCE_GATE = 0.40


@dataclass(frozen=True)
class Signals:
    """Retrieval-side signals, each in 0..1 except `dense_top` (a cosine)."""

    dense_top: float  # best cosine between the query and a passage
    coverage: float  # share of the query's content terms found in the passages
    agreement: float  # 1.0 when dense and lexical scoring pick the same top passage
    entities: float = 1.0  # share of the question's names/acronyms ("WHO", "SAIBK", "Corda") the passages contain

    @property
    def confidence(self) -> float:
        """Return a 0..1 retrieval confidence (weights calibrated in bench/answers.py).

        A name the question asks about that no passage mentions is the strongest sign the answer is not
        in the documents, so it scales the whole score down.
        """
        dense = min(max((self.dense_top - 0.2) / 0.4, 0.0), 1.0)
        return (0.55 * dense + 0.3 * self.coverage + 0.15 * self.agreement) * (0.4 + 0.6 * self.entities)


def measure(query: str, hits: Sequence[Hit], embedder: Embedder) -> Signals:
    """Return the retrieval signals for `hits` (the embedder scores dense similarity and agreement)."""
    if not hits:
        return Signals(0.0, 0.0, 0.0)
    wanted = content_terms(query)
    passage_terms = [content_terms(h.chunk.text) for h in hits]
    coverage = len(wanted & set().union(*passage_terms)) / len(wanted) if wanted else 0.0
    lexical = [len(wanted & t) for t in passage_terms]
    found_names = names(query)
    text = "\n".join(h.chunk.text for h in hits)
    found = sum(mentions(text, name) for name in found_names) / len(found_names) if found_names else 1.0
    vectors = np.asarray(embedder.encode([query] + [h.chunk.text for h in hits]), dtype=np.float32)
    dense = vectors[1:] @ vectors[0]
    agreement = 1.0 if int(np.argmax(dense)) == int(np.argmax(lexical)) else 0.0
    return Signals(float(dense.max()), coverage, agreement, found)


def no_sentence_answers(quotes: Sequence[Citation]) -> bool:
    """True when even the best-scoring sentence (`rag.generate.evidence`, best first) does not meet the question."""
    return not quotes or quotes[0].score < EVIDENCE_GATE


def decide(check: CitationCheck, signals: Signals, threshold: float) -> bool:
    """Return True to abstain: the model refused, or retrieval and support together are too weak."""
    if check.refused or not any(ch.isalnum() for ch in strip_markers(check.text)):
        return True  # a refusal, or nothing but markers: never shown as an answer
    return 0.5 * signals.confidence + 0.5 * check.support < threshold
