"""The index contract: what the rest of the engine may ask of an index, whatever engine holds it.

`rag.library.Library` writes through it and `rag.search` reads through it; neither knows which backend runs.
Backends: `rag.index.local.LocalIndex` (SQLite + FAISS + bm25s on this disk) and `rag.index.qdrant.QdrantIndex`
(Qdrant's engine embedded in this process, or a Qdrant server / cluster); `rag.index.backends.open_index` picks
one from `Settings.index`. Hits come back best first as `list[Hit]`, scored by the backend's own measure
(cosine for dense search, BM25 for keyword search). `doc_ids=None` searches every document; a tuple restricts
the search to those documents and must never miss one of their chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.types import Chunk, Document, DocumentInfo, Hit


@dataclass(frozen=True)
class StoredDocument:
    """One document as an index holds it: pages, chunks in document order and their vectors (for migrations)."""

    document: Document
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray  # (len(chunks), dim) unit vectors, in chunk order
    file: str  # the kept copy's file name under data_dir/files, "" when none


class Index(Protocol):
    """Documents, their chunks and vectors, and the two searches over them."""

    data_dir: Path  # where the backend keeps its files (and the library its kept copies of originals)

    # ---- writes: one document at a time, each wholly present or absent after a crash ----
    def put(self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray, file: str = "") -> DocumentInfo:
        """Store one document (replacing any with the same name or doc_id) with its chunks and unit vectors."""
        ...

    def delete(self, doc_id: str) -> None:
        """Remove one document with its chunks and vectors."""
        ...

    def commit(self) -> None:
        """Make the writes of a batch searchable and durable in the derived structures (once per batch)."""
        ...

    # ---- reads ----
    def documents(self) -> list[DocumentInfo]:
        """Every document, oldest first."""
        ...

    def find(self, key: str) -> DocumentInfo | None:
        """The document whose name or doc_id (or a doc_id prefix of 8+ characters) is `key`."""
        ...

    def document_file(self, doc_id: str) -> str:
        """The kept copy's file name (relative to data_dir/files), or "" when none was kept."""
        ...

    def page_text(self, doc_id: str, page: int) -> str | None:
        """The stored text of one page, or None when the document or page is unknown."""
        ...

    def neighbours(self, doc_id: str, ordinal: int, n: int) -> list[Chunk]:
        """The chunks of `doc_id` whose ordinal is within `n` of `ordinal`, in document order."""
        ...

    def vectors_of(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """The stored unit vectors of these chunks, shape (len(chunk_ids), dim), in the same order."""
        ...

    def vectors_by_text(self, doc_id: str) -> dict[str, np.ndarray]:
        """Indexed text → stored vector for one document's chunks (so re-ingest embeds only what changed)."""
        ...

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        """The `k` chunks nearest to the unit `vector` by cosine, best first."""
        ...

    def keyword_search(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        """Up to `k` chunks sharing words with `query`, best first by BM25."""
        ...

    def stored(self, doc_id: str) -> StoredDocument | None:
        """The whole document as stored (pages, chunks, vectors), or None when unknown: what a migration copies."""
        ...

    def note(self, key: str) -> str | None:
        """A small fact stored with the index (e.g. the calibrated fusion weight), or None when never written."""
        ...

    def write_note(self, key: str, value: str) -> None:
        """Store a small fact with the index; it survives restarts and is not a document change."""
        ...

    def close(self) -> None:
        """Release the backend; later calls raise IndexError_ with a message a person can act on."""
        ...
