"""Yes/no questions the passages answer No in words: the question asks about just what a passage says is absent.

    found = privation("Does the Transformer use recurrence?", sources)
    found.text  # 'No — the passages say: “… based solely on attention mechanisms, dispensing with recurrence …” [1].'

The 1.5B model answered "Yes, it uses recurrence" from the sentence "eschewing recurrence and instead relying
entirely on an attention mechanism" (session 18's new-user pass): it leans yes. A passage sentence that puts the
question's thing after a privative ("without", "eschewing", "dispensing with", "instead of", "rather than", "in
place of", "free of", "no longer", "lacks") is a No we can show verbatim, when
- one conjunct of what follows the privative ("recurrence" of "recurrence and convolutions entirely"), up to a
  preposition, is made only of words the question uses (so "Does it use attention?" is not denied by "instead of computing attention
  once": the question must ask about computing attention once);
- the question's other words (its subject) are all in that passage, bar verbs that only say "uses" or "has";
- the question itself negates nothing ("Does it work without labels?" asks about the absence).
Word contradictions of other kinds ("longest" vs "heaviest") stay the model's: see `rag.generate.stance`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.generate.prompting import is_yes_no
from rag.text import Span, content_terms, sentence_spans
from rag.types import Citation, Hit

_PRIVATIVE = re.compile(
    r"\b(?:without|eschew(?:s|ed|ing)?|dispens(?:e|es|ed|ing) with|instead of|rather than|in place of|free of"
    r"|no longer|lacks?|lacking)\s+(?P<object>[^.;:,()\[\]]{1,80})",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(?:not|no|never|without|instead|rather|lack\w*|free of)\b|n't\b", re.IGNORECASE)
_CONJUNCTION = re.compile(r"\s+(?:and|or|nor)\s+|,\s*")
_WORD = re.compile(r"[^\W_]+")  # hyphenated words in parts: "compute- intensive" is a PDF's broken line
_SUFFIX = re.compile(r"(?:ing|ed|es|s|e)$")


def _stem(word: str) -> str:
    """A crude stem, so "computing" meets "compute" and "convolutions" "convolution"."""
    return _SUFFIX.sub("", word.lower()) or word.lower()


def _stems(text: str) -> frozenset[str]:
    """Every word of `text`, stemmed: what a question asks may hang on "once" or "all", which are stopwords."""
    return frozenset(_stem(word) for word in _WORD.findall(text))


_PREPOSITIONS = _stems("with for to on in at by from of via through into about over under between against")
_ARTICLES = _stems("a an the its their his her this that these those some any")
# Verbs a question only uses to ask whether something is there ("Does it use …", "Does it have …"). A qualifier
# stays part of what is absent: "instead of relying only on what the model memorised" denies "only", not memory.
_HAVING = _stems("use using have has had having need needs require rely relies employ include contain involve")


@dataclass(frozen=True)
class Privation:
    """A passage sentence that says the thing a yes/no question asks about is absent."""

    n: int  # the passage's number in the prompt, from 1
    hit: Hit
    span: Span  # the sentence, in the chunk's text

    @property
    def text(self) -> str:
        quote = " ".join(self.span.text.replace("**", "").split())  # a Markdown file's bold marks
        return f"No — the passages say: “{quote}” [{self.n}]."

    @property
    def citation(self) -> Citation:
        start = self.hit.chunk.start + self.span.start
        return Citation(self.n, self.hit.chunk, 1.0, start, start + len(self.span.text))


def privation(question: str, sources: Sequence[Hit]) -> Privation | None:
    """The first passage sentence (numbered as in `sources`) that says what the yes/no `question` asks about is
    absent, with the question's subject in its passage; None when there is none or the question negates."""
    if not is_yes_no(question) or _NEGATED.search(question):
        return None
    asked = _stems(question)
    subject = {_stem(term) for term in content_terms(question.replace("-", " "))}
    for n, hit in enumerate(sources, start=1):
        passage = _stems(f"{hit.chunk.context} {hit.chunk.text}")
        for span in sentence_spans(hit.chunk.text):
            denied = _denied(span.text, asked)
            if denied and subject - denied - _HAVING <= passage:
                return Privation(n, hit, span)
    return None


def _denied(sentence: str, asked: frozenset[str]) -> frozenset[str]:
    """The words of the first conjunct after a privative in `sentence` made only of `asked` words, else empty."""
    for match in _PRIVATIVE.finditer(sentence):
        for conjunct in _CONJUNCTION.split(match.group("object")):
            words = _head(conjunct)
            if words and words <= asked:
                return words
    return frozenset()


def _head(conjunct: str) -> frozenset[str]:
    """The stems of what a conjunct names, up to the first preposition after it: "performing a single attention
    function" of "… with dmodel-dimensional keys"; a leading "through", "using" or "need to" is passed over."""
    kept: list[str] = []
    for word in (_stem(w) for w in _WORD.findall(conjunct)):
        if word in _PREPOSITIONS and kept:
            break
        if word not in _PREPOSITIONS | _ARTICLES | _HAVING:
            kept.append(word)
    return frozenset(kept)
