"""Approximate FAISS indexes vs exact search over a library's vectors (for `bench/query_latency.py`).

The engine's own index (`VectorCache.search`: exact below RAG_ANN_THRESHOLD chunks, IVF from it on) is timed and
its recall@10 vs exact is reported; then HNSW and IVF settings over the same vectors. Every search is one query
on one FAISS thread, as the engine searches.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from common import summary


def ann(library: Any, queries: np.ndarray, hnsw_max: int) -> list[dict[str, Any]]:
    """Return recall@10 vs exact and single-query latency of the engine's own index, then of HNSW and IVF settings
    over the library's vectors (an IVF sweep over the engine's own IVF when it built one)."""
    import faiss

    from rag.index.vectors import use_one_thread

    use_one_thread()  # as the engine searches; the HNSW/IVF builds below run on one thread too
    cache = library.index.store._vectors
    ids, xb, flat = _exact_base(library.index.store)
    exact = flat.search(queries, 10)[1]  # positions in `xb`
    exact_rows = ids[exact]  # the same, as chunk row ids (what the engine returns)
    rows = [_probe("flat", flat, queries, exact, {}, 0.0), _probe_engine(cache, queries, exact_rows)]
    n, d = xb.shape
    if n <= hnsw_max:
        t0 = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 40
        hnsw.add(xb)
        build = time.perf_counter() - t0
        rows += [_probe("hnsw32", hnsw, queries, exact, {"efSearch": ef}, build) for ef in (16, 32, 64, 128)]
    engine_ivf = faiss.try_extract_index_ivf(cache.index)
    if engine_ivf is not None:  # sweep nprobe on the index the engine built (build time: see build_s per size)
        ivf, truth, build, nlist, nprobe = cache.index, exact_rows, 0.0, engine_ivf.nlist, engine_ivf.nprobe
    else:
        nlist = int(min(4096, max(16, 2 * np.sqrt(n))))
        t0 = time.perf_counter()
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(xb[np.random.default_rng(0).choice(n, min(n, 40 * nlist), replace=False)])
        ivf.add(xb)
        truth, build, nprobe = exact, time.perf_counter() - t0, None
    rows += [_probe(f"ivf{nlist}", ivf, queries, truth, {"nprobe": p}, build) for p in (4, 8, 16, 32, 64) if p <= nlist]
    if engine_ivf is not None:
        engine_ivf.nprobe = nprobe  # the sweep changed the engine's own index
    return rows


def _exact_base(store: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Return (row ids, vectors, exact flat index over them): the engine's own flat index when it is one (no
    copy), else every vector read back from SQLite into a new IndexFlatIP."""
    import faiss

    index = store._vectors.index
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexFlat):
        n, d = inner.ntotal, inner.d
        return faiss.vector_to_array(index.id_map), faiss.rev_swig_ptr(inner.get_xb(), n * d).reshape(n, d), inner
    n, d = index.ntotal, index.d
    ids, xb = np.empty(n, dtype=np.int64), np.empty((n, d), dtype=np.float32)
    for i, (row, blob) in enumerate(store._conn.execute("SELECT id, vector FROM chunks ORDER BY id")):
        ids[i], xb[i] = row, np.frombuffer(blob, dtype=np.float32)
    flat = faiss.IndexFlatIP(d)
    flat.add(xb)
    return ids, xb, flat


def _probe_engine(cache: Any, queries: np.ndarray, exact_rows: np.ndarray) -> dict:
    """Return recall@10 vs exact and single-query milliseconds of the engine's own index (VectorCache.search)."""
    found, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        found.append([row for row, _ in cache.search(q, 10, None)])
        times.append(1000 * (time.perf_counter() - t0))
    recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact_rows.tolist(), strict=True)]))
    return {"index": f"engine:{cache.describe()}", "recall10": recall, "ms": summary(times), "build_s": 0.0}


def _probe(name: str, index: Any, queries: np.ndarray, exact: np.ndarray, knob: dict, build_s: float) -> dict:
    """Return recall@10 and median/p95 single-query milliseconds of `index` with one search knob set."""
    import faiss

    for key, value in knob.items():
        target = index.hnsw if key == "efSearch" else (faiss.try_extract_index_ivf(index) or index)
        setattr(target, key, value)
    found, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        found.append(index.search(q.reshape(1, -1), 10)[1][0])
        times.append(1000 * (time.perf_counter() - t0))
    recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)]))
    return {"index": name, **knob, "recall10": recall, "ms": summary(times), "build_s": build_s}
