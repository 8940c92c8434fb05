"""`ClientEngine`: `qdrant-client` against a Qdrant server or cluster (`RAG_QDRANT_URL=http://…`), or the client's
pure-Python local mode when the "URL" is a folder (a stand-in the tests use; see the README for what it cannot check).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from rag.errors import IndexError_
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


class ClientEngine(_Translate):
    """One collection on a Qdrant server (`location` is a URL) or in qdrant-client's local mode (a folder)."""

    def __init__(self, location: str, collection: str, dim: int, api_key: str = "") -> None:
        from qdrant_client import QdrantClient, models

        self.m, self.collection, self.location = models, collection, location
        self.range_type, self.point_type = models.Range, models.PointStruct
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
        found = self._call(
            "query_points", self.collection, query=self._vector(query), using=using, limit=k,
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
