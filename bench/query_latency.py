"""Query latency and memory vs corpus size (10k / 100k / 1M chunks), and approximate FAISS indexes vs exact.

    python bench/query_latency.py --base /tmp/ingest/ours-0/data --sizes 10000,100000,1000000 --out q.json
    python bench/query_latency.py --sizes 2000 --queries 10 --articles 3     # smoke test (builds its own base)

Corpus: the real chunks (text + stored vector) of a data dir built by `bench/ingest.py` (`--base`; without it,
the first `--articles` COVID-QA articles are ingested here), repeated to N chunks with small perturbations:
each copy swaps 3 words for words of another chunk (so BM25 sees realistic, not identical, texts), and its
vector is the unit mix 0.85·v_i + 0.35·v_j + noise(σ=0.02) of two real chunk vectors — embedding 1M chunks on 2
cores would take ~8 h, so these are synthetic-but-realistic unit vectors, not embeddings of the perturbed texts.
The index is written through `rag.index.store.Store.put` (1,000 chunks per document) and searched through
`Library.search` in a fresh process, timing dense, BM25 and hybrid (query embedding included) and the
sentence re-ranker of `bench/experiments.py` separately. The FAISS index is the engine's own choice at each
size (exact below `RAG_ANN_THRESHOLD` chunks, IVF from it on; set RAG_ANN_THRESHOLD / RAG_ANN_NPROBE in the
environment to move it), and its recall@10 vs exact search is reported. Then HNSW and IVF settings over the same
vectors are compared with exact search: recall@10 and single-query latency, on one FAISS thread as the engine
searches.

    RAG_ANN_THRESHOLD=1000 python bench/query_latency.py --sizes 2000 --queries 10 --articles 3   # IVF smoke test
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from ann_recall import ann
from common import (
    COVID_JSON,
    ROOT,
    base_parser,
    covid_evalset,
    go_offline,
    load_avg,
    offline_env,
    peak_rss_mb,
    rss_mb,
    shared_dir,
    summary,
    table,
    write_json,
)

MODES = ("dense", "bm25", "hybrid")
PER_DOC = 1000


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, action="append", help="a data dir with real chunks (repeatable)")
    parser.add_argument("--articles", type=int, default=20, help="COVID-QA articles to ingest when --base is absent")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=50, help="COVID-QA questions used as queries")
    parser.add_argument("--repeats", type=int, default=3, help="times each query is timed per mode")
    parser.add_argument("--rerank-queries", type=int, default=10, help="queries timed with the sentence re-ranker")
    parser.add_argument("--hnsw-max", type=int, default=200_000, help="skip HNSW above this size (slow to build)")
    parser.add_argument("--generator", action="store_true", help="also load the default generator (peak RSS)")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--build-only", action="store_true", help="build the indexes in --work, measure later")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    shared = shared_dir(args.shared, COVID_JSON)
    go_offline()
    if args.measure:
        args.result.write_text(json.dumps(measure(shared, args.measure, args)))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="h7-query-"))
    bases = args.base or [ingest_base(shared, work / "base", args.articles)]
    texts, vectors = read_base(bases)
    print(f"base: {len(texts)} real chunks from {', '.join(map(str, bases))}")
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        data = work / f"n{size}"
        build_s = build_once(data, size, texts, vectors)
        if args.build_only:
            continue
        out = work / f"n{size}.json"
        cmd = [sys.executable, __file__, "--measure", str(data), "--result", str(out), "--shared", str(args.shared)]
        cmd += ["--queries", str(args.queries), "--repeats", str(args.repeats), "--hnsw-max", str(args.hnsw_max)]
        cmd += ["--rerank-queries", str(args.rerank_queries)]
        cmd += ["--generator"] * args.generator
        subprocess.run(cmd, check=True, env=offline_env(), cwd=ROOT)
        result = json.loads(out.read_text()) | {"size": size, "build_s": build_s, "disk_mb": _disk_mb(data)}
        results.append(result)
        print(f"n={size}: built in {build_s:.0f} s; {json.dumps(result['latency_ms'])}", flush=True)
    if results:
        report(results, args.out)


def ingest_base(shared: Path, data: Path, articles: int) -> Path:
    """Ingest the first `articles` COVID-QA articles into `data` and return it."""
    from rag.config import Settings
    from rag.embedding import load_embedder
    from rag.library import Library

    folder = data.parent / "articles"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in covid_evalset(shared).sources[:articles]:
        (folder / source.name).write_text(source.text, encoding="utf-8")
        paths.append(folder / source.name)
    settings = Settings.from_env().replace(data_dir=data)
    with Library.open(settings, load_embedder(settings)) as library:
        library.ingest(paths)
    return data


def read_base(folders: list[Path]) -> tuple[list[str], np.ndarray]:
    """Return every distinct chunk text and its stored vector from these data dirs' SQLite files."""
    import sqlite3

    found: dict[str, bytes] = {}
    for data in folders:
        conn = sqlite3.connect(f"file:{data / 'index.sqlite3'}?mode=ro", uri=True)
        found.update(conn.execute("SELECT text, vector FROM chunks ORDER BY id").fetchall())
        conn.close()
    return list(found), np.stack([np.frombuffer(v, dtype=np.float32) for v in found.values()])


def synth(texts: list[str], vectors: np.ndarray, start: int, count: int, rng: random.Random) -> tuple[list, Any]:
    """Return `count` perturbed copies (texts, unit vectors) of the base chunks, starting at copy `start`."""
    base = len(texts)
    out_texts = []
    mix = np.empty((count, vectors.shape[1]), dtype=np.float32)
    nprng = np.random.default_rng(start)
    for n in range(count):
        i, j = (start + n) % base, rng.randrange(base)
        words, donor = texts[i].split(" "), texts[j].split(" ")
        for _ in range(3):
            words[rng.randrange(len(words))] = donor[rng.randrange(len(donor))]
        out_texts.append(" ".join(words))
        mix[n] = 0.85 * vectors[i] + 0.35 * vectors[j]
    mix += nprng.normal(0.0, 0.02, mix.shape).astype(np.float32)
    return out_texts, mix / np.linalg.norm(mix, axis=1, keepdims=True)


def build_once(data: Path, size: int, texts: list[str], vectors: np.ndarray) -> float:
    """Build the index in `data` unless a finished build is there (so building and measuring can be separate
    runs); return the build seconds (from the first build)."""
    done = data / "BUILT_S"
    if not done.is_file():
        t0 = time.perf_counter()
        build_index(data, size, texts, vectors)
        done.write_text(str(time.perf_counter() - t0))
    return float(done.read_text())


def build_index(data: Path, size: int, texts: list[str], vectors: np.ndarray) -> None:
    """Write `size` synthetic chunks through Store.put (1,000 per document), then the FAISS and BM25 caches."""
    from rag.config import Settings
    from rag.index.lexical import Bm25Index
    from rag.index.store import Store
    from rag.index.vectors import AnnOptions
    from rag.types import Chunk, Document, Page

    settings = Settings.from_env()  # the engine's own index choice (RAG_ANN_THRESHOLD), as Library.open makes it
    ann = AnnOptions(settings.ann_threshold, settings.ann_nprobe)
    store = Store.open(data, "sentence-transformers/all-MiniLM-L6-v2", vectors.shape[1], ann)
    rng = random.Random(0)
    for d, start in enumerate(range(0, size, PER_DOC)):
        chunk_texts, mix = synth(texts, vectors, start, min(PER_DOC, size - start), rng)
        doc_id, offsets, position = f"{d:064x}", [], 0
        for text in chunk_texts:
            offsets.append((position, position + len(text)))
            position += len(text) + 1
        document = Document(doc_id, f"synthetic-{d:05d}.txt", "", "txt", (Page(1, "\n".join(chunk_texts)),))
        chunks = [Chunk(f"{doc_id[:16]}-{k}", doc_id, document.name, 1, a, b, t, (), k)
                  for k, (t, (a, b)) in enumerate(zip(chunk_texts, offsets, strict=True))]  # fmt: skip
        store.put(document, chunks, mix)
    store.flush()
    Bm25Index(store).refresh()
    store.close()


def _disk_mb(data: Path) -> float:
    return sum(p.stat().st_size for p in data.rglob("*") if p.is_file()) / 2**20


def measure(shared: Path, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: open the library, time each mode per query, re-ranking, and the ANN indexes."""
    from rag.config import Settings
    from rag.embedding import load_embedder
    from rag.library import Library

    settings = Settings.from_env().replace(data_dir=data)
    embedder = load_embedder(settings)
    queries = [q.text for q in covid_evalset(shared).queries[: args.queries]]
    embedder.encode(queries[:2])
    before = rss_mb()
    t0 = time.perf_counter()
    library = Library.open(settings, embedder)
    library.search(queries[0], k=5)  # loads FAISS and BM25 caches
    open_s, after = time.perf_counter() - t0, rss_mb()
    times: dict[str, list[float]] = {mode: [] for mode in (*MODES, "embed_query")}
    for _ in range(args.repeats):  # modes interleaved per query, so load changes hit them alike
        for q in queries:
            for mode in MODES:
                times[mode].append(_time(lambda m=mode, q=q: library.search(q, k=5, mode=m)))
            times["embed_query"].append(_time(lambda q=q: embedder.encode([q])))
    latency = {mode: summary(values) for mode, values in times.items()}
    latency["hybrid+rerank"] = summary([_time(call) for call in rerank_calls(library, queries[: args.rerank_queries])])
    if args.generator:
        from rag.generate.registry import load_generator

        load_generator(settings).load()
    peak = peak_rss_mb()  # embedder + index (+ generator), before the ANN experiments allocate their own indexes
    n = sum(d.chunks for d in library.documents())
    return {"chunks": n, "open_s": open_s, "rss_before_mb": before, "rss_after_mb": after,
            "bytes_per_chunk": (after - before) * 2**20 / n, "peak_rss_mb": peak, "latency_ms": latency,
            "threads": settings.resolved_threads, "generator": args.generator, "load": load_avg(),
            "index": library.index.store._vectors.describe(), "ann_threshold": settings.ann_threshold,
            "ann": ann(library, embedder.encode(queries), args.hnsw_max)}  # fmt: skip


def rerank_calls(library: Any, queries: list[str]) -> list[Any]:
    """Return one call per query: hybrid search + the engine's "embed" re-ranker (rag.search.rerank when present,
    else the prototype in bench/experiments.py over the top 20). Its cost does not depend on corpus size."""
    from dataclasses import fields, replace

    from rag.search.retrieve import RetrievalOptions, retrieve

    if "reranker" in {f.name for f in fields(RetrievalOptions)}:
        options = replace(library.options(k=5, mode="hybrid"), reranker="embed")
        return [lambda q=q: retrieve(q, library.sources, options) for q in queries]
    from bench.experiments import rerank_by_sentences

    encode = library.embedder.encode
    return [lambda q=q: rerank_by_sentences(q, library.search(q, k=20, mode="hybrid"), encode) for q in queries]


def _time(call: Any) -> float:
    t0 = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - t0)


def report(results: list[dict[str, Any]], out: Path | None) -> None:
    """Print latency, memory and ANN tables; write JSON."""
    rows = [[r["size"], r.get("index", ""), m, r["latency_ms"][m]["median"], r["latency_ms"][m]["p95"],
             r["bytes_per_chunk"], r["disk_mb"] * 2**20 / r["size"], r["peak_rss_mb"], r["load"][0]]
            for r in results for m in (*MODES, "embed_query", "hybrid+rerank")]  # fmt: skip
    head = [
        "chunks",
        "FAISS index",
        "mode",
        "median ms",
        "p95 ms",
        "RSS B/chunk",
        "disk B/chunk",
        "peak RSS MB",
        "load",
    ]
    print(table(head, rows))
    ann_rows = [[r["size"], a["index"], a.get("efSearch", a.get("nprobe", "")), a["recall10"], a["ms"]["median"],
                 a["ms"]["p95"], a["build_s"]] for r in results for a in r["ann"]]  # fmt: skip
    print(table(["chunks", "index", "efSearch/nprobe", "recall@10", "median ms", "p95 ms", "build s"], ann_rows))
    write_json(out, {"results": results})


if __name__ == "__main__":
    main()
