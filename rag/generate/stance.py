"""Yes/no questions decided by the passages' own figures, not by the model's first word.

    found = contradiction("Were the assays validated in three laboratories?", sources)
    found.text  # 'No — the passages state five, not three: "the assays were validated in five international laboratories" [2].'

Asked "Is it N?", the 1.5B model says "Yes" and then gives the passage's other figure, or repeats N and gets refused
by the fact check (issue 14: on "no" questions it was right a third of the time). A question's figure that no
passage states, where a passage sentence says the same thing about another figure, is a No we can show verbatim.

A sentence contradicts the question when
- the question's figure (digits or a number word up to twenty) occurs in no passage at all — so a question whose
  figure some passage states is never contradicted here, whatever else the passages say;
- the sentence states another figure in the same slot: the content words next to it (WINDOW either side) share a
  word with the words next to the question's figure ("three *kinds of nodes*" / "two *kinds of nodes*");
- its passage (with the passage's context header) holds at least MIN_COVERAGE of the question's other content
  words, so it talks about the same thing (the sentence alone often names it by "the assays", "it").
Contradictions in words ("longest" vs "heaviest") are left to the model: no rule here tells a paraphrase from an
opposite.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.generate.prompting import is_yes_no
from rag.text import Span, content_terms, figures, numbers_stated, sentence_spans
from rag.types import Citation, Hit

WINDOW = 4  # content words either side of a figure that say what it counts
MIN_COVERAGE = 0.5  # share of the question's other content words its passage must hold
_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?|[^\W_]+(?:[-'][^\W_]+)*")  # "31,847" and "4.5" stay one token


@dataclass(frozen=True)
class Contradiction:
    """A passage sentence that states `stated` where the question asked about `asked` (figures as written)."""

    n: int  # the passage's number in the prompt, from 1
    hit: Hit
    span: Span  # the sentence, in the chunk's text
    asked: tuple[str, ...]
    stated: tuple[str, ...]
    coverage: float

    @property
    def text(self) -> str:
        """The answer shown: No, which figure the passages give instead, and the sentence verbatim with its [n]."""
        quote = " ".join(self.span.text.split())
        return f"No — the passages state {_listed(self.stated)}, not {_listed(self.asked)}: “{quote}” [{self.n}]."

    @property
    def citation(self) -> Citation:
        start = self.hit.chunk.start + self.span.start
        return Citation(self.n, self.hit.chunk, round(self.coverage, 4), start, start + len(self.span.text))


def contradiction(question: str, sources: Sequence[Hit]) -> Contradiction | None:
    """Return the passage sentence (numbered as in `sources`) that gives another figure for the yes/no
    `question`'s figure, best covered first; None when the question is not yes/no or nothing contradicts it."""
    if not is_yes_no(question):
        return None
    stated_anywhere = numbers_stated(" ".join(f"{h.chunk.context} {h.chunk.text}" for h in sources))
    absent = {value: written for value, written in figures(question).items() if value not in stated_anywhere}
    if not absent:
        return None
    asked = figures(question)
    slot = set().union(*(_beside(question, written) for written in absent.values()))
    wanted = content_terms(question) - set(asked) - {w.lower() for w in asked.values()}
    best: Contradiction | None = None
    for n, hit in enumerate(sources, start=1):
        have = content_terms(hit.chunk.text) | content_terms(hit.chunk.context)
        coverage = len(wanted & have) / len(wanted) if wanted else 0.0
        if coverage < MIN_COVERAGE:
            continue
        for span in sentence_spans(hit.chunk.text):
            found = _contradicts(span, hit, n, asked, slot, coverage)
            if found and (best is None or _rank(found, wanted) > _rank(best, wanted)):
                best = found
    return best


def _rank(found: Contradiction, wanted: set[str]) -> tuple[float, float]:
    """Passages that cover the question best first; within them, the sentence holding most of its words."""
    return found.coverage, len(wanted & content_terms(found.span.text)) / len(wanted)


def _contradicts(
    span: Span, hit: Hit, n: int, asked: dict[str, str], slot: set[str], coverage: float
) -> Contradiction | None:
    """The sentence as a Contradiction when it states a figure the question does not, in the question's slot."""
    others = {v: w for v, w in figures(span.text).items() if v not in asked}
    in_slot = tuple(w for w in others.values() if _beside(span.text, w) & slot)
    if not in_slot:
        return None
    absent = tuple(w for v, w in asked.items() if v not in numbers_stated(span.text))
    return Contradiction(n, hit, span, absent, in_slot, coverage)


def _beside(text: str, written: str) -> set[str]:
    """The WINDOW nearest content words either side of each place `written` (a figure) occurs in `text`
    (stopwords and other figures skipped: "18 of the 21 block producers" → block, producer)."""
    tokens = _TOKEN.findall(text)
    target = _normal(written)
    found: set[str] = set()
    for i, token in enumerate(tokens):
        if _normal(token) == target:
            found |= _content(reversed(tokens[:i])) | _content(tokens[i + 1 :])
    return found


def _content(tokens: Iterable[str]) -> set[str]:
    """The first WINDOW content words (no figures) among `tokens`, in order."""
    kept: list[str] = []
    for token in tokens:
        kept += [t for t in content_terms(token) if not t[0].isdigit()]
        if len(kept) >= WINDOW:
            break
    return set(kept[:WINDOW])


def _normal(token: str) -> str:
    return token.lower().replace(",", "")


def _listed(items: tuple[str, ...]) -> str:
    return " and ".join(dict.fromkeys(items))
