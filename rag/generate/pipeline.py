"""`answer()`: question → standalone query → passages → streamed, grounded, checked answer.

    for event in answer("How does Solana order transactions?", library, generator):
        if isinstance(event, Retrieved): show(event.hits)      # before the first token
        elif isinstance(event, Quoted): show(event.evidence)   # the best sentences, verbatim, in ~0.1 s
        elif isinstance(event, Waiting): show(f"{event.seconds:.0f} s")  # the model is reading the prompt
        elif isinstance(event, Token): print(event.text, end="")
        elif isinstance(event, Done): final = event.answer     # text may differ from the tokens:
                                                               # markers are corrected, or we abstained
A yes/no question whose figure the passages contradict is answered No from them (`rag.generate.stance`).
Follow-ups are searched as standalone queries (`rag.generate.followups`); whether to answer at all is the abstain
gate's call (`rag.generate.gate`); markers are checked against the passages (`rag.generate.citations`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Protocol

from rag.config import Settings
from rag.embedding import Embedder
from rag.generate.citations import CitationCheck, cite
from rag.generate.evidence import score_sentences, select_evidence
from rag.generate.facts import SentenceCheck
from rag.generate.followups import rewrite_query
from rag.generate.gate import PRE_GATE, Signals, decide, measure, no_sentence_answers, unmentioned_names
from rag.generate.generator import HEARTBEAT, Generator, Message
from rag.generate.named import toward_named
from rag.generate.periods import toward_period
from rag.generate.privative import privation
from rag.generate.prompting import NOT_FOUND, HistoryItem, build_messages
from rag.generate.stance import contradiction
from rag.search.options import check_query
from rag.text import repeated_sentence_start
from rag.types import Answer, Chunk, Citation, DocumentInfo, Hit

ABSTAIN_TEXT = NOT_FOUND + " The closest passages are listed as sources."


class AnswerLibrary(Protocol):
    """What `answer` needs from a library: `rag.Library`, or one app session's view of it."""

    settings: Settings  # the answer settings used when the caller gives none
    embedder: Embedder  # scores retrieval confidence and citation support

    def search(self, query: str, k: int | None = None, documents: Sequence[str] | None = None) -> list[Hit]:
        """Ranked passages for a query, best first."""
        ...

    def chunk_neighbours(self, chunk: Chunk, n: int) -> list[Chunk]:
        """`chunk` with up to `n` chunks either side of it in its document, in reading order."""
        ...

    def page_text(self, doc_id: str, page: int) -> str:
        """The stored text of one page of a document."""
        ...

    def documents(self) -> list[DocumentInfo]:
        """Every document in the library (their file names tell a series of quarterly filings apart)."""
        ...


@dataclass(frozen=True)
class Retrieved:
    """The passages found for `query`; sent before the first token so sources show early."""

    query: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Quoted:
    """The passages' sentences that best answer the question, verbatim with `[n]`, file and page: shown while
    the model reads the prompt (`rag.generate.evidence`)."""

    evidence: tuple[Citation, ...]


@dataclass(frozen=True)
class Waiting:
    """The model is still reading the prompt (`prompt_tokens` of passages); `seconds` since the question. Sent
    about once a second before the first token, so a person sees the wait is progressing."""

    seconds: float
    prompt_tokens: int


@dataclass(frozen=True)
class Token:
    """A piece of the answer text as the model produces it."""

    text: str


@dataclass(frozen=True)
class Done:
    """The finished, checked answer."""

    answer: Answer


Event = Retrieved | Quoted | Waiting | Token | Done
_SENTENCE_ENDS = (".", "!", "?", "\n")  # a piece holding one may have completed a sentence


def answer(
    question: str,
    library: AnswerLibrary,
    generator: Generator,
    history: Sequence[HistoryItem] = (),
    settings: Settings | None = None,
    documents: Sequence[str] | None = None,
) -> Iterator[Event]:
    """Yield Retrieved, then Quoted, Waiting and Token events, and one Done. No Waiting or Token when the passages
    cannot answer (a refusal) or when their own figures answer a yes/no question No (`rag.generate.stance`).

    `settings` (default: the library's) sets the passages, the prompt and the answer's length and temperature;
    `documents` limits the search to those document names/ids. Raises QueryError for an empty or over-long
    question.
    """
    settings = settings or library.settings
    question = check_query(question, settings.max_query_chars)
    started = time.perf_counter()
    query = rewrite_query(question, history, generator if settings.query_rewrite == "llm" else None)
    hits = find_passages(question, query, library, settings, documents)
    timings = {"retrieve": time.perf_counter() - started}
    yield Retrieved(query, hits)
    signals = measure(query, hits, library.embedder)
    timings["confidence"] = round(signals.confidence, 4)
    if not hits or signals.confidence < PRE_GATE:
        yield _abstain(question, query, hits, (), started, timings)
        return
    scores = score_sentences(query, hits, library.embedder)
    prompt = build_messages(question, hits, history, settings, generator.count_tokens, scores)
    timings["prompt_tokens"] = float(prompt.tokens)
    quotes = select_evidence(query, prompt.sources, library.embedder, scores=scores)
    timings["evidence"] = time.perf_counter() - started
    if no_sentence_answers(quotes):  # on the subject, but no sentence meets the question
        yield _abstain(question, query, prompt.sources, quotes, started, timings, prompt.dropped)
        return
    absent = unmentioned_names(question, prompt.sources, library.page_text)
    if absent:  # the question asks about a name the passages' pages never mention: they are about something else
        text = f"{NOT_FOUND} No passage mentions {_listed(absent)}. The closest passages are listed as sources."
        yield _abstain(question, query, prompt.sources, quotes, started, timings, prompt.dropped, text)
        return
    yield Quoted(quotes)
    found = contradiction(question, prompt.sources) or privation(question, prompt.sources)
    if found is not None:  # a yes/no question the passages answer No, by figures or in words: no model needed
        timings["first_token"] = timings["total"] = time.perf_counter() - started
        yield Done(Answer(question, query, found.text, (found.citation,), prompt.sources, (), False, prompt.dropped,
                          quotes, timings))  # fmt: skip
        return
    pieces: list[str] = []
    yield from _generate(generator, prompt.messages, settings, started, pieces, timings)
    check = cite("".join(pieces).strip(), prompt.sources, library.embedder, question)
    result = _finish(question, query, check, prompt.sources, signals, settings, timings)
    result.timings["total"] = time.perf_counter() - started
    yield Done(dataclasses.replace(result, dropped=prompt.dropped, evidence=quotes))


def find_passages(question: str, query: str, library: AnswerLibrary, settings: Settings,
                  documents: Sequence[str] | None = None) -> tuple[Hit, ...]:  # fmt: skip
    """The passages `answer` reads: searched, moved toward what the question names (`named`) and the filing of
    the period it asks about (`periods`), each with its neighbours."""
    k = settings.top_k
    hits = tuple(library.search(query, k=k, documents=documents))
    hits = toward_named(question, query, hits, library, k, documents)
    hits = toward_period(question, query, hits, library, k, documents)
    return _with_neighbours(hits, library, settings.neighbours)


def _abstain(question: str, query: str, sources: Sequence[Hit], closest: tuple[Citation, ...], started: float,
             timings: dict[str, float], dropped: tuple[str, ...] = (), text: str = ABSTAIN_TEXT) -> Done:  # fmt: skip
    """The refusal given without asking the model, with the closest passages (and sentences, when scored)."""
    timings["total"] = timings["first_token"] = time.perf_counter() - started  # the first text shown
    return Done(Answer(question, query, text, (), tuple(sources), abstained=True, dropped=dropped,
                       evidence=closest, timings=timings))  # fmt: skip


def _listed(items: Sequence[str]) -> str:
    """"A", "A or B", "A, B or C"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _generate(
    generator: Generator,
    messages: Sequence[Message],
    settings: Settings,
    started: float,
    pieces: list[str],
    timings: dict[str, float],
) -> Iterator[Waiting | Token]:
    """Stream the model's reply as Token events (Waiting while it reads the prompt), collecting the text in
    `pieces` and the timings."""
    stream = generator.stream(messages, max_tokens=settings.max_new_tokens, temperature=settings.temperature)
    # closing(): if our caller stops early (a Stop button), the model stops generating too.
    with closing(stream):
        for piece in stream:
            if piece == HEARTBEAT:
                if not pieces:
                    yield Waiting(time.perf_counter() - started, int(timings.get("prompt_tokens", 0)))
                continue
            if not pieces:
                timings["first_token"] = time.perf_counter() - started
            pieces.append(piece)
            yield Token(piece)
            ended = piece.rstrip(" ").endswith(_SENTENCE_ENDS)  # the last sentence is complete
            if any(end in piece for end in _SENTENCE_ENDS) and _stop_repeating(pieces, ended):
                timings["repeat_stopped"] = 1.0
                break
    timings.setdefault("first_token", time.perf_counter() - started)
    timings["generate"] = time.perf_counter() - started - timings["first_token"]
    timings["tokens_per_s"] = len(pieces) / timings["generate"] if pieces and timings["generate"] > 0 else 0.0


def _stop_repeating(pieces: list[str], last_is_complete: bool) -> bool:
    """True, with `pieces` cut back to before it, when the reply has just said a sentence again: a small model
    that starts looping ("Parameters are different from hyperparameters, …" nine times) goes on to its token limit,
    ~20 s of words that add nothing."""
    text = "".join(pieces)
    cut = repeated_sentence_start(text, last_is_complete)
    if cut is None:
        return False
    pieces[:] = [text[:cut].rstrip()]
    return True


def _finish(
    question: str,
    query: str,
    check: CitationCheck,
    sources: tuple[Hit, ...],
    signals: Signals,
    settings: Settings,
    timings: dict[str, float],
) -> Answer:
    """Return the Answer: the checked text with citations, or the abstention text with the closest sources."""
    timings["support"] = round(check.support, 4)
    claim = answering_claim(check)
    if claim and claim.missing:  # the answer rests on a figure or name no passage it cites states: refuse, say which
        text = f"{NOT_FOUND} {_not_stated(claim)} The closest passages are listed as sources."
        return Answer(question, query, text, (), sources, check.unsupported, True, timings=timings)
    if decide(check, signals, settings.abstain_threshold):
        return Answer(question, query, ABSTAIN_TEXT, (), sources, check.unsupported, True, timings=timings)
    return Answer(question, query, check.text, check.citations, sources, check.unsupported, False, timings=timings)


def answering_claim(check: CitationCheck) -> SentenceCheck | None:
    """The answer's first claim: the sentence that answers, in 1-3 sentence answers (None when none claims)."""
    return next((s for s in check.sentences if s.claims), None)


def _not_stated(claim: SentenceCheck) -> str:
    """What the passages lack: "The passages do not state 14,000.", and for a figure they give for another table
    row or period, what they give it for ("They give 18,592 for “Productivity and Business Processes”, …")."""
    rows: dict[str, list[str]] = {}
    for misread in claim.misread:
        rows.setdefault(misread.row, []).append(misread.figure)
    plain = [fact for fact in claim.missing if not any(fact in figures for figures in rows.values())]
    said = [f"The passages do not state {', '.join(plain)}."] if plain else []
    said += [
        f"They give {', '.join(figures)} for “{row}”, not for what the answer says." for row, figures in rows.items()
    ]
    return " ".join(said)


def _with_neighbours(hits: tuple[Hit, ...], library: AnswerLibrary, n: int) -> tuple[Hit, ...]:
    """Small-to-big: widen each hit with up to `n` chunks either side when they continue it on the same page."""
    if n <= 0:
        return hits
    return tuple(Hit(_merge(h.chunk, library.chunk_neighbours(h.chunk, n)), h.score, h.method) for h in hits)


def _merge(chunk: Chunk, neighbours: Sequence[Chunk]) -> Chunk:
    """Return `chunk` extended over overlapping/adjacent neighbours on its page (text stays a page slice)."""
    start, end, text = chunk.start, chunk.end, chunk.text
    for other in sorted(neighbours, key=lambda c: c.start):
        if other.page != chunk.page or other.doc_id != chunk.doc_id:
            continue
        if other.end > end and other.start <= end:
            text, end = text + other.text[end - other.start :], other.end
        elif other.start < start and other.end >= start:
            text, start = other.text[: start - other.start] + text, other.start
    return dataclasses.replace(chunk, start=start, end=end, text=text)
