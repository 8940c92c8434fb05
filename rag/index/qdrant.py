"""`QdrantIndex`: the index contract on Qdrant, embedded (Edge) or on a server: everything lives in one collection.

Points, told apart by payload `kind`:
- `chunk`: the passage with its provenance (doc_id, document name, page, offsets, headings, ordinal, context
  header), its dense vector and its BM25 terms (`rag.index.sparse`);
- `page`: one page's text; `document`: a document's record (name, kind, counts, warnings, kept file, `version`);
- `note` (small facts such as the calibrated fusion weight), `manifest` (embedder and dims), `intent`.
So several app replicas share one index, and re-ingest is idempotent across them (a document's id is its hash).

Qdrant has no transactions, so a write is made safe by versions: `put` writes an `intent`, then the chunks and
pages stamped with a fresh version, then the `document` point carrying that version (the commit), then removes
what the document replaced, then the intent. Readers only trust a chunk whose version is its document's, so a
half-written document is never seen; a leftover intent (a crash) is finished or undone when the index opens.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexError_, IndexMismatchError
from rag.index.contract import StoredDocument
from rag.index.qdrant_engines import DENSE, SPARSE, Engine, NewPoint, Record, Where
from rag.index.sparse import passage_terms, query_terms
from rag.types import Chunk, Document, DocumentInfo, Hit, Page, indexed_text

FORMAT_VERSION = "1"
_NAMESPACE = uuid.UUID("6f0c3e4e-4a55-4b1e-9d55-f00740e0a001")


def point_id(*parts: object) -> str:
    """A deterministic UUID for a point (Qdrant ids are integers or UUIDs)."""
    return str(uuid.uuid5(_NAMESPACE, ":".join(map(str, parts))))


class QdrantIndex:
    """The contract over one Qdrant `Engine`. Use `QdrantIndex.open`; safe to call from several threads."""

    def __init__(self, engine: Engine, data_dir: Path, dim: int, where: str, grace_s: float = 0.0) -> None:
        self.engine, self.data_dir, self.dim, self.where = engine, Path(data_dir), dim, where
        # How long another writer's intent counts as alive: 0 for an embedded shard (one process holds it), longer
        # on a shared server, where another replica may be mid-write when this one opens.
        self.grace_s = grace_s
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls, engine: Engine, data_dir: Path, embedder_name: str, dim: int, where: str, grace_s: float = 0.0
    ) -> QdrantIndex:
        """Check the manifest (or write it), finish interrupted writes; raises IndexMismatchError on another embedder."""
        index = cls(engine, data_dir, dim, where, grace_s)
        try:
            index._check_manifest(embedder_name)
            index._recover()
        except BaseException:
            engine.close()
            raise
        return index

    # ---- writes ------------------------------------------------------------------------------------------
    def put(self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray, file: str = "") -> DocumentInfo:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors for {document.name}")
        version = uuid.uuid4().hex
        info = DocumentInfo(
            document.doc_id, document.name, document.kind, document.page_count, len(chunks), time.time(),
            document.warnings,
        )  # fmt: skip
        with self._lock:
            self._write_intent(document.doc_id, document.name, version)
            self.engine.upsert(self._chunk_points(chunks, np.asarray(vectors, dtype=np.float32), version))
            self.engine.upsert([self._page_point(document.doc_id, page, version) for page in document.pages])
            self.engine.upsert([self._document_point(document, info, file, version)])  # the commit
            self._finish(document.doc_id, document.name, version)
        return info

    def delete(self, doc_id: str) -> None:
        with self._lock:
            self._write_intent(doc_id, "", "")
            self.engine.delete_ids([point_id("document", doc_id)])  # the commit: readers stop seeing it
            self._finish(doc_id, "", "")

    def commit(self) -> None:
        """Make the batch durable (Edge writes its segments; a server acknowledged each write already)."""
        with self._lock:
            self.engine.flush()
            if self.grace_s:  # on a shared server, settle what a crashed replica left (cheap: intents are few)
                self._recover()

    def write_note(self, key: str, value: str) -> None:
        with self._lock:
            self.engine.upsert([NewPoint(point_id("note", key), {"kind": "note", "key": key, "value": value})])

    # ---- reads -------------------------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        infos = [_info(r.payload) for r in self.engine.scroll(Where("document"))]
        return sorted(infos, key=lambda i: (i.added_at, i.name))

    def find(self, key: str) -> DocumentInfo | None:
        found = [r.payload for r in self.engine.scroll(Where("document", names=(key,)))]
        found += [r.payload for r in self.engine.retrieve([point_id("document", key)]) if r.payload["name"] != key]
        if not found and len(key) >= 8:
            found = [r.payload for r in self.engine.scroll(Where("document")) if r.payload["doc_id"].startswith(key)]
        return _info(found[0]) if len(found) == 1 else None

    def document_file(self, doc_id: str) -> str:
        record = self._document(doc_id)
        return record["file"] if record else ""

    def page_text(self, doc_id: str, page: int) -> str | None:
        record = self._document(doc_id)
        if record is None:
            return None
        found = self.engine.retrieve([point_id("page", doc_id, record["version"], page)])
        return found[0].payload["text"] if found else None

    def neighbours(self, doc_id: str, ordinal: int, n: int) -> list[Chunk]:
        where = Where("chunk", doc_ids=(doc_id,), ordinals=(ordinal - n, ordinal + n))
        return sorted((_chunk(r.payload) for r in self._current(self.engine.scroll(where))), key=lambda c: c.ordinal)

    def vectors_of(self, chunk_ids: Sequence[str]) -> np.ndarray:
        if not chunk_ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        records = self._current(self.engine.scroll(Where("chunk", chunk_ids=tuple(chunk_ids)), vectors=True))
        found = {r.payload["chunk_id"]: r.dense for r in records}
        missing = [c for c in chunk_ids if c not in found]
        if missing:
            raise IndexError_(f"{len(missing)} passages are no longer in the index (deleted meanwhile?); search again")
        return np.stack([found[c] for c in chunk_ids])

    def vectors_by_text(self, doc_id: str) -> dict[str, np.ndarray]:
        records = self._current(self.engine.scroll(Where("chunk", doc_ids=(doc_id,)), vectors=True))
        return {indexed_text(r.payload["context"], r.payload["text"]): r.dense for r in records}

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        return self._search(DENSE, np.asarray(vector, dtype=np.float32), k, doc_ids, "dense")

    def keyword_search(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        terms = query_terms(query)
        return self._search(SPARSE, terms, k, doc_ids, "bm25") if terms else []

    def note(self, key: str) -> str | None:
        found = self.engine.retrieve([point_id("note", key)])
        return found[0].payload["value"] if found else None

    def stored(self, doc_id: str) -> StoredDocument | None:
        record = self._document(doc_id)
        if record is None:
            return None
        version = record["version"]
        pages = self.engine.scroll(Where("page", doc_ids=(doc_id,)))
        numbered = sorted((r.payload["number"], r.payload["text"]) for r in pages if r.payload["version"] == version)
        chunks = sorted(self._current(self.engine.scroll(Where("chunk", doc_ids=(doc_id,)), vectors=True)),
                        key=lambda r: r.payload["ordinal"])  # fmt: skip
        document = Document(
            doc_id, record["name"], record["path"], record["doc_kind"], tuple(Page(n, t) for n, t in numbered),
            tuple(record["warnings"]), record.get("title", ""),
        )  # fmt: skip
        vectors = np.stack([r.dense for r in chunks]) if chunks else np.zeros((0, self.dim), dtype=np.float32)
        return StoredDocument(document, tuple(_chunk(r.payload) for r in chunks), vectors, record["file"])

    def close(self) -> None:
        self.engine.close()

    # ---- internals ---------------------------------------------------------------------------------------
    def _search(self, using: str, query: Any, k: int, doc_ids: Sequence[str] | None, method: str) -> list[Hit]:
        if k <= 0 or (doc_ids is not None and not doc_ids):
            return []
        where = Where("chunk", doc_ids=tuple(doc_ids) if doc_ids is not None else None)
        found = self.engine.nearest(using, query, k, where)
        current = self._current(found)
        if len(current) < len(found):  # a write in progress elsewhere, or leftovers of a crash: look further
            current = self._current(self.engine.nearest(using, query, 2 * k + len(found), where))[:k]
        return [Hit(_chunk(r.payload), r.score, method) for r in current if r.score > 0 or method == "dense"]

    def _current(self, records: Iterable[Record]) -> list[Record]:
        """Only chunks (or pages) whose version is their document's: never half a write, never a replaced one."""
        records = list(records)
        doc_ids = {r.payload["doc_id"] for r in records}
        versions = {r.payload["doc_id"]: r.payload["version"]
                    for r in self.engine.retrieve([point_id("document", d) for d in doc_ids])}  # fmt: skip
        return [r for r in records if versions.get(r.payload["doc_id"]) == r.payload["version"]]

    def _document(self, doc_id: str) -> dict[str, Any] | None:
        found = self.engine.retrieve([point_id("document", doc_id)])
        return found[0].payload if found else None

    def _chunk_points(self, chunks: Sequence[Chunk], vectors: np.ndarray, version: str) -> list[NewPoint]:
        terms = passage_terms([c.indexed_text for c in chunks])
        return [
            NewPoint(point_id("chunk", c.chunk_id, version), _chunk_payload(c, version), vector, term)
            for c, vector, term in zip(chunks, vectors, terms, strict=True)
        ]

    def _page_point(self, doc_id: str, page: Page, version: str) -> NewPoint:
        payload = {"kind": "page", "doc_id": doc_id, "version": version, "number": page.number, "text": page.text}
        return NewPoint(point_id("page", doc_id, version, page.number), payload)

    def _document_point(self, document: Document, info: DocumentInfo, file: str, version: str) -> NewPoint:
        payload = {
            "kind": "document", "doc_id": info.doc_id, "name": info.name, "path": document.path,
            "doc_kind": info.kind, "pages": info.pages, "chunks": info.chunks, "added_at": info.added_at,
            "warnings": list(info.warnings), "file": file, "title": document.title, "version": version,
        }  # fmt: skip
        return NewPoint(point_id("document", info.doc_id), payload)

    def _write_intent(self, doc_id: str, name: str, version: str) -> None:
        payload = {"kind": "intent", "doc_id": doc_id, "name": name, "version": version, "started_at": time.time()}
        self.engine.upsert([NewPoint(point_id("intent", doc_id, version), payload)])

    def _finish(self, doc_id: str, name: str, version: str) -> None:
        """After the commit (or a crash before it): drop what is not the document's current version, except what
        another writer (a replica putting the same file right now) is still writing under a live intent."""
        current = self._document(doc_id)
        keep = {current["version"]} if current else set()
        keep |= {i.payload["version"] for i in self.engine.scroll(Where("intent", doc_ids=(doc_id,)))
                 if i.payload["version"] != version and not self._stale(i)}  # fmt: skip
        for kind in ("chunk", "page"):
            self.engine.delete(Where(kind, doc_ids=(doc_id,), version_not=tuple(sorted(keep)) or ("<none>",)))
        if current is not None and current["version"] == version and name:
            for other in self.engine.scroll(Where("document", names=(name,))):
                if other.payload["doc_id"] != doc_id:  # the same name with other bytes: replaced
                    self.engine.delete_ids([other.id])
                    self._finish(other.payload["doc_id"], "", "")
        self.engine.delete_ids([point_id("intent", doc_id, version)])

    def _stale(self, intent: Record) -> bool:
        """An intent older than the grace period belongs to a writer that died (or never finished)."""
        return time.time() - intent.payload["started_at"] >= self.grace_s

    def _recover(self) -> None:
        """Finish or undo writes a crash interrupted (their intents are still there, older than the grace period)."""
        for intent in list(self.engine.scroll(Where("intent"))):
            if self._stale(intent):
                self._finish(intent.payload["doc_id"], intent.payload["name"], intent.payload["version"])

    def _check_manifest(self, embedder_name: str) -> None:
        found = self.engine.retrieve([point_id("manifest")])
        if not found:
            payload = {"kind": "manifest", "format": FORMAT_VERSION, "embedder": embedder_name, "dim": self.dim}
            self.engine.upsert([NewPoint(point_id("manifest"), payload)])
            return
        manifest = found[0].payload
        on_disk = self.where == str(self.data_dir)
        hint = ("Use another --data-dir or delete it to rebuild" if on_disk
                else "Use another RAG_QDRANT_COLLECTION or delete that collection to rebuild")  # fmt: skip
        if manifest.get("embedder") != embedder_name or manifest.get("dim") != self.dim:
            raise IndexMismatchError(
                f"the index in {self.where} was built with {manifest.get('embedder')} ({manifest.get('dim')} dims); "
                f"you are using {embedder_name} ({self.dim} dims). {hint}"
            )


def _chunk_payload(chunk: Chunk, version: str) -> dict[str, Any]:
    return {
        "kind": "chunk", "chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "document": chunk.document,
        "page": chunk.page, "start": chunk.start, "end": chunk.end, "text": chunk.text,
        "headings": list(chunk.headings), "ordinal": chunk.ordinal, "context": chunk.context, "version": version,
    }  # fmt: skip


def _chunk(p: dict[str, Any]) -> Chunk:
    return Chunk(
        p["chunk_id"], p["doc_id"], p["document"], p["page"], p["start"], p["end"], p["text"],
        tuple(p["headings"]), p["ordinal"], p["context"],
    )  # fmt: skip


def _info(p: dict[str, Any]) -> DocumentInfo:
    return DocumentInfo(p["doc_id"], p["name"], p["doc_kind"], p["pages"], p["chunks"], p["added_at"],
                        tuple(p["warnings"]))  # fmt: skip
