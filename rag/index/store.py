"""The index on disk: SQLite (documents, pages, chunks and their vectors) is the source of truth.

Crash safety: one document = one SQLite transaction (WAL), which also bumps the `generation` counter in the
`manifest` table. The FAISS index (`VectorCache`, keyed by chunk row id: exact `IndexFlatIP`, or `IndexIVFFlat`
from `AnnOptions.threshold` chunks on) is a cache derived from SQLite: its file name carries the generation it
was built at, it is written to a temp file and renamed, and a cache whose generation differs from SQLite's is
brought up to date on next use: the index in memory takes the added and removed rows in place, or, when there is
none (a fresh process) or it no longer fits (`VectorCache.fits`), it is rebuilt from the stored vectors. Every
public method takes one lock, because the app calls in from several threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import IndexError_
from rag.index.files import writing
from rag.index.schema import (
    CHUNK_COLUMNS,
    chunk_from_row,
    chunk_values,
    create_schema,
    delete_document_rows,
    info_from_row,
)
from rag.index.vectors import EXACT, AnnOptions, VectorCache
from rag.types import Chunk, Document, DocumentInfo, Hit, indexed_text

NOTE_PREFIX = "note:"  # manifest keys of notes, apart from the format, embedder, dim and generation


@dataclass(frozen=True)
class Corpus:
    """Every chunk's row id and text, in row order (what BM25 is built from) at one generation."""

    generation: int
    rows: np.ndarray  # int64 row ids
    texts: tuple[str, ...]


class Store:
    """SQLite metadata + vectors and the FAISS cache for one data directory. Use `Store.open`."""

    def __init__(self, data_dir: Path, conn: sqlite3.Connection, dim: int, ann: AnnOptions = EXACT) -> None:
        self.data_dir = data_dir
        self.dim = dim
        self._conn = conn
        self._lock = threading.RLock()
        self._vectors = VectorCache(data_dir, dim, ann)

    @classmethod
    def open(cls, data_dir: Path, embedder_name: str, dim: int, ann: AnnOptions = EXACT) -> Store:
        """Open (or create) the index in `data_dir`; raises IndexMismatchError if another embedder built it.

        `ann` says from how many chunks dense search uses an approximate index (default: always exact).
        """
        data_dir = Path(data_dir)
        with writing("create the index", data_dir):
            data_dir.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(data_dir / "index.sqlite3", check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable except the last commit on power loss
            create_schema(conn, data_dir, embedder_name, dim)
        return cls(data_dir, conn, dim, ann)

    # ---- reads -------------------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """Return the commit counter: it changes whenever documents are added, replaced or deleted."""
        with self._lock:
            return int(self._conn.execute("SELECT value FROM manifest WHERE key='generation'").fetchone()[0])

    def documents(self) -> list[DocumentInfo]:
        """Return every document, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc_id, name, kind, pages, chunks, added_at, warnings FROM documents ORDER BY added_at, name"
            ).fetchall()
        return [info_from_row(row) for row in rows]

    def find(self, key: str) -> DocumentInfo | None:
        """Return the document whose name or doc_id is `key` (a doc_id prefix of 8+ characters also works)."""
        with self._lock:
            sql = "SELECT doc_id, name, kind, pages, chunks, added_at, warnings FROM documents WHERE {} LIMIT 2"
            rows = self._conn.execute(sql.format("name = ? OR doc_id = ?"), (key, key)).fetchall()
            if not rows and len(key) >= 8:
                rows = self._conn.execute(sql.format("substr(doc_id, 1, ?) = ?"), (len(key), key)).fetchall()
        return info_from_row(rows[0]) if len(rows) == 1 else None

    def document_file(self, doc_id: str) -> str:
        """Return the stored copy's file name (relative to data_dir/files), or "" when none was kept."""
        with self._lock:
            row = self._conn.execute("SELECT file FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else ""

    def chunks(self, rows: Sequence[int]) -> list[Chunk]:
        """Return the chunks with these row ids, in the same order (missing ids are skipped)."""
        by_row = self._chunk_rows("id IN ({})".format(",".join("?" * len(rows))), list(rows)) if rows else {}
        return [by_row[r] for r in rows if r in by_row]

    def neighbours(self, doc_id: str, ordinal: int, n: int) -> list[Chunk]:
        """Return the chunks of `doc_id` whose ordinal is within `n` of `ordinal`, in document order."""
        found = self._chunk_rows("doc_id = ? AND ordinal BETWEEN ? AND ?", [doc_id, ordinal - n, ordinal + n])
        return sorted(found.values(), key=lambda c: c.ordinal)

    def page_text(self, doc_id: str, page: int) -> str | None:
        """Return the text of one page, or None when the document or page is unknown."""
        with self._lock:
            row = self._conn.execute(
                "SELECT text FROM pages WHERE doc_id = ? AND number = ?", (doc_id, page)
            ).fetchone()
        return row[0] if row else None

    def vectors_of(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """Return the stored vectors of these chunk ids, shape (len(chunk_ids), dim), in the same order."""
        if not chunk_ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        marks = ",".join("?" * len(chunk_ids))
        with self._lock:
            found = dict(
                self._conn.execute(f"SELECT chunk_id, vector FROM chunks WHERE chunk_id IN ({marks})", list(chunk_ids))
            )
        return np.stack([np.frombuffer(found[c], dtype=np.float32) for c in chunk_ids])

    def vectors_by_text(self, doc_id: str) -> dict[str, np.ndarray]:
        """Return indexed text → stored vector for one document's chunks (to skip re-embedding unchanged
        passages; keyed by `Chunk.indexed_text`, so a changed context header is embedded again)."""
        with self._lock:
            rows = self._conn.execute("SELECT context, text, vector FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
        return {indexed_text(context, text): np.frombuffer(vector, dtype=np.float32) for context, text, vector in rows}

    def corpus(self) -> Corpus:
        """Return all chunk row ids and indexed texts (header + passage) at the current generation (for BM25)."""
        with self._lock:
            generation = self.generation
            rows = self._conn.execute("SELECT id, context, text FROM chunks ORDER BY id").fetchall()
        texts = tuple(indexed_text(context, text) for _, context, text in rows)
        return Corpus(generation, np.array([r[0] for r in rows], dtype=np.int64), texts)

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        """Return the `k` chunks nearest to the unit `vector` (cosine), best first, optionally only from `doc_ids`."""
        with self._lock:
            self._sync_vectors()
            allowed = self.rows_of(doc_ids) if doc_ids is not None else None
            scored = self._vectors.search(vector, k, allowed)
            chunks = self.chunks([row for row, _ in scored])
        return [Hit(chunk, score, "dense") for chunk, (_, score) in zip(chunks, scored, strict=True)]

    def note(self, key: str) -> str | None:
        """Return a note stored with `write_note`, or None."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM manifest WHERE key = ?", (NOTE_PREFIX + key,)).fetchone()
        return row[0] if row else None

    # ---- writes ------------------------------------------------------------------------------------------
    def write_note(self, key: str, value: str) -> None:
        """Store a small fact in the manifest (one statement: atomic); the generation does not change."""
        with self._lock, writing("save a note", self.data_dir):
            self._conn.execute("INSERT OR REPLACE INTO manifest VALUES (?, ?)", (NOTE_PREFIX + key, value))

    def put(self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray, file: str = "") -> DocumentInfo:
        """Store one document in one transaction, replacing any document with the same name; returns its info."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors for {document.name}")
        info = DocumentInfo(
            document.doc_id,
            document.name,
            document.kind,
            document.page_count,
            len(chunks),
            time.time(),
            document.warnings,
        )
        with self._lock, writing(f"store {document.name}", self.data_dir), self._transaction() as cur:
            for old in cur.execute(
                "SELECT doc_id FROM documents WHERE name = ? OR doc_id = ?", (document.name, document.doc_id)
            ).fetchall():
                delete_document_rows(cur, old[0])
            cur.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.doc_id,
                    info.name,
                    document.path,
                    info.kind,
                    info.pages,
                    info.chunks,
                    info.added_at,
                    json.dumps(info.warnings),
                    file,
                ),
            )
            cur.executemany(
                "INSERT INTO pages VALUES (?, ?, ?)", [(info.doc_id, p.number, p.text) for p in document.pages]
            )
            cur.executemany(
                f"INSERT INTO chunks ({CHUNK_COLUMNS}, vector) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [chunk_values(c, v) for c, v in zip(chunks, np.asarray(vectors, dtype=np.float32), strict=True)],
            )
        return info

    def delete(self, doc_id: str) -> None:
        """Remove one document with its pages, chunks and vectors in one transaction."""
        with self._lock, writing("delete a document", self.data_dir), self._transaction() as cur:
            delete_document_rows(cur, doc_id)

    def flush(self) -> None:
        """Write the FAISS cache for the current generation (once per batch, not per document)."""
        with self._lock, writing("save the vector index", self.data_dir):
            self._sync_vectors()
            self._vectors.save()

    def close(self) -> None:
        """Close the database; later calls raise IndexError_ instead of sqlite3's ProgrammingError."""
        with self._lock:
            self._conn.close()
            self._conn = _Closed(self.data_dir)  # type: ignore[assignment]

    # ---- internals ---------------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """One BEGIN IMMEDIATE ... COMMIT that also bumps the generation; rolls back on any error."""
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
            cur.execute("UPDATE manifest SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            cur.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:  # SQLite has already rolled back by itself on SQLITE_FULL
                cur.execute("ROLLBACK")
            raise

    def _sync_vectors(self) -> None:
        """Bring the FAISS cache to SQLite's generation: load its file, update it in place, or rebuild it."""
        generation = self.generation
        if self._vectors.generation == generation or self._vectors.load(generation):
            return
        if self._vectors.index is None:
            self._vectors.load_newest()  # a cache saved before the last writes: updated in place below
        current = np.array([r[0] for r in self._conn.execute("SELECT id FROM chunks")], dtype=np.int64)
        if self._vectors.fits(len(current)):
            # Both id sets are unique (SQLite's primary key; FAISS only ever takes ids it lacks), and saying so
            # skips numpy's np.unique pass: at 1M chunks 0.03 s per diff instead of 2.2 s (docs/speed.md).
            held = self._vectors.ids()
            added = np.setdiff1d(current, held, assume_unique=True)
            removed = np.setdiff1d(held, current, assume_unique=True)
            self._vectors.update(generation, removed, added, self._vectors_of_rows(added))
            return
        rows = self._conn.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        self._vectors.rebuild(
            generation, np.array([r[0] for r in rows], dtype=np.int64), self._matrix(r[1] for r in rows)
        )

    def _vectors_of_rows(self, rows: np.ndarray) -> np.ndarray:
        """Return the stored vectors of these chunk row ids, in the same order (batched under SQLite's limit)."""
        found: dict[int, bytes] = {}
        for start in range(0, len(rows), 900):
            batch = [int(r) for r in rows[start : start + 900]]
            query = "SELECT id, vector FROM chunks WHERE id IN ({})".format(",".join("?" * len(batch)))
            found.update(self._conn.execute(query, batch))
        return self._matrix(found[int(r)] for r in rows)

    def _matrix(self, blobs: Iterable[bytes]) -> np.ndarray:
        """Stack stored vector blobs into a float32 (n, dim) matrix."""
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, self.dim)

    def rows_of(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Return the chunk row ids of these documents (int64)."""
        if not doc_ids:
            return np.zeros(0, dtype=np.int64)
        marks = ",".join("?" * len(doc_ids))
        with self._lock:
            found = self._conn.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", list(doc_ids)).fetchall()
        return np.array([r[0] for r in found], dtype=np.int64)

    def _chunk_rows(self, where: str, params: list) -> dict[int, Chunk]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {CHUNK_COLUMNS}, documents.name FROM chunks JOIN documents USING (doc_id) WHERE {where}",
                params,
            ).fetchall()
        return {row[0]: chunk_from_row(row) for row in rows}


class _Closed:
    """Stands in for the connection after `close()`, so a late call gets a message instead of a crash."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise IndexError_(f"the index in {self.data_dir} was closed (the session ended); reload the page or reopen it")

    execute = cursor = _refuse

    def close(self) -> None:
        """Closing twice is harmless."""
