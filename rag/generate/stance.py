"""Yes/no questions decided by the passages' own figures, not by the model's first word.

    found = contradiction("Were the assays validated in three laboratories?", sources)
    found.text  # 'No — the passages state five, not three: "the assays were validated in five international laboratories" [2].'

Asked "Is it N?", the 1.5B model says "Yes" and then gives the passage's other figure, or repeats N and gets refused
by the fact check (issue 14: on "no" questions it was right a third of the time). A question's figure that no
passage states, where a passage sentence says the same thing about another figure, is a No we can show verbatim.

A sentence contradicts the question when
- no passage sentence (nor context header) states the question's figure beside the words the question puts beside
  it ("three phases" does not state the "three" of "three kinds of nodes"); references like "(3)" or "[1, 9]"
  are not figures;
- the sentence states another figure of the same kind (a year for a year, a share for a share) whose neighbouring
  content words (WINDOW either side) share a word with the question figure's ("two *kinds of nodes*"); of several,
  the one counting the same thing (the word right after it) is named, then the one sharing the rarest words;
- its passage (with its context header) holds at least MIN_COVERAGE of the question's other content words, so it
  talks about the same thing (the sentence alone often says "the assays" or "it").
Contradictions in words ("longest" vs "heaviest") are left to the model: a word-substitution rule built the same
way fired on paraphrases ("add" / "insert") of "yes" questions (docs/answer-quality.md, "The stance rule").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.entities import figures, is_year, numbers_stated
from rag.generate.prompting import is_yes_no
from rag.text import Span, content_terms, sentence_spans
from rag.types import Citation, Hit

WINDOW = 4  # content words either side of a figure that say what it counts
MIN_COVERAGE = 0.5  # share of the question's other content words its passage must hold
# "[1, 9]", "(3)": references and list numbers, not figures
_CITATION_NUMBERS = re.compile(r"\[\d+(?:\s*[,\-–]\s*\d+)*\]|\(\d{1,3}(?:\s*[,\-–]\s*\d{1,3})*\)")
_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b")
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


@dataclass(frozen=True)
class _Asked:
    """What the question says about its figures that no passage states (see the module docstring)."""

    figures: dict[str, str]  # all its figures, value → as written
    slot: set[str]  # content words beside the unstated figures
    next_to: set[str]  # the word right after each: what it counts
    kinds: set[str]  # "year", "day", "share" or "count"
    wanted: set[str]  # the question's other content words


def contradiction(question: str, sources: Sequence[Hit]) -> Contradiction | None:
    """Return the passage sentence (numbered as in `sources`) that gives another figure for the yes/no
    `question`'s figure, best covered first; None when the question is not yes/no or nothing contradicts it."""
    if not is_yes_no(question):
        return None
    sentences = [(n, hit, span) for n, hit in enumerate(sources, start=1) for span in sentence_spans(hit.chunk.text)]
    texts = [hit.chunk.context for hit in sources] + [span.text for _, _, span in sentences]
    in_question = figures(question)
    absent = _unstated(question, in_question, texts)
    if not absent:
        return None
    rarity = _rarity([span.text for _, _, span in sentences])
    asked = _Asked(
        figures=in_question,
        slot=set().union(*(_beside(question, written) for written in absent)),
        next_to=set().union(*(_after(question, written) for written in absent)),
        kinds={_kind(question, written) for written in absent},
        wanted=content_terms(question) - set(in_question) - {w.lower() for w in in_question.values()},
    )
    best: tuple[float, Contradiction] | None = None
    for n, hit, span in sentences:
        have = content_terms(hit.chunk.text) | content_terms(hit.chunk.context)
        coverage = len(asked.wanted & have) / len(asked.wanted) if asked.wanted else 0.0  # a paraphrase costs nothing
        found = _contradicts(span, hit, n, asked, rarity, coverage) if coverage >= MIN_COVERAGE else None
        if found is not None:
            rank = _share(asked.wanted, content_terms(span.text), rarity) + _share(
                asked.slot, _beside_any(found), rarity
            )
            if best is None or rank > best[0]:
                best = (rank, found)
    return best[1] if best else None


def _unstated(question: str, asked: dict[str, str], texts: Sequence[str]) -> list[str]:
    """The question's figures (as written) that no text states beside the words the question puts beside them:
    "three" in "three phases" does not state the "three" of "three kinds of nodes"; "three kinds" does."""
    unstated = []
    for value, written in asked.items():
        slot = _beside(question, written)
        bare = (_CITATION_NUMBERS.sub(" ", text) for text in texts)
        if not any(value in numbers_stated(text) and _beside_value(text, value) & slot for text in bare):
            unstated.append(written)
    return unstated


def _beside_value(text: str, value: str) -> set[str]:
    """Content words beside each way `text` writes the figure `value` ("3", "three", "3.0")."""
    return set().union(*(_beside(text, w) for v, w in figures(text).items() if v == value))


def _contradicts(
    span: Span, hit: Hit, n: int, asked: _Asked, rarity: dict[str, float], coverage: float
) -> Contradiction | None:
    """The sentence as a Contradiction when it states a figure of the asked kind that the question does not, beside
    the question's words; the figure counting the same thing is named first, then the one sharing the rarest words."""
    text = _CITATION_NUMBERS.sub(" ", span.text)
    candidates = [w for v, w in figures(text).items() if v not in asked.figures and _kind(text, w) in asked.kinds]
    weight = {
        w: (bool(_after(text, w) & asked.next_to), sum(rarity.get(t, 1.0) for t in shared))
        for w in candidates
        if (shared := _beside(text, w) & asked.slot)
    }
    if not weight:
        return None
    top = max(weight.values())
    stated = tuple(w for w, score in weight.items() if score == top)
    unstated = tuple(w for v, w in asked.figures.items() if v not in numbers_stated(text))
    return Contradiction(n, hit, span, unstated, stated, coverage)


def _kind(text: str, written: str) -> str:
    """What a figure is, from how it is written where it first occurs: "year", "day" (of a date), "share"
    (% or percent) or "count"."""
    at = _first_at(text, written)
    after, before = text[at + len(written) : at + len(written) + 9].lower(), text[max(0, at - 10) : at].lower()
    if after.lstrip().startswith(("%", "percent", "per cent")):
        return "share"
    if _MONTH.search(after[:9].split(",")[0]) or _MONTH.search(before):
        return "day" if not is_year(written) else "year"
    return "year" if is_year(written) else "count"


def _first_at(text: str, written: str) -> int:
    """Where `written` first occurs in `text` as a whole token (0 when it does not)."""
    match = re.search(rf"(?<![\w.,]){re.escape(written)}(?![\w]|[.,]\d)", text)
    return match.start() if match else 0


def _beside_any(found: Contradiction) -> set[str]:
    return set().union(*(_beside(found.span.text, w) for w in found.stated))


def _rarity(texts: Sequence[str]) -> dict[str, float]:
    """Inverse sentence frequency of each content word among `texts`: "cough" in one sentence of thirty outweighs
    "patients" in ten, so the sentence about coughs wins over one that only shares the common words."""
    counts: dict[str, int] = {}
    for text in texts:
        for term in content_terms(text):
            counts[term] = counts.get(term, 0) + 1
    return {term: math.log((len(texts) + 1) / (count + 0.5)) for term, count in counts.items()}


def _share(wanted: set[str], have: set[str], rarity: dict[str, float]) -> float:
    """The rarity-weighted share of `wanted` found in `have`; words no text has count 1 (they rank no sentence)."""
    total = sum(rarity.get(w, 1.0) for w in wanted)
    return sum(rarity.get(w, 1.0) for w in wanted & have) / total if total else 0.0


def _after(text: str, written: str) -> set[str]:
    """The first content word after each place `written` occurs in `text`: what the figure counts."""
    return _beside(text, written, 1, before=False)


def _beside(text: str, written: str, window: int = WINDOW, before: bool = True) -> set[str]:
    """The WINDOW nearest content words either side of each place `written` (a figure) occurs in `text`
    (stopwords and other figures skipped: "18 of the 21 block producers" → block, producer)."""
    tokens = _TOKEN.findall(text)
    target = _normal(written)
    found: set[str] = set()
    for i, token in enumerate(tokens):
        if _normal(token) == target:
            found |= _content(tokens[i + 1 :], window) | (_content(reversed(tokens[:i]), window) if before else set())
    return found


def _content(tokens: Iterable[str], window: int) -> set[str]:
    """The first `window` content words (no figures) among `tokens`, in order."""
    kept: list[str] = []
    for token in tokens:
        kept += [t for t in content_terms(token) if not t[0].isdigit()]
        if len(kept) >= window:
            break
    return set(kept[:window])


def _normal(token: str) -> str:
    return token.lower().replace(",", "")


def _listed(items: tuple[str, ...]) -> str:
    return " and ".join(dict.fromkeys(items))
