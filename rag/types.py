"""The records that travel between pipeline stages, each carrying its provenance.

Load → `Document` (pages) → chunk → `Chunk` (page + character offsets into that page's text)
→ retrieve → `Hit` (chunk + score) → generate → `Answer` (text + `Citation`s).
All are frozen: a stage never edits what an earlier stage produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Page:
    """One page of a document. `number` is 1-based; non-paged formats have a single page 1."""

    number: int
    text: str


@dataclass(frozen=True)
class Document:
    """A loaded file: its pages' text plus where it came from.

    `doc_id` is the sha256 of the file's bytes, so the same file ingested twice is recognised.
    `warnings` are things the user should know that did not stop the load
    (e.g. "12 of 14 pages have no text — scanned? OCR is not enabled").
    """

    doc_id: str
    name: str
    path: str
    kind: str  # "pdf", "txt", "md", "html", "docx"
    pages: tuple[Page, ...]
    warnings: tuple[str, ...] = ()
    title: str = ""  # the document's own title, "" when it has none (see `rag.ingest.titles`)

    @property
    def page_count(self) -> int:
        return len(self.pages)


@dataclass(frozen=True)
class Chunk:
    """A passage of one page. `text == page.text[start:end]` for the page it came from."""

    chunk_id: str  # stable: hash of doc_id, page and offsets
    doc_id: str
    document: str  # file name shown to the user
    page: int  # 1-based
    start: int  # character offsets into the page's text
    end: int
    text: str
    headings: tuple[str, ...] = ()  # heading path, outermost first
    ordinal: int = 0  # position of the chunk within its document
    # A short header (file name, document title, heading path) indexed with `text` but not part of it, so a
    # passage keeps its document's identity in search: see `rag.ingest.chunking.passage_context`.
    context: str = ""

    @property
    def indexed_text(self) -> str:
        """What the embedder and BM25 see: the context header, then the passage."""
        return indexed_text(self.context, self.text)


def indexed_text(context: str, text: str) -> str:
    """A passage as it is indexed: its context header (if any) on the line before its text."""
    return f"{context}\n{text}" if context else text


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk. Higher `score` is better; `method` says which stage scored it."""

    chunk: Chunk
    score: float
    method: str = "dense"

    @property
    def document(self) -> str:
        return self.chunk.document

    @property
    def page(self) -> int:
        return self.chunk.page


@dataclass(frozen=True)
class DocumentInfo:
    """What the index knows about one ingested document (for lists and deletes)."""

    doc_id: str
    name: str
    kind: str
    pages: int
    chunks: int
    added_at: float  # unix time
    warnings: tuple[str, ...] = ()


OutcomeStatus = Literal["indexed", "unchanged", "replaced", "failed"]


@dataclass(frozen=True)
class FileOutcome:
    """How ingesting one file ended. `message` is shown to the user as is."""

    path: str
    name: str
    status: OutcomeStatus
    message: str
    pages: int = 0
    chunks: int = 0
    doc_id: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass(frozen=True)
class IngestProgress:
    """A progress report: `stage` is one of reading, ocr (scanned pages: done/total pages), chunking, embedding,
    indexing, done, failed."""

    name: str
    stage: str
    file_index: int  # 0-based position of this file in the batch
    file_count: int
    done: int = 0  # units finished within the stage (e.g. chunks embedded)
    total: int = 0


@dataclass(frozen=True)
class Citation:
    """A numbered source behind an answer: the passage `[n]` and the span that supports the claim.

    When several answer sentences cite the passage, `span_start`/`span_end` is the best-supported claim's sentence
    and `spans` holds every cited sentence's span (page offsets, in page order); `highlights` reads either.
    """

    n: int
    chunk: Chunk
    score: float
    span_start: int  # offsets of the supporting span within the page text
    span_end: int
    spans: tuple[tuple[int, int], ...] = ()

    @property
    def highlights(self) -> tuple[tuple[int, int], ...]:
        """Every supporting span (page offsets, in page order); just the main one when no others were recorded."""
        return self.spans or ((self.span_start, self.span_end),)

    @property
    def document(self) -> str:
        return self.chunk.document

    @property
    def page(self) -> int:
        return self.chunk.page


@dataclass(frozen=True)
class Answer:
    """A finished answer with everything needed to show and check it."""

    question: str
    query: str  # the standalone search query (rewritten for follow-ups)
    text: str
    citations: tuple[Citation, ...]
    sources: tuple[Hit, ...]  # the passages given to the model, numbered from 1
    unsupported: tuple[str, ...] = ()  # sentences no passage supports
    abstained: bool = False
    dropped: tuple[str, ...] = ()  # chunk ids left out of the prompt by the token budget
    evidence: tuple[Citation, ...] = ()  # the sentences shown before the model's answer (rag.generate.evidence)
    timings: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
