"""`EdgeEngine`: Qdrant's own Rust engine inside this process (`qdrant-edge-py`), one shard in a folder.

It locks its write-ahead log, so one process at a time; a second `open` of the same folder in this process
shares the shard (refcounted), as a second `Library` on one data dir shares SQLite.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexError_, IndexWriteError
from rag.index.qdrant_engines import (
    DENSE,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    PAGE_SIZE,
    SPARSE,
    NewPoint,
    Record,
    Where,
    _dense,
    _Translate,
)  # fmt: skip
from rag.index.sparse import SparseTerms

# Measured: a full disk made opening an Edge index die with SIGBUS; its write-ahead log alone preallocates 64 MB.
MIN_FREE_BYTES = 100_000_000
_EDGE_OPEN: dict[Path, tuple[Any, int]] = {}  # shard folder -> (shard, users) within this process
_EDGE_LOCK = threading.Lock()


class EdgeEngine(_Translate):
    """One Qdrant Edge shard in `folder`, shared by every `EdgeEngine` of this process on the same folder."""

    def __init__(self, folder: Path, dim: int, search_threads: int = 1) -> None:
        import qdrant_edge as q

        self.q = self.m = q
        self.range_type, self.point_type = q.RangeFloat, q.Point
        self.folder = folder.resolve()
        self._lock = threading.RLock()
        self._closed = False
        with _EDGE_LOCK:
            shard, users = _EDGE_OPEN.get(self.folder, (None, 0))
            if shard is None:
                shard = self._open(dim, search_threads)
            _EDGE_OPEN[self.folder] = (shard, users + 1)
        self.shard = shard

    def _open(self, dim: int, search_threads: int) -> Any:
        q = self.q
        self._check_space()
        # Its search pool defaults to one thread per CPU, per shard: public mode opens a shard per visitor.
        config = q.EdgeConfig(
            vectors={DENSE: q.EdgeVectorParams(size=dim, distance=q.Distance.Cosine)},
            sparse_vectors={SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
            max_search_threads=search_threads,
        )
        try:
            if not (self.folder / "wal").exists():
                shard = q.EdgeShard.create(str(self.folder), config)
                self._index_fields(shard)
                return shard
            try:
                shard = q.EdgeShard.load(str(self.folder), config)
            except Exception as error:
                if "WouldBlock" in str(error):
                    raise
                # Built for another vector size: open it as it is, so the manifest check names both embedders.
                return q.EdgeShard.load(str(self.folder))
            if not shard.info().payload_schema:  # a crash right after creating it, before the field indexes
                self._index_fields(shard)
            return shard
        except Exception as error:  # the Rust side raises plain Exception; say what a person can do
            if "WouldBlock" in str(error):
                raise IndexError_(
                    f"the index in {self.folder.parent} is open in another Footnote process (Qdrant Edge allows "
                    "one at a time); stop that process, or share one index through a Qdrant server (RAG_INDEX=qdrant)"
                ) from error
            raise IndexError_(f"cannot open the Qdrant Edge index in {self.folder}: {error}") from error

    def _index_fields(self, shard: Any) -> None:
        q = self.q
        for field in KEYWORD_FIELDS:
            shard.update(q.UpdateOperation.create_field_index(field, q.PayloadSchemaType.Keyword))
        for field in INTEGER_FIELDS:
            shard.update(q.UpdateOperation.create_field_index(field, q.PayloadSchemaType.Integer))

    def upsert(self, points: Sequence[NewPoint]) -> None:
        self._check_space()
        for start in range(0, len(points), PAGE_SIZE):
            batch = [self._point(p) for p in points[start : start + PAGE_SIZE]]
            self._call(self.shard.update, self.q.UpdateOperation.upsert_points(batch))

    def delete(self, where: Where) -> None:
        self._call(self.shard.update, self.q.UpdateOperation.delete_points_by_filter(self._filter(where)))

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self._call(self.shard.update, self.q.UpdateOperation.delete_points(list(ids)))

    def nearest(self, using: str, query: np.ndarray | SparseTerms, k: int, where: Where) -> list[Record]:
        q = self.q
        request = q.QueryRequest(
            limit=k, query=q.Query.Nearest(self._vector(query), using=using), filter=self._filter(where),
            with_payload=True,
        )  # fmt: skip
        return [Record(str(p.id), p.payload, float(p.score)) for p in self._call(self.shard.query, request)]

    def scroll(self, where: Where, vectors: bool = False) -> Iterator[Record]:
        offset = None
        while True:
            request = self.q.ScrollRequest(
                offset=offset, limit=PAGE_SIZE, filter=self._filter(where), with_payload=True,
                with_vector=[DENSE] if vectors else False,
            )  # fmt: skip
            records, offset = self._call(self.shard.scroll, request)
            yield from (Record(str(r.id), r.payload, 0.0, _dense(r.vector) if vectors else None) for r in records)
            if offset is None or not records:
                return

    def retrieve(self, ids: Sequence[str]) -> list[Record]:
        if not ids:
            return []
        return [Record(str(r.id), r.payload) for r in self._call(self.shard.retrieve, list(ids), True, False)]

    def flush(self) -> None:
        self._call(self.shard.flush)

    def close(self) -> None:
        with self._lock, _EDGE_LOCK:
            if self._closed:
                return
            self._closed = True
            shard, users = _EDGE_OPEN[self.folder]
            if users > 1:
                _EDGE_OPEN[self.folder] = (shard, users - 1)
                return
            del _EDGE_OPEN[self.folder]
            shard.close()

    def _call(self, method: Any, *args: Any) -> Any:
        with self._lock:
            if self._closed:
                raise IndexError_(
                    f"the index in {self.folder.parent} was closed (the session ended); reload the page or reopen it"
                )
            try:
                return method(*args)
            except Exception as error:
                if type(error) is not Exception:  # the Rust side raises plain Exception; anything else is a bug
                    raise
                if method.__name__ in ("update", "flush"):
                    raise IndexWriteError(
                        f"could not write the index in {self.folder.parent}: {error}. Free disk space or use a "
                        "writable --data-dir; what was indexed before is kept"
                    ) from error
                raise IndexError_(f"the Qdrant Edge index in {self.folder.parent} failed: {error}") from error

    def _check_space(self) -> None:
        """Refuse to open (or write) with almost no free disk: Qdrant Edge maps its files into memory, and a
        mapped write the disk cannot hold kills the process with SIGBUS instead of raising an error."""
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError:
            return
        if free < MIN_FREE_BYTES:
            raise IndexWriteError(
                f"the disk holding {self.folder.parent} has {free / 1e6:.0f} MB free; the Qdrant Edge index needs "
                f"at least {MIN_FREE_BYTES / 1e6:.0f} MB to open and write. Free disk space (nothing indexed is lost)"
            )
