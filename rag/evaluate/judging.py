"""Turning retrieved chunks into ranked judgement units, and locating gold pages from reference passages.

Each gold level has its own unit: "document" → the file name, "page" → "file#p7", "span" → "answer" for any
chunk covering the answer (so two chunks that both cover it count once) and the chunk id otherwise.
Ranking units instead of chunks gives "a document's score is its best chunk" for free.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rag.evaluate.records import AnswerSpan, EvalQuery, EvalSet, PageRef, Source
from rag.text import alnum_counts
from rag.types import Chunk, Hit, Page

ANSWER_UNIT = "answer"
MIN_REFERENCE_RECALL = 0.5  # below this no page really holds the reference passage


@dataclass(frozen=True)
class Located:
    """Where a reference passage was found: its page and the share of its tokens that page holds."""

    page: PageRef
    recall: float


def covers(chunk: Chunk, span: AnswerSpan) -> bool:
    """True when the chunk overlaps the answer span on the same page (the issue's definition of the gold chunk).

    Any overlap counts, as in the baselines: a chunk holding the start of a long answer sentence does lead the
    reader to it.
    """
    if chunk.document != span.document or chunk.page != span.page:
        return False
    return chunk.start < span.end and span.start < chunk.end


def unit_of(hit: Hit, query: EvalQuery, level: str) -> str:
    """The judgement unit a hit counts as at `level`."""
    chunk = hit.chunk
    if level == "document":
        return chunk.document
    if level == "page":
        return f"{chunk.document}#p{chunk.page}"
    if level == "span":
        return ANSWER_UNIT if any(covers(chunk, s) for s in query.spans) else chunk.chunk_id
    raise ValueError(f"unknown gold level {level!r}")


def ranked_units(hits: Sequence[Hit], query: EvalQuery, level: str, per_chunk: bool = True) -> list[str]:
    """Units in rank order, unique as ir-measures requires.

    per_chunk=True keeps every chunk's rank, so "@5" means the top 5 chunks (what the generator is given):
    a unit already seen is replaced by the chunk's own id, a non-relevant filler holding the position.
    per_chunk=False collapses each unit to its best chunk ("a document's score is its best chunk", BEIR style).
    """
    seen: dict[str, None] = {}
    for hit in hits:
        unit = unit_of(hit, query, level)
        if unit in seen and per_chunk:
            unit = hit.chunk.chunk_id
        seen.setdefault(unit, None)
    return list(seen)


def gold_units(query: EvalQuery, level: str) -> dict[str, int]:
    """The query's relevant units at `level` with their grades (empty when it has no gold there)."""
    if level == "document":
        return {name: grade for name, grade in query.documents if grade > 0}
    if level == "page":
        return {f"{p.document}#p{p.page}": 1 for p in query.pages}
    if level == "span":
        return {ANSWER_UNIT: 1} if query.spans else {}
    raise ValueError(f"unknown gold level {level!r}")


def locate_reference(reference: str, pages: Sequence[tuple[str, Page]]) -> Located | None:
    """The page whose tokens cover most of `reference` (as a multiset), or None when none covers half of it.

    PDF extractors differ in hyphenation and spacing ("r ecent", "time -consuming"), so letter/digit runs are
    compared as multisets rather than strings.
    """
    wanted = alnum_counts(reference)
    total = sum(wanted.values())
    if not total:
        return None
    best: Located | None = None
    for document, page in pages:
        have = alnum_counts(page.text)
        recall = sum(min(n, have[t]) for t, n in wanted.items()) / total
        if best is None or recall > best.recall:
            best = Located(PageRef(document, page.number), recall)
    return best if best is not None and best.recall >= MIN_REFERENCE_RECALL else None


def resolve_references(evalset: EvalSet, pages_of: Callable[[Source], Sequence[Page]]) -> EvalSet:
    """Fill each query's gold page from its reference passage; queries whose passage is nowhere are dropped."""
    if not any(q.reference for q in evalset.queries):
        return evalset
    pages = [(source.name, page) for source in evalset.sources for page in pages_of(source)]
    queries, dropped = [], 0
    for query in evalset.queries:
        found = locate_reference(query.reference, pages) if query.reference else None
        if found is None:
            dropped += 1
            continue
        queries.append(replace(query, pages=(found.page,), documents=((found.page.document, 1),)))
    notes = evalset.notes + (
        (f"{dropped} questions dropped: reference passage not found on any page",) if dropped else ()
    )
    return replace(evalset, queries=tuple(queries), notes=notes)


def _find_near(text: str, needle: str, near: int) -> tuple[int, int] | None:
    """[start, end) of the occurrence of `needle` closest to offset `near`, ignoring whitespace differences."""
    words = needle.split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    matches = [(m.start(), m.end()) for m in pattern.finditer(text)]
    return min(matches, key=lambda m: abs(m[0] - near)) if matches else None


def align_spans(evalset: EvalSet, pages_of: Callable[[Source], Sequence[Page]]) -> EvalSet:
    """Move answer spans onto the page text the loader produced, in case it changed the written text.

    Spans are offsets into the dataset's context; if the loader strips or normalises text (or splits it into
    pages) those offsets drift, so each answer is looked up again near its old place. Unfound answers are dropped.
    """
    if not any(q.spans for q in evalset.queries):
        return evalset
    loaded = {s.name: list(pages_of(s)) for s in evalset.sources if s.text is not None}
    same = {s.name for s in evalset.sources if [p.text for p in loaded.get(s.name, [])] == [s.text]}
    queries, dropped = [], 0
    for query in evalset.queries:
        spans = []
        for span in query.spans:
            if span.document in same:
                spans.append(span)
                continue
            for page in loaded.get(span.document, []):
                found = _find_near(page.text, span.text, span.start)
                if found is not None:
                    spans.append(replace(span, page=page.number, start=found[0], end=found[1]))
                    break
        if spans:
            queries.append(replace(query, spans=tuple(spans)))
        else:
            dropped += 1
    notes = evalset.notes + ((f"{dropped} questions dropped: answer not found in the loaded text",) if dropped else ())
    return replace(evalset, queries=tuple(queries), notes=notes)
