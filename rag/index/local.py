"""`LocalIndex`: the index on this machine's disk, behind the `rag.index.contract.Index` seam.

SQLite (`rag.index.store.Store`) is the source of truth; the FAISS cache (`rag.index.vectors`) and the BM25 index
(`rag.index.lexical`) are derived from it and brought up to date on `commit()` (once per ingest batch or delete)
or on first use after another process wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.index.contract import StoredDocument
from rag.index.lexical import Bm25Index
from rag.index.store import Store
from rag.index.vectors import EXACT, AnnOptions
from rag.types import Chunk, Document, DocumentInfo, Hit, Page


class LocalIndex:
    """SQLite + FAISS + bm25s in one data directory. Use `LocalIndex.open`; safe to call from several threads."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.bm25 = Bm25Index(store)

    @classmethod
    def open(cls, data_dir: Path, embedder_name: str, dim: int, ann: AnnOptions = EXACT) -> LocalIndex:
        """Open (or create) the index in `data_dir`; raises IndexMismatchError if another embedder built it."""
        return cls(Store.open(data_dir, embedder_name, dim, ann))

    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    @property
    def generation(self) -> int:
        """The commit counter: it changes whenever documents are added, replaced or deleted."""
        return self.store.generation

    def put(self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray, file: str = "") -> DocumentInfo:
        return self.store.put(document, chunks, vectors, file)

    def delete(self, doc_id: str) -> None:
        self.store.delete(doc_id)

    def commit(self) -> None:
        """Save the FAISS cache and bring BM25 to the store's generation (rebuilt: bm25s cannot edit in place)."""
        self.store.flush()
        self.bm25.refresh()

    def documents(self) -> list[DocumentInfo]:
        return self.store.documents()

    def find(self, key: str) -> DocumentInfo | None:
        return self.store.find(key)

    def document_file(self, doc_id: str) -> str:
        return self.store.document_file(doc_id)

    def page_text(self, doc_id: str, page: int) -> str | None:
        return self.store.page_text(doc_id, page)

    def neighbours(self, doc_id: str, ordinal: int, n: int) -> list[Chunk]:
        return self.store.neighbours(doc_id, ordinal, n)

    def vectors_of(self, chunk_ids: Sequence[str]) -> np.ndarray:
        return self.store.vectors_of(chunk_ids)

    def vectors_by_text(self, doc_id: str) -> dict[str, np.ndarray]:
        return self.store.vectors_by_text(doc_id)

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        return self.store.dense_search(vector, k, doc_ids)

    def keyword_search(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        return self.bm25.search(query, k, doc_ids)

    def stored(self, doc_id: str) -> StoredDocument | None:
        info = self.store.find(doc_id)
        if info is None or info.doc_id != doc_id:
            return None
        pages = [(n, self.store.page_text(doc_id, n)) for n in range(1, info.pages + 1)]
        chunks = tuple(self.store.neighbours(doc_id, 0, info.chunks))  # ordinals 0..chunks-1
        document = Document(
            doc_id, info.name, info.name, info.kind, tuple(Page(n, t) for n, t in pages if t is not None), info.warnings
        )
        vectors = self.store.vectors_of([c.chunk_id for c in chunks])
        return StoredDocument(document, chunks, vectors, self.store.document_file(doc_id))

    def note(self, key: str) -> str | None:
        return self.store.note(key)

    def write_note(self, key: str, value: str) -> None:
        self.store.write_note(key, value)

    def close(self) -> None:
        self.store.close()
