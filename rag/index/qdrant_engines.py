"""The two ways to reach Qdrant, behind one small surface that `rag.index.qdrant.QdrantIndex` writes and reads through.

- `EdgeEngine`: Qdrant's own Rust engine inside this process (`qdrant-edge-py`), one shard in a folder. It locks
  its write-ahead log, so one process at a time; a second `open` of the same folder in this process shares it.
- `ClientEngine`: `qdrant-client` against a Qdrant server or cluster (`RAG_QDRANT_URL=http://…`), or the
  client's pure-Python local mode when the "URL" is a folder (a stand-in used by the tests; see README).

Filters are written once in our own terms (`Where`) and translated here, so the index logic never touches
either library's types. Point ids are UUID strings; `Record.payload` is a plain dict.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.errors import IndexError_
from rag.index.sparse import SparseTerms

DENSE = "dense"  # the named vectors every Footnote collection has
SPARSE = "bm25"
KEYWORD_FIELDS = ("kind", "doc_id", "chunk_id", "version", "name")
INTEGER_FIELDS = ("ordinal",)
PAGE_SIZE = 256  # points per upsert / scroll request


@dataclass(frozen=True)
class Where:
    """A filter: `kind` of point, optionally only these documents / chunks / ordinals / names, none of the versions
    in `version_not`."""

    kind: str
    doc_ids: tuple[str, ...] | None = None
    chunk_ids: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None
    ordinals: tuple[int, int] | None = None  # inclusive range
    version_not: tuple[str, ...] | None = None


@dataclass(frozen=True)
class NewPoint:
    """A point to write: payload, and for chunks the unit vector and the BM25 terms."""

    id: str
    payload: dict[str, Any]
    dense: np.ndarray | None = None
    sparse: SparseTerms | None = None


@dataclass(frozen=True)
class Record:
    """A point read back; `score` is set by searches, `dense` when vectors were asked for."""

    id: str
    payload: dict[str, Any]
    score: float = 0.0
    dense: np.ndarray | None = None


class Engine(Protocol):
    def upsert(self, points: Sequence[NewPoint]) -> None: ...
    def delete(self, where: Where) -> None: ...
    def delete_ids(self, ids: Sequence[str]) -> None: ...
    def nearest(self, using: str, query: np.ndarray | SparseTerms, k: int, where: Where) -> list[Record]: ...
    def scroll(self, where: Where, vectors: bool = False) -> Iterator[Record]: ...
    def retrieve(self, ids: Sequence[str]) -> list[Record]: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def _dense(vector: Any) -> np.ndarray | None:
    if isinstance(vector, dict):
        vector = vector.get(DENSE)
    return None if vector is None else np.asarray(vector, dtype=np.float32)


# ---- Qdrant Edge (embedded) ------------------------------------------------------------------------------------
_EDGE_OPEN: dict[Path, tuple[Any, int]] = {}  # shard folder -> (shard, users) within this process
_EDGE_LOCK = threading.Lock()


class EdgeEngine:
    """One Qdrant Edge shard in `folder`, shared by every `EdgeEngine` of this process on the same folder."""

    def __init__(self, folder: Path, dim: int) -> None:
        import qdrant_edge as q

        self.q, self.folder = q, folder.resolve()
        self._lock = threading.RLock()
        self._closed = False
        with _EDGE_LOCK:
            shard, users = _EDGE_OPEN.get(self.folder, (None, 0))
            if shard is None:
                shard = self._open(dim)
            _EDGE_OPEN[self.folder] = (shard, users + 1)
        self.shard = shard

    def _open(self, dim: int) -> Any:
        q = self.q
        try:
            if (self.folder / "wal").exists():
                return q.EdgeShard.load(str(self.folder))
            config = q.EdgeConfig(
                vectors={DENSE: q.EdgeVectorParams(size=dim, distance=q.Distance.Cosine)},
                sparse_vectors={SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
            )
            shard = q.EdgeShard.create(str(self.folder), config)
        except Exception as error:  # the Rust side raises plain Exception; say what a person can do
            if "WouldBlock" in str(error):
                raise IndexError_(
                    f"the index in {self.folder.parent} is open in another Footnote process (Qdrant Edge allows "
                    "one at a time); stop that process, or share one index through a Qdrant server (RAG_INDEX=qdrant)"
                ) from error
            raise IndexError_(f"cannot open the Qdrant Edge index in {self.folder}: {error}") from error
        for field in KEYWORD_FIELDS:
            shard.update(q.UpdateOperation.create_field_index(field, q.PayloadSchemaType.Keyword))
        for field in INTEGER_FIELDS:
            shard.update(q.UpdateOperation.create_field_index(field, q.PayloadSchemaType.Integer))
        return shard

    def _filter(self, where: Where) -> Any:
        q = self.q
        must = [q.FieldCondition(key="kind", match=q.MatchValue(where.kind))]
        for key, values in (("doc_id", where.doc_ids), ("chunk_id", where.chunk_ids), ("name", where.names)):
            if values is not None:
                must.append(q.FieldCondition(key=key, match=q.MatchAny(any=list(values))))
        if where.ordinals is not None:
            low, high = where.ordinals
            must.append(q.FieldCondition(key="ordinal", range=q.RangeFloat(gte=low, lte=high)))
        must_not = None
        if where.version_not is not None:
            must_not = [q.FieldCondition(key="version", match=q.MatchAny(any=list(where.version_not)))]
        return q.Filter(must=must, must_not=must_not)

    def _point(self, point: NewPoint) -> Any:
        q = self.q
        vector: dict[str, Any] = {}
        if point.dense is not None:
            vector[DENSE] = [float(x) for x in point.dense]
        if point.sparse:
            vector[SPARSE] = q.SparseVector(indices=list(point.sparse.indices), values=list(point.sparse.values))
        return q.Point(id=point.id, vector=vector, payload=point.payload)

    def upsert(self, points: Sequence[NewPoint]) -> None:
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
        if isinstance(query, SparseTerms):
            vector: Any = q.SparseVector(indices=list(query.indices), values=list(query.values))
        else:
            vector = [float(x) for x in query]
        request = q.QueryRequest(
            limit=k, query=q.Query.Nearest(vector, using=using), filter=self._filter(where), with_payload=True
        )
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
            return method(*args)


# ---- qdrant-client (server, cluster, or the client's local mode) -----------------------------------------------
class ClientEngine:
    """One collection on a Qdrant server (`location` is a URL) or in qdrant-client's local mode (a folder)."""

    def __init__(self, location: str, collection: str, dim: int, api_key: str = "") -> None:
        from qdrant_client import QdrantClient, models

        self.m, self.collection, self.location = models, collection, location
        self._closed = False
        try:
            if location.startswith(("http://", "https://")):
                self.client = QdrantClient(url=location, api_key=api_key or None, timeout=30)
            else:
                self.client = QdrantClient(path=location)
            if not self.client.collection_exists(collection):
                self._create(dim)
        except IndexError_:
            raise
        except Exception as error:  # connection refused, bad key, locked folder: one message naming the place
            raise IndexError_(
                f"cannot reach the Qdrant collection {collection!r} at {location}: {error}. Check RAG_QDRANT_URL "
                "and RAG_QDRANT_API_KEY, and that the server is up"
            ) from error

    def _create(self, dim: int) -> None:
        m = self.m
        self.client.create_collection(
            self.collection,
            vectors_config={DENSE: m.VectorParams(size=dim, distance=m.Distance.COSINE)},
            sparse_vectors_config={SPARSE: m.SparseVectorParams(modifier=m.Modifier.IDF)},
        )
        with warnings.catch_warnings():  # local mode warns that it ignores payload indexes; a server uses them
            warnings.simplefilter("ignore", UserWarning)
            for field in KEYWORD_FIELDS:
                self.client.create_payload_index(self.collection, field, m.PayloadSchemaType.KEYWORD)
            for field in INTEGER_FIELDS:
                self.client.create_payload_index(self.collection, field, m.PayloadSchemaType.INTEGER)

    def _filter(self, where: Where) -> Any:
        m = self.m
        must: list[Any] = [m.FieldCondition(key="kind", match=m.MatchValue(value=where.kind))]
        for key, values in (("doc_id", where.doc_ids), ("chunk_id", where.chunk_ids), ("name", where.names)):
            if values is not None:
                must.append(m.FieldCondition(key=key, match=m.MatchAny(any=list(values))))
        if where.ordinals is not None:
            must.append(m.FieldCondition(key="ordinal", range=m.Range(gte=where.ordinals[0], lte=where.ordinals[1])))
        must_not = None
        if where.version_not is not None:
            must_not = [m.FieldCondition(key="version", match=m.MatchAny(any=list(where.version_not)))]
        return m.Filter(must=must, must_not=must_not)

    def _point(self, point: NewPoint) -> Any:
        m = self.m
        vector: dict[str, Any] = {}
        if point.dense is not None:
            vector[DENSE] = [float(x) for x in point.dense]
        if point.sparse:
            vector[SPARSE] = m.SparseVector(indices=list(point.sparse.indices), values=list(point.sparse.values))
        return m.PointStruct(id=point.id, vector=vector, payload=point.payload)

    def upsert(self, points: Sequence[NewPoint]) -> None:
        for start in range(0, len(points), PAGE_SIZE):
            batch = [self._point(p) for p in points[start : start + PAGE_SIZE]]
            self._call("upsert", self.collection, points=batch, wait=True)

    def delete(self, where: Where) -> None:
        self._call("delete", self.collection, points_selector=self.m.FilterSelector(filter=self._filter(where)))

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self._call("delete", self.collection, points_selector=self.m.PointIdsList(points=list(ids)))

    def nearest(self, using: str, query: np.ndarray | SparseTerms, k: int, where: Where) -> list[Record]:
        if isinstance(query, SparseTerms):
            vector: Any = self.m.SparseVector(indices=list(query.indices), values=list(query.values))
        else:
            vector = [float(x) for x in query]
        found = self._call(
            "query_points", self.collection, query=vector, using=using, limit=k,
            query_filter=self._filter(where), with_payload=True,
        )  # fmt: skip
        return [Record(str(p.id), p.payload or {}, float(p.score)) for p in found.points]

    def scroll(self, where: Where, vectors: bool = False) -> Iterator[Record]:
        offset = None
        while True:
            records, offset = self._call(
                "scroll", self.collection, scroll_filter=self._filter(where), limit=PAGE_SIZE, offset=offset,
                with_payload=True, with_vectors=[DENSE] if vectors else False,
            )  # fmt: skip
            yield from (Record(str(r.id), r.payload or {}, 0.0, _dense(r.vector) if vectors else None) for r in records)
            if offset is None or not records:
                return

    def retrieve(self, ids: Sequence[str]) -> list[Record]:
        if not ids:
            return []
        found = self._call("retrieve", self.collection, ids=list(ids), with_payload=True, with_vectors=False)
        return [Record(str(r.id), r.payload or {}) for r in found]

    def flush(self) -> None:
        """Server writes are acknowledged durable (wait=True); nothing to do."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.client.close()

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            raise IndexError_(f"the Qdrant collection {self.collection!r} was closed (the session ended); reopen it")
        try:
            return getattr(self.client, name)(*args, **kwargs)
        except Exception as error:
            if type(error).__module__.startswith(("qdrant_client", "httpx", "httpcore", "grpc")):
                raise IndexError_(f"Qdrant at {self.location} failed to {name}: {error}") from error
            raise
