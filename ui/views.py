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

    `mark_start`/`mark_end` are offsets into `text` (not into the page); equal values mean "no highlight".
    """

    n: int
    doc_id: str
    document: str
    page: int
    score: float
    text: str
    mark_start: int = 0
    mark_end: int = 0
    cited: bool = False

    @property
    def label(self) -> str:
        return f"[{self.n}] {self.document}, p. {self.page}"

    @property
    def marked(self) -> str:
        """Return the highlighted span's text ('' when there is none)."""
        return self.text[self.mark_start : self.mark_end]


def view_from_hit(n: int, hit: Hit) -> SourceView:
    chunk = hit.chunk
    return SourceView(n, chunk.doc_id, chunk.document, chunk.page, float(hit.score), chunk.text)


def view_from_citation(citation: Citation) -> SourceView:
    """Return the citation with its supporting span turned from page offsets into passage offsets."""
    chunk = citation.chunk
    start = min(max(citation.span_start - chunk.start, 0), len(chunk.text))
    end = min(max(citation.span_end - chunk.start, start), len(chunk.text))
    return SourceView(
        citation.n, chunk.doc_id, chunk.document, chunk.page, float(citation.score), chunk.text, start, end, True
    )


def views_from_hits(hits: Sequence[Hit]) -> list[SourceView]:
    """Number retrieved passages from 1, in the order the model is given them."""
    return [view_from_hit(i, hit) for i, hit in enumerate(hits, start=1)]


def views_from_answer(answer: Answer) -> list[SourceView]:
    """Return the cited passages first (by number), then the other passages the model saw, uncited."""
    cited = sorted({c.n: view_from_citation(c) for c in answer.citations}.values(), key=lambda v: v.n)
    numbers = {v.n for v in cited}
    others = [view_from_hit(i, hit) for i, hit in enumerate(answer.sources, start=1) if i not in numbers]
    return cited + others
