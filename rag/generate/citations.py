"""Checking an answer against its passages: `[n]` markers, uncited sentences, unsupported claims.

A small model cites unreliably, so the app never trusts the markers alone:
- a marker that names no passage (`[7]` with 5 passages) is removed and reported in `invalid`;
- every answer sentence is scored against every passage (lexical recall of the sentence's terms, plus
  embedding similarity to the passage's best sentence when an embedder is given);
- a cited sentence keeps its marker when the cited passage supports it, and is re-pointed to a clearly
  better passage otherwise; an uncited sentence gets the marker of the best supporting passage;
- a sentence no passage supports is listed in `unsupported`.
Each `Citation` carries the page offsets of the passage sentence that supports the claim.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.entities import numbers
from rag.generate.facts import (
    SUPPORT_THRESHOLD,
    Match,
    SentenceCheck,
    bare_no_to_a_figure,
    check_facts,
    claim_of,
    confirmed_figures,
    grounded_names,
)
from rag.generate.prompting import NOT_FOUND, is_yes_no
from rag.text import (
    MARKER,
    REPORTING,
    Span,
    content_terms,
    finished_part,
    is_heading,
    parse_markers,
    sentence_spans,
    strip_markers,
)
from rag.types import Citation, Hit

# Words of a sentence that points at the passages without saying anything ("This information is found in [1].").
POINTER_WORDS = frozenset(
    ["information", "answer", "found", "mentioned", "stated", "provided", "given", "described", "explained", "detail", "passage", "source", "document", "context", "text", "above", "below", "following", "question",
     "first", "second", "third", "last", "previous", "clearly", "explicitly", "directly", "specifically"]
)
REPOINT_MARGIN = 0.15  # another passage must beat the cited one by this much to take the citation
# "claim. [1]" → "claim [1].", but "claim. [1] explains that…" keeps its marker: it opens the next sentence
_TRAILING = re.compile(r"([.!?])((?:" + MARKER.pattern + r")+)(?!\s+" + REPORTING + ")")
_REFUSALS = re.compile(
    r"could ?n[o']t find|can ?n[o']t find|(?:do|does|did) not (?:contain|mention|provide|include|say|specify)|"
    r"(?:don|doesn|didn)'t (?:contain|mention|provide|include|say|specify)|no (?:information|mention|details)|"
    r"not (?:mentioned|provided|specified|stated|available|included|found|given) in|\bI (?:do not|don't) know\b|"
    r"(?:is|are) not (?:mentioned|discussed|covered)",
    re.IGNORECASE,
)



@dataclass(frozen=True)
class CitationCheck:
    """The checked answer: cleaned text, one Citation per passage used, and what could not be backed."""

    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceCheck, ...]
    unsupported: tuple[str, ...]
    invalid: tuple[int, ...]  # marker numbers that named no passage
    refused: bool  # the model said the passages do not contain the answer

    @property
    def support(self) -> float:
        """Fraction of factual sentences that a passage supports (1.0 when there are none)."""
        claims = [s for s in self.sentences if s.claims]
        return sum(s.supported for s in claims) / len(claims) if claims else 1.0

    @property
    def claims_nothing(self) -> bool:
        """True when no sentence states anything: only refusals, pointers or the question said back."""
        return not any(s.claims for s in self.sentences)


RESTATED_SHARE = 0.8  # a sentence holding this share of the question's terms, and no others, only says it back
_EITHER_OR = re.compile(r"\bor\b", re.IGNORECASE)
_LEAD_IN = re.compile(r"^\s*(?:specifically|in particular|more specifically|namely|in detail),\s*", re.IGNORECASE)


def is_pointer(sentence: str) -> bool:
    """True for a sentence that only points at passages ("The answer is in [2].", "[1][3].") and states nothing."""
    return content_terms(strip_markers(sentence)) <= POINTER_WORDS


def restates_question(sentence: str, question: str) -> bool:
    """True for a sentence that only says the question back ("In the Q1 2023 10-Q, Microsoft provided details about
    changes in debt and interest expenses."): no term beyond the question's and pointing words, and most of the
    question's. It claims nothing, so it neither backs an answer nor counts against one (SEC: three supported
    figures after it were refused for it). Not for yes/no or either-or questions, whose own words can be the answer
    ("Proof of History orders the transactions.")."""
    if not question or is_yes_no(question) or _EITHER_OR.search(question):
        return False
    asked, said = content_terms(question), content_terms(strip_markers(sentence))
    return bool(said) and said <= asked | POINTER_WORDS and len(said & asked) >= RESTATED_SHARE * len(asked)


def is_refusal(text: str) -> bool:
    """Return True when `text` says the passages do not hold the answer."""
    return NOT_FOUND.lower().rstrip(".") in text.lower() or bool(_REFUSALS.search(text))


def cite(text: str, sources: Sequence[Hit], embedder: Any = None, question: str = "") -> CitationCheck:
    """Check `text` against `sources` (numbered from 1); returns the cleaned text, citations and flags.

    `question` lets a denial repeat what it denies: "No, it has 6 layers, not 8 [1]" need not find 8; and makes a
    "Yes" answer to "Was it validated in three laboratories?" need a cited passage that states three.
    """
    spans = sentence_spans(_TRAILING.sub(r" \2\1 ", text), markdown_bullets=False)  # an answer keeps its list
    # "…, which is [2]." loses its unfinished clause; "The gross margin … is [1]." says nothing and goes
    spans = [Span(s.start, s.end, kept) for s in spans if (kept := finished_part(s.text)) is not None]
    grounded = grounded_names(question, sources)
    passage_spans = [
        sentence_spans(hit.chunk.text) or [Span(0, len(hit.chunk.text), hit.chunk.text)] for hit in sources
    ]
    claims = [claim_of(strip_markers(s.text), question) for s in spans]
    documents = [hit.chunk.document for hit in sources]
    scores = _support_matrix(claims, passage_spans, embedder, list(numbers(question)), documents)
    checks: list[SentenceCheck] = []
    supports: dict[int, list[tuple[float, Span]]] = {}  # passage n → (score, passage sentence) per claim citing it
    invalid: list[int] = []
    pieces: list[str] = []
    restated = _restated(spans, claims, question)
    for i, span in enumerate(spans):
        if is_pointer(claims[i]):  # "This information is found in passages [1] and [2].": no claim to show
            continue
        if i in restated:  # the question said back before the answer: not shown, not counted
            checks.append(SentenceCheck(span.text, (), 0.0, False, restates=True))
            continue
        follows_restated = i - 1 in restated
        markers = parse_markers(span.text)
        invalid += [n for n in markers if not 1 <= n <= len(sources)]
        valid = [n for n in markers if 1 <= n <= len(sources)]
        check = check_facts(_check_sentence(span.text, valid, scores[i]), sources, question, grounded, scores[i])
        checks.append(check)
        for n in check.cited if check.supported else ():
            supports.setdefault(n, []).append((scores[i][n - 1].score, scores[i][n - 1].span))
        shown = _without_lead_in(span.text) if follows_restated else span.text  # "Specifically, …" led on from it
        pieces.append(_render(shown, check))
    checks = bare_no_to_a_figure(confirmed_figures(checks, sources, question), question)
    citations = tuple(_citation(n, sources[n - 1], supports[n]) for n in sorted(supports))
    unsupported = tuple(strip_markers(c.text).strip() for c in checks if not c.supported and c.claims)
    refused = bool(checks) and checks[0].refusal and not any(c.supported and not c.refusal for c in checks)
    return CitationCheck(" ".join(pieces), citations, tuple(checks), unsupported, tuple(sorted(set(invalid))), refused)


def _without_lead_in(sentence: str) -> str:
    """The sentence without a lead-in that pointed back at a sentence no longer shown: "Specifically, it …" → "It …"."""
    rest = _LEAD_IN.sub("", sentence, count=1)
    return rest[:1].upper() + rest[1:] if rest != sentence else sentence


def _restated(spans: Sequence[Span], claims: Sequence[str], question: str) -> set[int]:
    """The sentences that only say the question back, when others in the reply state something; a reply that
    is nothing but the question said back is checked like any claim (and rarely passes)."""
    candidates = {i for i, claim in enumerate(claims) if restates_question(claim, question)}
    stating = [i for i, span in enumerate(spans) if i not in candidates and not is_pointer(claims[i])
               and not is_refusal(span.text)]  # fmt: skip
    return candidates if stating else set()


def _check_sentence(sentence: str, cited: list[int], matches: list[Match]) -> SentenceCheck:
    """Decide which passages back one sentence, correcting or adding markers where the evidence says so."""
    if is_refusal(sentence):
        return SentenceCheck(sentence, (), 0.0, False, refusal=True)
    if not matches:
        return SentenceCheck(sentence, tuple(dict.fromkeys(cited)), 0.0, False)
    best_n = int(np.argmax([m.score for m in matches])) + 1
    best = matches[best_n - 1].score
    if cited:
        kept = [n for n in dict.fromkeys(cited) if matches[n - 1].score >= SUPPORT_THRESHOLD]
        cited_best = max(matches[n - 1].score for n in cited)
        if kept and best - cited_best < REPOINT_MARGIN:
            return SentenceCheck(sentence, tuple(kept), cited_best, True)
        if best >= SUPPORT_THRESHOLD:
            return SentenceCheck(sentence, (best_n,), best, True, inferred=True)
        return SentenceCheck(sentence, tuple(dict.fromkeys(cited)), cited_best, False)
    if best >= SUPPORT_THRESHOLD:
        return SentenceCheck(sentence, (best_n,), best, True, inferred=True)
    return SentenceCheck(sentence, (), best, False)


def _render(sentence: str, check: SentenceCheck) -> str:
    """Return the sentence with its markers rewritten to the checked ones, placed before the final stop."""
    bare = strip_markers(sentence).rstrip()
    if not check.cited:
        return bare
    markers = "".join(f"[{n}]" for n in check.cited)
    if bare and bare[-1] in ".!?:;":
        return f"{bare[:-1]} {markers}{bare[-1]}"
    return f"{bare} {markers}"


def _citation(n: int, hit: Hit, supports: list[tuple[float, Span]]) -> Citation:
    """Return a Citation of passage `n` with page offsets (chunk offset + sentence offset): its main span is the
    best-supported claim's sentence, and `spans` every claim's, so "7 TPS [1]" and "storage [1]" both show."""
    score, best = max(supports, key=lambda s: s[0])
    at = hit.chunk.start
    spans = tuple(sorted({(at + span.start, at + span.end) for _, span in supports}))
    return Citation(n, hit.chunk, round(float(score), 4), at + best.start, at + best.end, spans)


def _support_matrix(
    sentences: list[str],
    passages: list[list[Span]],
    embedder: Any,
    asked: Sequence[str] = (),
    documents: Sequence[str] = (),
) -> list[list[Match]]:
    """Return, per answer sentence and passage, the best-supporting passage sentence and its score.

    score = lexical recall of the sentence's content terms in the passage (0..1), averaged with the
    cosine to the passage's most similar sentence when an embedder is available.
    The passage sentence shown as the support is a statement, not a heading line of a Markdown `document`, and the
    one stating most of the claim's own figures (those not `asked` by the question: "$7,709 million" picks the
    table row, not the prose about R&D), then the best by
    cosine and rarity-weighted term recall: for "Is LoRA's B initialised to zero?" the sentence saying "B is
    initialised to zero" beats one that merely names LoRA and a matrix.
    """
    flat = [span for spans in passages for span in spans]
    sims = _cosines(sentences, [s.text for s in flat], embedder)
    flat_terms = [content_terms(s.text) for s in flat]
    flat_figures = [set(numbers(s.text)) for s in flat]
    names = documents or [""] * len(passages)
    flat_heading = [is_heading(s.text, name) for name, spans in zip(names, passages, strict=True) for s in spans]
    starts = np.cumsum([0, *(len(spans) for spans in passages)])
    passage_terms = [set().union(*flat_terms[a:b]) for a, b in zip(starts, starts[1:], strict=False)]
    weight = _rarity(flat_terms)
    out: list[list[Match]] = []
    for i, sentence in enumerate(sentences):
        words, claimed = content_terms(sentence), set(numbers(sentence)) - set(asked)
        total = sum(weight(w) for w in words) or 1.0
        row: list[Match] = []
        offset = 0
        for p, spans in enumerate(passages):
            recall = len(words & passage_terms[p]) / len(words) if words else 0.0
            local = [sum(weight(w) for w in words & t) / total for t in flat_terms[offset : offset + len(spans)]]
            if sims is not None:
                local = [0.5 * lex + 0.5 * float(sims[i, offset + j]) for j, lex in enumerate(local)]
            ranked = [(not flat_heading[offset + j], len(claimed & flat_figures[offset + j]), value)
                      for j, value in enumerate(local)]  # fmt: skip
            cosine = float(sims[i, offset : offset + len(spans)].max()) if sims is not None else None
            score = recall if cosine is None else 0.5 * recall + 0.5 * max(cosine, 0.0)
            row.append(Match(score, spans[max(range(len(spans)), key=ranked.__getitem__)]))
            offset += len(spans)
        out.append(row)
    return out


def _rarity(sentence_terms: list[set[str]]) -> Callable[[str], float]:
    """Return term → weight, log(1 + N / sentences holding it): a term in every sentence says least."""
    counts = Counter(term for terms in sentence_terms for term in terms)
    n = len(sentence_terms)
    return lambda term: float(np.log1p(n / (counts[term] or 1)))


def _cosines(sentences: list[str], passage_sentences: list[str], embedder: Any) -> np.ndarray | None:
    """Return the (answer sentences × passage sentences) cosine matrix, or None without an embedder."""
    if embedder is None or not sentences or not passage_sentences:
        return None
    vectors = np.asarray(embedder.encode(list(sentences) + list(passage_sentences)), dtype=np.float32)
    return vectors[: len(sentences)] @ vectors[len(sentences) :].T
