"""`answer()`: question → standalone query → passages → streamed, grounded, checked answer.

    for event in answer("How does Solana order transactions?", library, generator):
        if isinstance(event, Retrieved): show(event.hits)      # before the first token
        elif isinstance(event, Token): print(event.text, end="")
        elif isinstance(event, Done): final = event.answer     # text may differ from the tokens:
                                                               # markers are corrected, or we abstained
Abstaining combines retrieval evidence (best dense similarity, query-term coverage, dense/lexical
agreement) with the answer's own evidence (the model's "not in the passages" verdict, how many of its
sentences a passage supports). When retrieval evidence is very weak we abstain without calling the
model at all, which saves the whole prefill.

Follow-ups ("and in 2023?", "what about its cost?") are searched as standalone queries: the earlier
question's key terms are appended (or, with `llm_rewrite`, the model rewrites it); `Answer.query` shows it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .citations import CitationCheck, cite
from .config import Settings
from .errors import QueryError
from .generation import Generator, Message
from .prompting import NOT_FOUND, STOPWORDS, HistoryItem, build_messages, content_terms, terms
from .types import Answer, Chunk, Hit

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]")
PRE_GATE = 0.25  # below this retrieval confidence the model is not asked (dev: 0% answerable, ~82% unanswerable)
ABSTAIN_TEXT = NOT_FOUND + " The closest passages are listed as sources."


class Searcher(Protocol):
    """What `answer` needs from a library: ranked passages for a query."""

    def search(self, query: str, k: int | None = None, documents: Sequence[str] | None = None) -> list[Hit]: ...


@dataclass(frozen=True)
class Retrieved:
    """The passages found for `query`; sent before the first token so sources show early."""

    query: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Token:
    """A piece of the answer text as the model produces it."""

    text: str


@dataclass(frozen=True)
class Done:
    """The finished, checked answer."""

    answer: Answer


Event = Retrieved | Token | Done


@dataclass(frozen=True)
class Evidence:
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


def answer(
    question: str,
    library: Searcher,
    generator: Generator,
    history: Sequence[HistoryItem] = (),
    settings: Settings | None = None,
    documents: Sequence[str] | None = None,
    embedder: Any = None,
    llm_rewrite: bool = False,
) -> Iterator[Event]:
    """Yield Retrieved, then Token events, then one Done with the checked Answer.

    `documents` limits the search to those document names/ids; `embedder` (default: the library's)
    scores support and relevance. Raises QueryError for an empty or over-long question.
    """
    settings = settings or Settings.from_env()
    question = _validate(question, settings)
    embedder = embedder if embedder is not None else getattr(library, "embedder", None)
    started = time.perf_counter()
    llm_rewrite = llm_rewrite or settings.query_rewrite == "llm"
    query = rewrite_query(question, history, generator if llm_rewrite else None)
    hits = tuple(library.search(query, k=settings.top_k, documents=documents))
    hits = _with_neighbours(hits, library, settings.neighbours)
    timings = {"retrieve": time.perf_counter() - started}
    yield Retrieved(query, hits)
    evidence = measure(query, hits, embedder)
    timings["confidence"] = round(evidence.confidence, 4)
    if not hits or evidence.confidence < PRE_GATE:
        timings["total"] = timings["first_token"] = time.perf_counter() - started  # the first text shown
        yield Done(Answer(question, query, ABSTAIN_TEXT, (), hits, abstained=True, timings=timings))
        return
    prompt = build_messages(question, hits, history, settings, generator.count_tokens)
    timings["prompt_tokens"] = float(prompt.tokens)
    pieces: list[str] = []
    yield from _generate(generator, prompt.messages, settings, started, pieces, timings)
    check = cite("".join(pieces).strip(), prompt.sources, embedder)
    result = _finish(question, query, check, prompt.sources, evidence, settings, timings)
    result.timings["total"] = time.perf_counter() - started
    yield Done(dataclasses.replace(result, dropped=prompt.dropped))


def _generate(
    generator: Generator,
    messages: Sequence[Message],
    settings: Settings,
    started: float,
    pieces: list[str],
    timings: dict[str, float],
) -> Iterator[Token]:
    """Stream the model's reply as Token events, collecting the text in `pieces` and the timings."""
    # closing(): if our caller stops early (a Stop button), the model stops generating too.
    with closing(generator.stream(messages, max_tokens=settings.max_new_tokens)) as stream:
        for piece in stream:
            if not pieces:
                timings["first_token"] = time.perf_counter() - started
            pieces.append(piece)
            yield Token(piece)
    timings.setdefault("first_token", time.perf_counter() - started)
    timings["generate"] = time.perf_counter() - started - timings["first_token"]
    timings["tokens_per_s"] = len(pieces) / timings["generate"] if pieces and timings["generate"] > 0 else 0.0


def measure(query: str, hits: Sequence[Hit], embedder: Any) -> Evidence:
    """Return the retrieval evidence for `hits` (dense similarity needs an embedder; without it, 0.5)."""
    if not hits:
        return Evidence(0.0, 0.0, 0.0)
    words = content_terms(query)
    passage_terms = [content_terms(h.chunk.text) for h in hits]
    coverage = len(words & set().union(*passage_terms)) / len(words) if words else 0.0
    lexical = [len(words & t) for t in passage_terms]
    names = entities(query)
    text = "\n".join(h.chunk.text for h in hits)
    found = sum(_mentions(text, name) for name in names) / len(names) if names else 1.0
    if embedder is None:
        return Evidence(0.5, coverage, 1.0 if int(np.argmax(lexical)) == 0 else 0.0, found)
    vectors = np.asarray(embedder.encode([query] + [h.chunk.text for h in hits]), dtype=np.float32)
    dense = vectors[1:] @ vectors[0]
    agreement = 1.0 if int(np.argmax(dense)) == int(np.argmax(lexical)) else 0.0
    return Evidence(float(dense.max()), coverage, agreement, found)


def entities(question: str) -> set[str]:
    """Return the names in `question`: acronyms ("WHO"), words with digits ("2019-nCoV") and capitalised
    words after the first ("Corda"); stopwords count only when written as acronyms."""
    names = set()
    for i, word in enumerate(_NAME.findall(question)):
        acronym = sum(c.isupper() for c in word) >= 2
        mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        proper = i > 0 and word[0].isupper() and word.lower() not in STOPWORDS
        if acronym or mixed or proper:
            names.add(word)
    return names


def _mentions(text: str, name: str) -> bool:
    """Return True when `text` has `name` as a whole word; acronyms must match case ("WHO" is not "who")."""
    acronym = name.isalpha() and sum(c.isupper() for c in name) >= 2  # "SARS-COV-2" may be written "SARS-CoV-2"
    pattern = r"(?<![A-Za-z0-9])" + re.escape(name) + r"(?![A-Za-z0-9])"
    return re.search(pattern, text, 0 if acronym else re.IGNORECASE) is not None


def decide(check: CitationCheck, evidence: Evidence, threshold: float) -> bool:
    """Return True to abstain: the model refused, or retrieval and support together are too weak."""
    if check.refused or not check.text.strip():
        return True
    return 0.5 * evidence.confidence + 0.5 * check.support < threshold


def _finish(
    question: str,
    query: str,
    check: CitationCheck,
    sources: tuple[Hit, ...],
    evidence: Evidence,
    settings: Settings,
    timings: dict[str, float],
) -> Answer:
    """Return the Answer: the checked text with citations, or the abstention text with the closest sources."""
    timings["support"] = round(check.support, 4)
    if decide(check, evidence, settings.abstain_threshold):
        return Answer(question, query, ABSTAIN_TEXT, (), sources, check.unsupported, True, timings=timings)
    return Answer(question, query, check.text, check.citations, sources, check.unsupported, False, timings=timings)


def _validate(question: str, settings: Settings) -> str:
    """Return the stripped question; raise QueryError when it is empty or longer than the limit."""
    text = (question or "").strip()
    if not text:
        raise QueryError("the question is empty; type a question about your documents")
    if len(text) > settings.max_query_chars:
        raise QueryError(
            f"the question has {len(text)} characters, more than the limit of {settings.max_query_chars} "
            "(RAG_MAX_QUERY_CHARS); shorten it"
        )
    return text


def _with_neighbours(hits: tuple[Hit, ...], library: Any, n: int) -> tuple[Hit, ...]:
    """Small-to-big: widen each hit with up to `n` chunks either side when they continue it on the same page."""
    if n <= 0 or not hasattr(library, "chunk_neighbours"):
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
    return Chunk(
        chunk.chunk_id, chunk.doc_id, chunk.document, chunk.page, start, end, text, chunk.headings, chunk.ordinal
    )


# ---- follow-up questions -----------------------------------------------------------------------------

_FOLLOWUP_START = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what else|why|how so|and what|same for|in that case)\b", re.I
)
_REFERRING = frozenset(
    [
        "it",
        "its",
        "they",
        "them",
        "their",
        "theirs",
        "he",
        "she",
        "his",
        "her",
        "him",
        "these",
        "those",
        "former",
        "latter",
    ]
)
_REWRITE_PROMPT = (
    "Rewrite the last question as one standalone search query, using the earlier questions only to resolve "
    "words like 'it', 'they' or 'that'. Reply with the query only."
)


def previous_query(history: Sequence[HistoryItem]) -> str:
    """Return the last earlier question (for an Answer, its already-standalone search query), or ""."""
    for item in reversed(history):
        if isinstance(item, Answer):
            return item.query or item.question
        if item.role == "user":
            return item.content
    return ""


def is_followup(question: str) -> bool:
    """Return True when `question` leans on an earlier turn: an opener ("and…", "what about…"), a
    referring pronoun ("its cost"), or no content word of its own ("and in 2023?")."""
    words = set(terms(question))
    own = [t for t in content_terms(question) if t.isalpha() and len(t) > 2]
    return bool(_FOLLOWUP_START.match(question) or words & _REFERRING or not own)


def rewrite_query(question: str, history: Sequence[HistoryItem], generator: Any = None) -> str:
    """Return a standalone search query for `question`.

    Heuristic (default): a follow-up gets the earlier question's key terms appended — numbers are not
    carried over when the follow-up brings its own ("and in 2023?"). With a `generator`, the model
    rewrites it instead (slower: one short generation).
    """
    before = previous_query(history)
    if not before or not is_followup(question):
        return question.strip()
    if generator is not None:
        return _llm_rewrite(question, before, generator)
    mine = content_terms(question)
    has_number = any(t.isdigit() for t in mine)
    carried = [t for t in dict.fromkeys(terms(before)) if t in content_terms(before) and t not in mine]
    carried = [t for t in carried if not (has_number and t.isdigit())][:8]
    return f"{question.strip()} {' '.join(carried)}".strip()


def _llm_rewrite(question: str, before: str, generator: Any) -> str:
    """Return the model's standalone rewrite, or the heuristic one when the model's reply is unusable."""
    messages = [
        Message("system", _REWRITE_PROMPT),
        Message("user", f"Earlier question: {before}\nLast question: {question}"),
    ]
    reply = generator.complete(messages, max_tokens=48).strip().strip('"').splitlines()
    text = reply[0].strip() if reply else ""
    return text if 3 <= len(text) <= 300 else rewrite_query(question, [Message("user", before)])
