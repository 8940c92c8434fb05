"""Small frozen records the UI keeps between events, built from the engine's records.

A `SourceView` is one numbered passage as the sources panel shows it; lists of them live in `gr.State`,
so they must be deep-copyable and must not hold a Library or a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.types import Answer, Citation, Hit


@dataclass(frozen=True)
class SourceView:
    """One passage behind an answer: where it is, how well it matched, and which span of it to highlight.

    `marks` are (start, end) offsets into `text` (not into the page), in order and not overlapping; one per answer
    sentence that cites the passage; none means "no highlight".
    """

    n: int
    doc_id: str
    document: str
    page: int
    score: float
    text: str
    marks: tuple[tuple[int, int], ...] = ()
    cited: bool = False

    @property
    def label(self) -> str:
        return f"[{self.n}] {self.document}, p. {self.page}"

    @property
    def marked(self) -> tuple[str, ...]:
        """Return the highlighted spans' text (none when nothing is highlighted)."""
        return tuple(self.text[start:end] for start, end in self.marks)


def view_from_hit(n: int, hit: Hit) -> SourceView:
    chunk = hit.chunk
    return SourceView(n, chunk.doc_id, chunk.document, chunk.page, float(hit.score), chunk.text)


def view_from_citation(citation: Citation) -> SourceView:
    """Return the citation with its supporting spans turned from page offsets into passage offsets."""
    chunk = citation.chunk
    marks = _passage_marks(citation.highlights, chunk.start, len(chunk.text))
    return SourceView(citation.n, chunk.doc_id, chunk.document, chunk.page, float(citation.score), chunk.text, marks, True)


def _passage_marks(spans: Sequence[tuple[int, int]], offset: int, length: int) -> tuple[tuple[int, int], ...]:
    """Page offsets → offsets into a passage of `length` characters starting at `offset`: clamped, empty ones
    dropped, overlapping ones merged (one <mark> per stretch of text)."""
    clamped = sorted((min(max(s - offset, 0), length), min(max(e - offset, 0), length)) for s, e in spans)
    merged: list[tuple[int, int]] = []
    for start, end in clamped:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def views_from_hits(hits: Sequence[Hit]) -> list[SourceView]:
    """Number retrieved passages from 1, in the order the model is given them."""
    return [view_from_hit(i, hit) for i, hit in enumerate(hits, start=1)]


def views_from_answer(answer: Answer) -> list[SourceView]:
    """Return the cited passages first (by number), then the other passages the model saw, uncited."""
    cited = sorted({c.n: view_from_citation(c) for c in answer.citations}.values(), key=lambda v: v.n)
    numbers = {v.n for v in cited}
    others = [view_from_hit(i, hit) for i, hit in enumerate(answer.sources, start=1) if i not in numbers]
    return cited + others
