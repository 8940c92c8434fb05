"""What one write costs a large index: adding or deleting a document at N chunks, in place vs rebuilding FAISS.

    python bench/index_update.py --sizes 100000 --runs 3 --out update.json [--modes in-place,rebuild]

Builds a store of N synthetic chunks (clustered unit vectors, 1,000 chunks per document, written through
`rag.index.store.Store.put`; the engine's own FAISS choice, so IVF from RAG_ANN_THRESHOLD = 100k on), then times, per
run: one 20-chunk document added, and one 1,000-chunk document deleted, each followed by a search (which brings
FAISS to SQLite's generation) and `flush` (which saves the FAISS file). "in place" is the engine's path; "rebuild"
forces the old behaviour (FAISS built again from every stored vector, an IVF trained again). Prints medians.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import base_parser, go_offline, load_avg, synthetic_document, table, write_json

DIM = 384
PER_DOC = 1000


def clustered(count: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors around 200 centres: clustered like real embeddings, which IVF depends on."""
    centres = np.random.default_rng(0).normal(size=(200, DIM))
    points = centres[rng.integers(0, 200, count)] + 0.8 * rng.normal(size=(count, DIM))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def document(name: str, count: int, rng: np.random.Generator) -> tuple:
    return synthetic_document(name, [f"p{i}" for i in range(count)], clustered(count, rng))


def timed_write(store, write, rng: np.random.Generator) -> dict[str, float]:
    """Run `write`, then the search that syncs FAISS and the flush that saves it; return their seconds."""
    started = time.perf_counter()
    write()
    written = time.perf_counter()
    store.dense_search(clustered(1, rng)[0], 5)
    synced = time.perf_counter()
    store.flush()
    return {"write": written - started, "sync": synced - written, "save": time.perf_counter() - synced}


def measure(size: int, runs: int, in_place: bool) -> dict[str, list[dict[str, float]]]:
    from rag.config import Settings
    from rag.index.store import Store
    from rag.index.vectors import AnnOptions, VectorCache

    rng = np.random.default_rng(1)
    results: dict[str, list[dict[str, float]]] = {"add": [], "delete": []}
    with tempfile.TemporaryDirectory(prefix="index-update-") as tmp:
        settings = Settings.from_env()
        ann = AnnOptions(settings.ann_threshold, settings.ann_nprobe)
        store = Store.open(Path(tmp), "synthetic", DIM, ann)
        for n in range(size // PER_DOC):
            store.put(*document(f"base{n}", PER_DOC, rng))
        store.flush()
        fits = VectorCache.fits
        if not in_place:
            VectorCache.fits = lambda self, rows: False  # the pre-session-3 behaviour: rebuild on every write
        try:
            for run in range(runs):
                doc, chunks, vectors = document(f"new{run}", 20, rng)
                results["add"].append(timed_write(store, lambda d=doc, c=chunks, v=vectors: store.put(d, c, v), rng))
                victim = store.find(f"base{run}")
                results["delete"].append(timed_write(store, lambda v=victim: store.delete(v.doc_id), rng))
        finally:
            VectorCache.fits = fits
        print(f"{size} chunks, {'in place' if in_place else 'rebuild'}: {store._vectors.describe()}")
        store.close()
    return results


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default="in-place,rebuild", help="which of in-place,rebuild to measure")
    args = parser.parse_args()
    go_offline()
    rows, data = [], {}
    for size in [int(s) for s in args.sizes.split(",")]:
        for in_place in [mode == "in-place" for mode in args.modes.split(",")]:
            label = "in place" if in_place else "rebuild"
            found = measure(size, args.runs, in_place)
            data[f"{size}/{label}"] = found
            for write, timings in found.items():
                rows.append([size, label, write] + [statistics.median(t[p] for t in timings) for p in timings[0]])
    print(table(["chunks", "FAISS", "write", "SQLite s", "FAISS sync s", "save s"], rows))
    write_json(args.out, {"results": data, "load_avg": load_avg()})


if __name__ == "__main__":
    main()
