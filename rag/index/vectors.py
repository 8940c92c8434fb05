"""The FAISS side of the index: a cache of SQLite's vectors for one generation (see `rag.index.store`).

Keyed by chunk row id: an `IndexIDMap2` over `IndexFlatIP` (exact cosine search on unit vectors) or, from
`AnnOptions.threshold` vectors on, an `IndexIVFFlat` holding the row ids itself (approximate: a query scans the
`nprobe` nearest of `nlist` ≈ 2·√N clusters; not wrapped in an IDMap, whose `remove_ids` breaks over an IVF).
Why: exact search is linear in the chunks (~22 ms at 100k, ~146 ms at 1M on the 2-core box), while IVF with nprobe 16 kept recall@10 ≥ 0.995 vs exact at ~1 ms (docs/speed.md). A document filter is a FAISS
`IDSelectorBatch`, so filtering never needs a larger k; a filtered IVF search scans every cluster, so it is exact
over the allowed chunks (a filter over a few documents must never miss their chunks).

A write changes the index in place (`update`: remove the deleted row ids, add the new ones) instead of building
it again, as long as it stays the kind the options choose and an IVF's clusters still suit its size (`fits`).
Training an IVF again cost 4-11 s at 100k chunks and ~90 s at 1M on the 2-core box, under the store's lock.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

TRAIN_PER_LIST = 64  # k-means sample per cluster: plenty for IVF (FAISS warns below 39), bounded training time
TRAIN_SEED = 0  # the training sample is drawn with a fixed seed, so a rebuild gives the same index


@dataclass(frozen=True)
class AnnOptions:
    """When the cache becomes approximate, and how many clusters an unfiltered query scans."""

    threshold: int  # vectors from which the index is IVF; 0 = always exact
    nprobe: int

    def wants_ivf(self, rows: int) -> bool:
        return self.threshold > 0 and rows >= self.threshold


EXACT = AnnOptions(threshold=0, nprobe=1)


def ivf_lists(rows: int) -> int:
    """Return the number of IVF clusters for `rows` vectors: round(2·√rows), at least 1, at most `rows`."""
    return max(1, min(rows, round(2 * math.sqrt(rows))))


def use_one_thread() -> None:
    """Make FAISS use one OpenMP thread in the calling thread.

    Measured on the 2-core box: a search with FAISS's default 2 threads ran 3x slower than with 1 under
    contention, and a single query gains nothing from threads. libgomp keeps this setting per thread (a call in
    one thread leaves the others at the default), so it is made in every thread that searches, not once.
    """
    import faiss

    faiss.omp_set_num_threads(1)


class VectorCache:
    """The FAISS index of one generation, saved as data_dir/vectors.g<generation>.faiss."""

    def __init__(self, data_dir: Path, dim: int, ann: AnnOptions = EXACT) -> None:
        self.data_dir = data_dir
        self.dim = dim
        self.ann = ann
        self.generation = -1
        self.index: Any = None
        self._ivf: Any = None  # the IVF inside `index`, or None when the index is exact
        self._unsaved = False  # rebuilt since the last load/save: `save` must write it

    def path(self, generation: int) -> Path:
        return self.data_dir / f"vectors.g{generation}.faiss"

    def describe(self) -> str:
        """Return "flat" or "ivf<nlist>/nprobe<n>" (for logs and benchmarks)."""
        return "flat" if self._ivf is None else f"ivf{self._ivf.nlist}/nprobe{self._ivf.nprobe}"

    def load(self, generation: int) -> bool:
        """Return True when a saved cache for `generation` was read (False: absent, unreadable or of the wrong
        kind for the current options → rebuild)."""
        import faiss

        path = self.path(generation)
        if not path.is_file():
            return False
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:  # a torn or corrupt cache file: SQLite still has every vector
            logger.warning("rebuilding the vector cache: %s is unreadable (%s)", path, exc)
            return False
        ivf = faiss.try_extract_index_ivf(index)
        if index.d != self.dim:
            return False
        if ivf is not None and not isinstance(index, faiss.IndexIVF):
            logger.info("rebuilding the vector cache: %s wraps its IVF in an id map (older layout)", path)
            return False
        if (ivf is not None) != self.ann.wants_ivf(index.ntotal):  # the threshold changed since it was saved
            logger.info("rebuilding the vector cache: %s is not the index the current settings choose", path)
            return False
        self.index, self._ivf, self.generation, self._unsaved = index, ivf, generation, False
        self._set_nprobe()  # the saved nprobe may come from other settings
        return True

    def load_newest(self) -> bool:
        """Read the newest saved cache of any generation (True when one was read).

        A process that starts after writes whose cache was never saved (killed before `flush`) finds only an older
        file; `rag.index.store` brings it up to date by diffing its row ids against SQLite, which is correct whatever
        generation it has, because row ids are never reused. Cheaper than training an IVF again.
        """
        names = (re.fullmatch(r"vectors\.g(\d+)\.faiss", p.name) for p in self.data_dir.glob("vectors.g*.faiss"))
        found = [int(m.group(1)) for m in names if m]
        return bool(found) and self.load(max(found))

    def rebuild(self, generation: int, ids: np.ndarray, matrix: np.ndarray) -> None:
        """Build the index from row ids and their unit vectors: exact below the threshold, IVF from it on."""
        import faiss

        # One thread here too: a 100k IVF build took 3.6-5.4 s with 1 thread and 5.1-5.2 s with 2 at load ~2.5-3
        # on the 2-core box, so a second thread bought nothing, and it keeps build times the same in every thread.
        use_one_thread()
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        ivf = self._trained_ivf(matrix) if self.ann.wants_ivf(len(ids)) else None
        index = ivf if ivf is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        if len(ids):
            index.add_with_ids(matrix, ids)
        self.index, self._ivf, self.generation, self._unsaved = index, ivf, generation, True
        self._set_nprobe()

    def fits(self, rows: int) -> bool:
        """Whether the index in memory can take changes in place and then hold `rows` vectors.

        It must be the kind the options choose for `rows`, and an IVF must still suit its size: the nlist it was
        trained with is what `ivf_lists` gives for half to twice `rows` vectors. Past that it is trained again.
        """
        if self.index is None or (self._ivf is not None) != self.ann.wants_ivf(rows):
            return False
        return self._ivf is None or self._ivf.nlist / 2 <= ivf_lists(rows) <= self._ivf.nlist * math.sqrt(2)

    def ids(self) -> np.ndarray:
        """Return the row ids the index holds (int64, in no particular order; empty when there is no index)."""
        import faiss

        if self.index is None:
            return np.zeros(0, dtype=np.int64)
        if self._ivf is None:
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        lists = self._ivf.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(self._ivf.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def update(self, generation: int, removed: np.ndarray, added: np.ndarray, matrix: np.ndarray) -> None:
        """Bring the index to `generation` in place: drop the `removed` row ids, add `added` with their vectors."""
        import faiss

        use_one_thread()
        if len(removed):
            self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(removed, dtype=np.int64)))
        if len(added):
            self.index.add_with_ids(np.ascontiguousarray(matrix, dtype=np.float32), added)
        self.generation, self._unsaved = generation, True

    def _trained_ivf(self, matrix: np.ndarray) -> Any:
        """Return an empty IndexIVFFlat trained on a fixed-seed sample of at most TRAIN_PER_LIST·nlist rows."""
        import faiss

        nlist = ivf_lists(len(matrix))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        count = min(len(matrix), TRAIN_PER_LIST * nlist)
        sample = np.sort(np.random.default_rng(TRAIN_SEED).choice(len(matrix), count, replace=False))
        ivf.train(matrix[sample])  # k-means has its own fixed seed (ClusteringParameters.seed)
        logger.info("vector index: IVF with %d clusters over %d vectors", nlist, len(matrix))
        return ivf

    def _set_nprobe(self) -> None:
        if self._ivf is not None:
            self._ivf.nprobe = max(1, min(self.ann.nprobe, self._ivf.nlist))

    def save(self) -> None:
        """Write the cache atomically (temp file + rename) and remove caches of older generations."""
        import faiss

        target = self.path(self.generation)
        if self.index is None or not self._unsaved:
            return
        fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".tmp", dir=self.data_dir)
        os.close(fd)
        try:
            faiss.write_index(self.index, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._unsaved = False
        for old in self.data_dir.glob("vectors.g*.faiss"):
            if old != target:
                old.unlink(missing_ok=True)

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Return up to `k` (row id, cosine) pairs, best first; `allowed` restricts the row ids searched."""
        import faiss

        if self.index is None or self.index.ntotal == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        selector = faiss.IDSelectorBatch(allowed) if allowed is not None else None
        params = None
        if selector is not None and self._ivf is not None:  # scan every list: exact over the allowed chunks
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self._ivf.nlist)
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)
        k = min(k, self.index.ntotal if allowed is None else len(allowed))
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        use_one_thread()
        scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
