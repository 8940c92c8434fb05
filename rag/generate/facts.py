"""The facts of an answer sentence: its numbers and names must be stated by a passage it cites, and a reply to a
yes/no question is read as the question's claim ("Yes" asserts the question's figures, "No" may repeat them, a bare
"Yes [1]" / "No [1]" claims what the question asked). Used by `rag.generate.citations.cite`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.entities import figures, is_year, mentions, names, numbers, numbers_stated, percentages
from rag.generate.prompting import is_yes_no
from rag.generate.row_facts import Misreading, misread_figures, misreading
from rag.text import Span, content_terms, sentence_spans, strip_markers
from rag.types import Hit

SUPPORT_THRESHOLD = 0.45  # combined support score at which a sentence counts as backed by a passage
MAX_ADDED_CITATIONS = 2  # passages added to a sentence because they state a figure or name its citation lacks
_YES = re.compile(r"^\W*yes\b", re.IGNORECASE)
_VERDICT = re.compile(r"^\W*(?:yes|no)\W*$", re.IGNORECASE)  # "Yes [1]": the whole answer to a yes/no question
_DENIAL = re.compile(r"^\W*no\b|\b(?:not|never|neither|nor|rather than|instead of)\b|n't\b", re.IGNORECASE)


@dataclass(frozen=True)
class SentenceCheck:
    """One answer sentence: the passages it cites (after correction), its support and where it sits."""

    text: str
    cited: tuple[int, ...]
    support: float
    supported: bool
    inferred: bool = False  # the marker was added or re-pointed by us, not written by the model
    refusal: bool = False  # the sentence says the passages lack the answer
    restates: bool = False  # it only says the question back: no claim, neither supported nor unsupported
    missing: tuple[str, ...] = ()  # numbers and names the sentence states that no passage it cites does
    misread: tuple[Misreading, ...] = ()  # those of `missing` its passages give for another table row or period

    @property
    def claims(self) -> bool:
        """True for a sentence that states something (not a refusal, not the question said back)."""
        return not self.refusal and not self.restates


@dataclass(frozen=True)
class Match:
    """The passage sentence that best supports an answer sentence, and how well."""

    score: float
    span: Span  # the supporting sentence inside the passage's chunk text


def claim_of(sentence: str, question: str) -> str:
    """What `sentence` claims, for support scoring. A bare "Yes." or "No." claims what the yes/no question asked,
    so a passage about that backs it; scored as the word alone, right verdicts were refused (yes/no bench)."""
    return question if question and _VERDICT.match(sentence) and is_yes_no(question) else sentence


def bare_no_to_a_figure(checks: list[SentenceCheck], question: str) -> list[SentenceCheck]:
    """A bare "No [1]" to a question that asks about a figure is no answer: it shows nothing to rest on; where the
    passages state another figure the stance rule has already answered No from them (`rag.generate.stance`), before
    the model. Asked of topical passages without the answer, the model said "No [1]" to "Had twenty-six deaths been
    linked to the outbreak as of 24 January 2020?"; where the passage stated the figure, to "… fever in 98%?"."""
    if not checks or not _VERDICT.match(strip_markers(checks[0].text)) or _YES.match(checks[0].text):
        return checks
    # counted as no answer (like a refusal), so no retrieval confidence, however high, shows it; a year only dates
    # the question ("Did Mac net sales increase in the third quarter of 2023?" → "No [1]" stands on its passage)
    counts = [value for value in figures(question) if not is_year(value)]
    return [replace(checks[0], supported=False, refusal=True), *checks[1:]] if counts else checks


def confirmed_figures(checks: list[SentenceCheck], sources: Sequence[Hit], question: str) -> list[SentenceCheck]:
    """A reply that starts "Yes" asserts the question's figures: a passage it cites must state each one, or its
    first sentence is unsupported with those figures missing (which turns the answer into a refusal that names
    them). Unprompted, the model said "Yes" and then gave the passage's other figure ("five laboratories")."""
    if not question or not checks or not _YES.match(checks[0].text):
        return checks
    cited = sorted({n for check in checks for n in check.cited})
    stated = numbers_stated(stated_by([sources[n - 1] for n in cited]))
    missing = tuple(written for value, written in sorted(figures(question).items()) if value not in stated)
    if not missing:
        return checks
    both = tuple(dict.fromkeys(checks[0].missing + missing))  # the sentence's own check may have named them
    return [replace(checks[0], supported=False, missing=both), *checks[1:]]


def grounded_names(question: str, sources: Sequence[Hit]) -> frozenset[str]:
    """The question's names that some passage mentions: the answer may repeat them whichever passage it cites."""
    everything = stated_by(sources)
    return frozenset(name for name in names(question) if mentions(everything, name))


def stated_by(passages: Sequence[Hit]) -> str:
    """All that `passages` state, for the fact checks: each one's file name, context header and text."""
    return " ".join(f"{h.chunk.document} {h.chunk.context} {h.chunk.text}" for h in passages)


def missing_facts(
    sentence: str, passages: Sequence[Hit], question: str = "", grounded: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """The numbers and names `sentence` states that none of `passages` does (their text, header or file name).

    Names the question used are checked too (measured, session 6): letting them pass took SEC questions asked of
    the other companies' filings from 0.75 refused to 0.40 ("Apple's revenue was … [1]" citing a Microsoft
    filing), for no fewer wrong refusals of answerable ones.

    A denial ("No, …", "… is not …") may repeat the question's numbers and names: it says they are not so (and may
    give a figure of another row or period: "… was $5,931, not the nine months' $20,923"). Any
    sentence may repeat a `grounded` name: one the question used and some passage mentions ("Transformer" asked of
    the Transformer paper, cited to a page that says "the model"); a name no passage mentions ("Apple" asked of
    Microsoft's filings) is still missing.

    Numbers compare by value as written with digits ("14,000" = "14000", "1.30" = "1.3"); a passage's number words
    up to twenty count too. A percentage must be one in the passages too ("32.2%" is not the exhibit "32.2"), and a
    number must be said of what the claim is about (`anchored`), and a figure read off a table row of that row and
    the period the claim names (`rag.generate.row_facts.misreading`). Names compare as whole words, acronyms by case
    (`rag.entities.mentions`).
    """
    claim = strip_markers(sentence)
    haystack, denial = stated_by(passages), is_denial(claim)
    if question and denial:
        haystack += " " + question
    stated, shares, claimed_shares = numbers_stated(haystack), percentages(haystack), percentages(claim)
    missing = [
        f"{written}%" if value in claimed_shares else written
        for value, written in sorted(numbers(claim).items())
        if value not in stated
        or (value in claimed_shares and value not in shares)  # "32.2%" of exhibit "32.2"
        or not anchored(value, claim, passages, question)  # "NVIDIA has 24 employees" from page number "24"
        or (not denial and misreading(value, claim, passages, question))  # "Personal Computing … $18,592": another row
    ]
    missing += [name for name in sorted(names(claim)) if name not in grounded and not mentions(haystack, name)]
    return tuple(missing)


def anchored(value: str, claim: str, passages: Sequence[Hit], question: str = "") -> bool:
    """Whether a sentence of `passages` that states the number `value` shares a word with `claim` (beyond numbers):
    a number a passage states only about something else does not back the claim. Asked "How many employees does
    NVIDIA have?", the model answered "NVIDIA has 24 employees [4]": the page's only "24" was its page number,
    glued to the last line ("If our estimates of customer 24"). A number the file name, a context header or the
    question states is anchored there."""
    if value in numbers_stated(" ".join([question, *(f"{h.chunk.document} {h.chunk.context}" for h in passages)])):
        return True
    words = {term for term in content_terms(claim, split_hyphens=True) if not term.replace(".", "").isdigit()}
    return any(
        value in numbers_stated(span.text) and words & content_terms(span.text, split_hyphens=True)
        for hit in passages
        for span in sentence_spans(hit.chunk.text)
    )


def is_denial(sentence: str) -> bool:
    """Return True when `sentence` answers "no" or negates what it states ("No, …", "… does not …")."""
    return bool(_DENIAL.search(sentence))


def check_facts(
    check: SentenceCheck,
    sources: Sequence[Hit],
    question: str = "",
    grounded: frozenset[str] = frozenset(),
    matches: Sequence[Match] = (),
) -> SentenceCheck:
    """A supported sentence whose numbers or names its cited passages do not state is not supported after all —
    unless another passage that supports it too states them: then it is cited as well (the sentence combined two
    passages, "spending was $2,722 million … revenue of $11,715 million", and cited one or none).
    """
    if not check.supported or not check.cited:
        return check
    cited = list(check.cited)
    first = missing = missing_facts(check.text, [sources[n - 1] for n in cited], question, grounded)
    for n in sorted(range(1, len(matches) + 1), key=lambda n: -matches[n - 1].score):
        if not missing or len(cited) >= len(check.cited) + MAX_ADDED_CITATIONS:
            break
        if n in cited or matches[n - 1].score < SUPPORT_THRESHOLD:
            continue
        fewer = missing_facts(check.text, [sources[c - 1] for c in [*cited, n]], question, grounded)
        if len(fewer) < len(missing):
            cited, missing = [*cited, n], fewer
    if missing:  # not all found: the sentence stays with its own citations, unsupported
        misread = misread_figures(strip_markers(check.text), [sources[n - 1] for n in check.cited], question)
        return replace(check, supported=False, missing=first, misread=misread)
    return replace(check, cited=tuple(cited), inferred=check.inferred or len(cited) > len(check.cited))
