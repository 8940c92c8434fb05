"""The two ways to reach Qdrant, behind one small surface that `rag.index.qdrant.QdrantIndex` writes and reads through.

- `rag.index.qdrant_edge.EdgeEngine`: Qdrant's own Rust engine inside this process (`qdrant-edge-py`);
- `rag.index.qdrant_server.ClientEngine`: `qdrant-client` against a Qdrant server or cluster, or the client's
  local mode (a stand-in for the tests).

Filters are written once in our own terms (`Where`) and translated here, so the index logic never touches
either library's types. Point ids are UUID strings; `Record.payload` is a plain dict.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

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


class _Translate:
    """Our `Where` / `NewPoint` in a Qdrant library's own types; Edge and qdrant-client name them alike."""

    m: Any  # the library's module of types (qdrant_edge, or qdrant_client.models)
    range_type: Any
    point_type: Any

    def _filter(self, where: Where) -> Any:
        m = self.m
        must = [m.FieldCondition(key="kind", match=m.MatchValue(value=where.kind))]
        for key, values in (("doc_id", where.doc_ids), ("chunk_id", where.chunk_ids), ("name", where.names)):
            if values is not None:
                must.append(m.FieldCondition(key=key, match=m.MatchAny(any=list(values))))
        if where.ordinals is not None:
            low, high = where.ordinals
            must.append(m.FieldCondition(key="ordinal", range=self.range_type(gte=low, lte=high)))
        must_not = None
        if where.version_not is not None:
            must_not = [m.FieldCondition(key="version", match=m.MatchAny(any=list(where.version_not)))]
        return m.Filter(must=must, must_not=must_not)

    def _vector(self, query: np.ndarray | SparseTerms) -> Any:
        if isinstance(query, SparseTerms):
            return self.m.SparseVector(indices=list(query.indices), values=list(query.values))
        return [float(x) for x in query]

    def _point(self, point: NewPoint) -> Any:
        vector: dict[str, Any] = {}
        if point.dense is not None:
            vector[DENSE] = self._vector(point.dense)
        if point.sparse:
            vector[SPARSE] = self._vector(point.sparse)
        return self.point_type(id=point.id, vector=vector, payload=point.payload)
