"""The FAISS side of the index: a cache of SQLite's vectors for one generation (see `rag.store`).

An `IndexIDMap2` over `IndexFlatIP` keyed by chunk row id: exact cosine search on unit vectors. A document
filter is a FAISS `IDSelectorBatch`, so filtering never needs a larger k.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


class VectorCache:
    """The FAISS index of one generation, saved as data_dir/vectors.g<generation>.faiss."""

    def __init__(self, data_dir: Path, dim: int) -> None:
        self.data_dir = data_dir
        self.dim = dim
        self.generation = -1
        self.index = None

    def path(self, generation: int) -> Path:
        return self.data_dir / f"vectors.g{generation}.faiss"

    def load(self, generation: int) -> bool:
        """Return True when a saved cache for `generation` was read (False: absent or unreadable → rebuild)."""
        import faiss

        path = self.path(generation)
        if not path.is_file():
            return False
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:  # a torn or corrupt cache file: SQLite still has every vector
            logger.warning("rebuilding the vector cache: %s is unreadable (%s)", path, exc)
            return False
        if index.d != self.dim:
            return False
        self.index, self.generation = index, generation
        return True

    def rebuild(self, generation: int, ids: np.ndarray, matrix: np.ndarray) -> None:
        """Build the index from row ids and their unit vectors."""
        import faiss

        index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(matrix, dtype=np.float32), ids)
        self.index, self.generation = index, generation

    def save(self) -> None:
        """Write the cache atomically (temp file + rename) and remove caches of older generations."""
        import faiss

        target = self.path(self.generation)
        if self.index is None or target.is_file():
            return
        fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".tmp", dir=self.data_dir)
        os.close(fd)
        try:
            faiss.write_index(self.index, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for old in self.data_dir.glob("vectors.g*.faiss"):
            if old != target:
                old.unlink(missing_ok=True)

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Return up to `k` (row id, cosine) pairs, best first; `allowed` restricts the row ids searched."""
        import faiss

        if self.index is None or self.index.ntotal == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed)) if allowed is not None else None
        k = min(k, self.index.ntotal if allowed is None else len(allowed))
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
