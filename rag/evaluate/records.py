"""What a benchmark becomes once read: files to index (`Source`) and questions with their gold (`EvalQuery`),
in an `EvalSet`. Shared by every reader (`datasets`, `smart`) and by the runner.

Gold is expressed in terms of the file names the index will show (`Hit.chunk.document`), so the runner can
judge a hit without knowing the format it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError

RANKING_KINDS = ("beir", "smart")  # graded documents, scored over distinct documents with BEIR's measures


class DatasetError(RagError):
    """A benchmark file is missing or not in the format its reader expects."""


@dataclass(frozen=True)
class Source:
    """One file to index: an existing file (`path`) or a text the runner writes to a temp file named `name`."""

    name: str  # the file name the index shows as Hit.chunk.document
    path: Path | None = None
    text: str | None = None


@dataclass(frozen=True)
class PageRef:
    document: str
    page: int  # 1-based


@dataclass(frozen=True)
class AnswerSpan:
    """Where an answer sits: character offsets into one page's text."""

    document: str
    page: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class EvalQuery:
    """A question and its gold. Only the fields its dataset's `levels` use are filled."""

    qid: str
    text: str
    documents: tuple[tuple[str, int], ...] = ()  # (file name, relevance grade)
    pages: tuple[PageRef, ...] = ()
    spans: tuple[AnswerSpan, ...] = ()
    reference: str = ""  # a passage whose page is found after loading (llamaindex)


@dataclass(frozen=True)
class EvalSet:
    """A benchmark ready to run. `levels` are the gold granularities scored: "document", "page", "span"."""

    name: str
    kind: str
    path: Path
    sources: tuple[Source, ...]
    queries: tuple[EvalQuery, ...]
    levels: tuple[str, ...]
    notes: tuple[str, ...] = ()  # things the reader skipped or repaired, shown in the report
    per_chunk: bool = True  # "@k" counts chunks (False: distinct documents, as BEIR's published numbers do)


def file_name(doc_id: str, suffix: str = ".txt") -> str:
    """A safe file name for a corpus id (ids may hold '/' or spaces)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", doc_id) + suffix
