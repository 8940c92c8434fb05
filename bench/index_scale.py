"""How an index of N chunks opens, searches and weighs, on any backend: the reading side of bench/write_cost.py.

    python bench/index_scale.py --chunks 100000 --backend qdrant-edge --queries 200 --json --data-dir /tmp/is-edge
    python bench/index_scale.py --chunks 100000 --real-vectors minilm.npy --data-dir /tmp/is-real   # real vectors
    python bench/index_scale.py --chunks 2000 --queries 20                 # smoke test (temporary data dir)

The index is the one write_cost.py builds (`bench/synthetic_index.py`; reused when --data-dir holds it). Measured:
- cold open: `open_index` on the existing data dir in a fresh subprocess (imports done first and timed apart), and
  the first hybrid query after it (local loads FAISS and BM25 there); median of 3 processes (the OS file cache is
  warm: this is a restart, not a cold disk);
- hybrid search as the app issues it (`rag.search.retrieve`): one dense_search k=100, then one keyword_search
  k=100, per query, in another fresh process after one warm-up query; p50/p95 of the pair and of each half.
  A query is a stored chunk's vector plus noise (norm --noise, renormalised) and 3-6 words of that chunk's text;
- dense recall@10 (and @100) of those k=100 searches vs exact brute force (numpy over every stored vector,
  regenerated from the seed). Random vectors are a poor test of an approximate index (HNSW, IVF): their neighbours
  are all nearly equidistant. --real-vectors PATH.npy ((n, 384) real embeddings) makes the corpus and the queries
  real vectors (queries = a stored real vector plus noise);
- memory: the search process's peak RSS and its growth over the RSS after imports, per chunk (VmHWM: getrusage's
  ru_maxrss, also reported, survives exec and so counts this parent's RSS at fork, the builder's after a build);
  and the data dir's bytes on disk (allocated, and apparent: Qdrant Edge preallocates sparse files), per chunk.
Prints one JSON object with --json, else a short report. At these sizes the local backend's FAISS is exact below
RAG_ANN_THRESHOLD (100k) chunks, and Qdrant Edge's segments are "plain" (brute force) unless something optimizes them.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import rss_mb, summary
from synthetic_index import (
    DIM,
    EMBEDDER,
    Corpus,
    add_backend_options,
    backend_bytes,
    describe_vectors,
    environment,
    open_or_build,
    process_threads,
    settings_for,
    warn_stand_in,
)

K = 100  # candidates per retriever, as the app asks (Settings.candidates)
OPENS = 3  # fresh processes timed for the cold open


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_backend_options(parser)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.5, help="norm of the noise added to a query's chunk vector")
    parser.add_argument("--child", choices=("open", "search"), help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    if args.chunks < 1 or args.queries < 1:
        parser.error("--chunks and --queries must be at least 1")
    warn_stand_in(args.backend)
    corpus = Corpus(real_vectors=args.real_vectors)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix=f"index-scale-{args.backend}-"))
    say = (lambda message: None) if args.json else (lambda message: print(message, file=sys.stderr, flush=True))
    work = Path(tempfile.mkdtemp(prefix="index-scale-queries-"))
    try:
        index, built = open_or_build(args.backend, data_dir, corpus, args.chunks, say)
        try:
            stored = sum(d.chunks for d in index.documents())
            vectors_info = describe_vectors(index)
        finally:
            index.close()  # Qdrant Edge allows one process at a time: the children open it next
        say(f"index: {stored} chunks, built in {built['build_s']:.1f} s{' (reused)' if built['reused'] else ''}")
        vectors, texts = make_queries(corpus, args.chunks, args.queries, args.noise)
        np.save(work / "queries.npy", vectors)
        (work / "queries.json").write_text(json.dumps(texts))
        opens = [run_child(args, data_dir, "open", work) for _ in range(OPENS)]
        say(f"cold open: {statistics.median(o['open_s'] for o in opens):.3f} s; searching {len(texts)} queries")
        searched = run_child(args, data_dir, "search", work)
        say("exact search for recall")
        exact_ids = exact_top(corpus, args.chunks, vectors, K)
        disk = backend_bytes(args.backend, data_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    result = report(args, stored, built, opens, searched, exact_ids, disk, vectors_info, corpus)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.backend}, {stored} chunks: open {result['open_s']:.3f} s (+ first query "
              f"{result['first_query_s']:.3f} s); hybrid p50 {result['hybrid_p50_ms']:.1f} ms p95 "
              f"{result['hybrid_p95_ms']:.1f} ms (dense p50 {result['dense_p50_ms']:.1f}, keyword p50 "
              f"{result['keyword_p50_ms']:.1f}); dense recall@10 {result['recall_at_10']:.3f}; peak RSS "
              f"{result['peak_rss_mb']:.0f} MB ({result['rss_bytes_per_chunk']:.0f} B/chunk); disk "
              f"{result['disk_bytes'] / 2**20:.1f} MB ({result['disk_bytes_per_chunk']:.0f} B/chunk); "
              f"cpu {','.join(result['cpu_flags'])}, {result['threads']} cores, load {result['load_avg'][0]}")  # fmt: skip


def make_queries(corpus: Corpus, chunks: int, count: int, noise: float) -> tuple[np.ndarray, list[str]]:
    """`count` queries: a random stored chunk's vector plus noise of norm `noise` (renormalised), and 3-6 words of
    that chunk's text (so keyword search has something to find, with the corpus's Zipf-distributed words)."""
    rng = np.random.default_rng([corpus.seed, 3])
    rows = rng.choice(chunks, count, replace=count > chunks)
    wanted = {int(r) for r in rows}
    found: dict[int, tuple[str, np.ndarray]] = {}
    for first, _, texts, doc_vectors in corpus.base(chunks):
        for offset in range(len(texts)):
            if first + offset in wanted:
                found[first + offset] = (texts[offset], doc_vectors[offset])
    vectors = np.stack([found[int(r)][1] for r in rows])
    vectors = vectors + rng.standard_normal(vectors.shape, dtype=np.float32) * (noise / np.sqrt(DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = []
    for r in rows:
        words = found[int(r)][0].lower().rstrip(".").split()
        picked = rng.choice(len(words), int(rng.integers(3, 7)), replace=False)
        texts.append(" ".join(words[i] for i in sorted(picked)))
    return vectors.astype(np.float32), texts


def exact_top(corpus: Corpus, chunks: int, queries: np.ndarray, k: int) -> list[list[str]]:
    """The exact top-k chunk ids per query by cosine over every stored vector, a document at a time (numpy)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.empty((len(queries), 0), dtype=object)
    for _, ids, _, doc_vectors in corpus.base(chunks):
        scores = np.concatenate([best_scores, queries @ doc_vectors.T], axis=1)
        names = np.concatenate([best_ids, np.broadcast_to(np.array(ids, dtype=object), (len(queries), len(ids)))],
                               axis=1)  # fmt: skip
        keep = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_ids = np.take_along_axis(names, keep, axis=1)
    return [list(row) for row in best_ids]


def run_child(args: argparse.Namespace, data_dir: Path, what: str, work: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", what, "--chunks", str(args.chunks), "--backend", args.backend,
           "--data-dir", str(data_dir), "--queries-file", str(work / "queries")]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: the {what} process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: open the index (timed), then either one query (open) or every query (search)."""
    started = time.perf_counter()
    import_backend(args.backend)
    from rag.index.backends import open_index

    imported = time.perf_counter()
    rss_before = rss_mb()
    vectors = np.load(args.queries_file.with_suffix(".npy"))
    texts = json.loads(args.queries_file.with_suffix(".json").read_text())
    opened_at = time.perf_counter()
    index = open_index(settings_for(args.backend, args.data_dir), EMBEDDER, DIM)
    opened = time.perf_counter()
    try:
        index.dense_search(vectors[0], K)
        index.keyword_search(texts[0], K)
        first = time.perf_counter()
        result: dict[str, Any] = {"import_s": imported - started, "open_s": opened - opened_at,
                                  "first_query_s": first - opened}  # fmt: skip
        if args.child == "open":
            return result
        result["rss_after_open_mb"] = rss_mb()
        dense_ms, keyword_ms, found = [], [], []
        for vector, text in zip(vectors, texts, strict=True):
            t0 = time.perf_counter()
            hits = index.dense_search(vector, K)
            t1 = time.perf_counter()
            index.keyword_search(text, K)
            t2 = time.perf_counter()
            dense_ms.append(1000 * (t1 - t0))
            keyword_ms.append(1000 * (t2 - t1))
            found.append([h.chunk.chunk_id for h in hits])
        # getrusage's ru_maxrss survives exec: it counts the parent's RSS at fork (the builder's, after a build).
        # VmHWM is this process image's own peak, so it is the one reported; both are kept.
        rusage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return result | {"dense_ms": dense_ms, "keyword_ms": keyword_ms, "found": found, "rss_before_mb": rss_before,
                         "peak_rss_mb": vm_hwm_mb(), "peak_rss_getrusage_mb": rusage,
                         "process_threads": process_threads()}  # fmt: skip
    finally:
        index.close()


def vm_hwm_mb() -> float:
    """This process's peak resident set size in MB (VmHWM in /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def import_backend(backend: str) -> None:
    """Import what the backend's open and first search need, so open_s times the open, not the imports."""
    import rag.index.lexical as lexical
    import rag.index.local  # noqa: F401

    lexical._bm25s()
    lexical._stemmer()
    if backend == "local":
        import faiss  # noqa: F401
    elif backend == "qdrant-edge":
        import qdrant_edge  # noqa: F401

        import rag.index.qdrant  # noqa: F401
    else:
        import qdrant_client  # noqa: F401

        import rag.index.qdrant  # noqa: F401


def report(args: argparse.Namespace, stored: int, built: dict, opens: list[dict], searched: dict,
           exact_ids: list[list[str]], disk: dict[str, int], vectors_info: dict, corpus: Corpus) -> dict[str, Any]:  # fmt: skip
    dense, keyword = searched["dense_ms"], searched["keyword_ms"]
    hybrid = [d + k for d, k in zip(dense, keyword, strict=True)]
    stats = {name: summary(values) for name, values in (("hybrid", hybrid), ("dense", dense), ("keyword", keyword))}

    def recall(at: int) -> float:
        return float(np.mean([len(set(f[:at]) & set(e[:at])) / at for f, e in zip(searched["found"], exact_ids,
                                                                                   strict=True)]))  # fmt: skip

    grown = max(0.0, searched["peak_rss_mb"] - searched["rss_before_mb"])
    return {
        "backend": args.backend,
        "chunks": stored,
        "queries": len(hybrid),
        "open_s": statistics.median(o["open_s"] for o in opens),
        "open_s_runs": [o["open_s"] for o in opens],
        "first_query_s": statistics.median(o["first_query_s"] for o in opens),
        "import_s": statistics.median(o["import_s"] for o in opens),
        "hybrid_p50_ms": stats["hybrid"]["median"],
        "hybrid_p95_ms": stats["hybrid"]["p95"],
        "dense_p50_ms": stats["dense"]["median"],
        "dense_p95_ms": stats["dense"]["p95"],
        "keyword_p50_ms": stats["keyword"]["median"],
        "keyword_p95_ms": stats["keyword"]["p95"],
        "recall_at_10": recall(10),
        "recall_at_100": recall(K),
        "vectors": corpus.fingerprint(),
        "noise": args.noise,
        "peak_rss_mb": searched["peak_rss_mb"],
        "peak_rss_getrusage_mb": searched["peak_rss_getrusage_mb"],
        "rss_before_open_mb": searched["rss_before_mb"],
        "rss_after_open_mb": searched["rss_after_open_mb"],
        "rss_bytes_per_chunk": grown * 2**20 / max(1, stored),
        **disk,
        "disk_bytes_per_chunk": disk["disk_bytes"] / max(1, stored),
        "disk_apparent_bytes_per_chunk": disk["disk_apparent_bytes"] / max(1, stored),
        "build_s": built["build_s"],
        "reused": built["reused"],
        "vector_index": vectors_info,
        "process_threads": searched["process_threads"],
        "data_dir": str(args.data_dir) if args.data_dir else None,
        **environment(),
    }


if __name__ == "__main__":
    main()
