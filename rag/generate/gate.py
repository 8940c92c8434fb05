"""The abstain gate: whether the passages hold the answer, from retrieval evidence and the checked answer.

`measure` scores what retrieval found (best dense similarity, query-term coverage, dense/lexical agreement, the
question's names found in the passages); below `PRE_GATE` the model is not asked at all, which saves the whole
prefill; nor when `no_sentence_answers` (the best sentence of the passages scores below `EVIDENCE_GATE`: topical
passages that do not hold the answer, the case a retrieval-level score cannot see). After generation, `decide`
combines that confidence with the share of the answer's sentences a passage supports, and the model's own "not
in the passages" verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.entities import Name, mentions, mentions_loosely, name_phrases, names
from rag.generate.citations import CitationCheck
from rag.generate.facts import stated_by
from rag.text import content_terms, strip_markers
from rag.types import Citation, Hit

# Below this retrieval confidence the model is not asked. 0.20 refuses 0.6 % of the dev sets' answerable questions
# (solana, COVID-QA, SEC: 1 of 168) and 35 % of the unanswerable ones (off-topic 82 %); session 17 moved it from
# 0.25 once every unanswerable question of 0.20-0.25 (18, in five sets) proved refused by the later gates anyway,
# while 2 of 3 answerable SEC questions there were answered (docs/answer-quality.md).
PRE_GATE = 0.20
# Below this score of the best quoted sentence (rag.generate.evidence) the model is not asked either: the passages
# are on the subject but no sentence in them meets the question. Picked on COVID-QA and solana as the highest
# threshold that refuses at most 2 % of their answerable questions, confirmed on SEC 10-Q (bench/answers.py
# --retrieval-only --sec; docs/answer-quality.md, "Refusing what the documents do not say").
EVIDENCE_GATE = 0.40


# Months and weekdays, written out or short: a date, not a name to look for ("as of Feb. 10").
_CALENDAR = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
     "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "monday",
     "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue", "wed", "thu", "fri", "sat"]
)  # fmt: skip


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
    text = "\n".join(f"{h.chunk.context}\n{h.chunk.text}" for h in hits)  # "Apple" is in a 10-Q's header, not its rows
    found = sum(mentions(text, name) for name in found_names) / len(found_names) if found_names else 1.0
    vectors = np.asarray(embedder.encode([query] + [h.chunk.text for h in hits]), dtype=np.float32)
    dense = vectors[1:] @ vectors[0]
    agreement = 1.0 if int(np.argmax(dense)) == int(np.argmax(lexical)) else 0.0
    return Signals(float(dense.max()), coverage, agreement, found)


def no_sentence_answers(quotes: Sequence[Citation]) -> bool:
    """True when even the best-scoring sentence (`rag.generate.evidence`, best first) does not meet the question."""
    return not quotes or quotes[0].score < EVIDENCE_GATE


def unmentioned_names(
    question: str, passages: Sequence[Hit], page_text: Callable[[str, int], str] | None = None
) -> tuple[str, ...]:
    """The names `question` asks about ("Microsoft", "WHO", "California Code of Regulations") that neither the
    passages (text, context header, file name) nor, through `page_text`, the pages they come from mention: the
    passages are about something else, whatever the model would make of them. A run of capitalised words counts as
    mentioned when one of its words is ("Transactions Per Second" where "transactions" is).

    Measured on SEC 10-Q questions asked with the company's filings left out (session 11): the model answered 8 of
    30 from another company's passages without naming either. The pages are read for "LLM" asked of a passage that
    says "language model" on a page that says "LLMs"; whole documents were tried and let too much through (Intel's
    10-Q names Apple in a lawsuit, so "Apple's gross margin" passed on Intel's margin pages). Names with digits
    ("Q3", "10-Q", "2019-nCoV"), months and weekdays are left to the confidence score: a filing writes "third
    quarter" where a person asks about "Q3", "2/10" for "Feb. 10". Numbers: docs/answer-quality.md.
    """
    if not passages:
        return ()
    missing = _unmentioned(asked_names(question), stated_by(passages))
    if missing and page_text is not None:
        pages = dict.fromkeys((h.chunk.doc_id, h.chunk.page) for h in passages)
        missing = _unmentioned(missing, "\n".join(page_text(doc_id, page) for doc_id, page in pages))
    written = [name.written for name in missing]
    # "In California, … the California Code of Regulations?": name California once
    return tuple(w for w in dict.fromkeys(written) if not any(w != o and w in o.split() for o in written))


def asked_names(question: str) -> list[Name]:
    """The names of `question` the name check looks for: not those with digits, months or weekdays."""
    return [n for n in name_phrases(question) if not any(c.isdigit() for c in n.written) and not _calendar(n)]


def _calendar(name: Name) -> bool:
    """A month or weekday ("Feb", "Monday"): a date, which a passage may write "2/10" or "February"."""
    return all(word.lower() in _CALENDAR for word in name.words)


def mentions_name(text: str, name: Name) -> bool:
    """True when `text` mentions one of the name's words (`rag.entities.mentions_loosely`)."""
    return any(mentions_loosely(text, word) for word in name.words)


def _unmentioned(asked: Sequence[Name], text: str) -> list[Name]:
    """The names none of whose words `text` mentions (`rag.entities.mentions_loosely`)."""
    return [name for name in asked if not mentions_name(text, name)]


def decide(check: CitationCheck, signals: Signals, threshold: float) -> bool:
    """Return True to abstain: the model refused, or retrieval and support together are too weak."""
    if check.refused or check.claims_nothing or not any(ch.isalnum() for ch in strip_markers(check.text)):
        return True  # a refusal, the question said back, or nothing but markers: never shown as an answer
    return 0.5 * signals.confidence + 0.5 * check.support < threshold
