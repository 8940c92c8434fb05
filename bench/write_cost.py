"""What one document write costs an index of N chunks, on any backend: put of a 10-chunk document + commit.

    python bench/write_cost.py --chunks 100000 --backend qdrant-edge --runs 5 --json --data-dir /tmp/wc-edge
    python bench/write_cost.py --chunks 2000 --runs 2                  # smoke test (temporary data dir)

Builds (or reuses, when --data-dir holds the index this script built with the same N) an index of N synthetic
chunks (`bench/synthetic_index.py`: 1,000-chunk documents, Zipf-distributed pseudo-words, random unit vectors of dim
384 or --real-vectors), written as one ingest batch: `put` per document, one `commit()`. Then, per run, the way the
app writes one uploaded file: `put` of a new 10-chunk document followed by `commit()` (timed together: write_s; and
apart: put_s, commit_s), then the same document deleted with `delete` + `commit()` (delete_s). Local's commit saves
FAISS and rebuilds BM25 from every chunk (bm25s cannot edit in place), so its cost grows with N; Qdrant's does not.
Prints one JSON object with --json, else one readable line. qdrant-client-local is qdrant-client's pure-Python local
mode: a stand-in for tests, not a Qdrant server.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from synthetic_index import (
    Corpus,
    add_backend_options,
    backend_bytes,
    describe_vectors,
    environment,
    open_or_build,
    process_threads,
    warn_stand_in,
)


def measure(index: Any, corpus: Corpus, chunks: int, runs: int) -> dict[str, list[float]]:
    """Per run: put + commit of a new 10-chunk document, then delete + commit of it; seconds of each part."""
    found: dict[str, list[float]] = {"put": [], "commit": [], "write": [], "delete": []}
    for run in range(runs):
        document, doc_chunks, vectors = corpus.write_document(chunks, run)
        started = time.perf_counter()
        index.put(document, doc_chunks, vectors)
        put = time.perf_counter()
        index.commit()
        done = time.perf_counter()
        found["put"].append(put - started)
        found["commit"].append(done - put)
        found["write"].append(done - started)
        started = time.perf_counter()
        index.delete(document.doc_id)
        index.commit()
        found["delete"].append(time.perf_counter() - started)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_backend_options(parser)
    parser.add_argument("--runs", type=int, default=5, help="one-document writes (each then deleted)")
    args = parser.parse_args()
    if args.chunks < 1 or args.runs < 1:
        parser.error("--chunks and --runs must be at least 1")
    warn_stand_in(args.backend)
    corpus = Corpus(real_vectors=args.real_vectors)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix=f"write-cost-{args.backend}-"))
    log = None if args.json else (lambda message: print(message, file=sys.stderr, flush=True))
    try:
        index, built = open_or_build(args.backend, data_dir, corpus, args.chunks, log)
        try:
            documents = index.documents()
            stored = sum(d.chunks for d in documents)
            found = measure(index, corpus, args.chunks, args.runs)
            vectors = describe_vectors(index)
        finally:
            index.close()
        disk = backend_bytes(args.backend, data_dir)
    finally:
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    result = {
        "backend": args.backend,
        "chunks": stored,
        "documents": len(documents),
        "write_s": statistics.median(found["write"]),
        "write_s_runs": found["write"],
        "put_s": statistics.median(found["put"]),
        "commit_s": statistics.median(found["commit"]),
        "commit_s_runs": found["commit"],
        "delete_s": statistics.median(found["delete"]),
        "delete_s_runs": found["delete"],
        "build_s": built["build_s"],
        "reused": built["reused"],
        "runs": args.runs,
        **disk,
        "vector_index": vectors,
        "process_threads": process_threads(),
        "vectors": corpus.fingerprint(),
        "data_dir": str(data_dir) if args.data_dir else None,
        **environment(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        runs = ", ".join(f"{s:.3f}" for s in found["write"])
        print(f"{args.backend}, {stored} chunks: write {result['write_s']:.3f} s median (put {result['put_s']:.3f} + "
              f"commit {result['commit_s']:.3f}; runs {runs}), delete {result['delete_s']:.3f} s, build "
              f"{built['build_s']:.1f} s{' (reused)' if built['reused'] else ''}; cpu {','.join(result['cpu_flags'])}, "
              f"{result['threads']} cores, load {result['load_avg'][0]}")  # fmt: skip


if __name__ == "__main__":
    main()
