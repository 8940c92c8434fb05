"""A synthetic index of N chunks on any backend, shared by `bench/write_cost.py` and `bench/index_scale.py`.

Documents of 1,000 chunks (10 chunks a page), each chunk ~60 words (50-70) drawn from a fixed vocabulary of 5,000
pseudo-words with a Zipf-Mandelbrot distribution (p ∝ 1/(rank + 2.7)), so BM25 sees realistic postings: a few words
in most chunks, most words in few. Vectors are random unit float32 vectors of dim 384 from a fixed seed, or real
embedding vectors (`--real-vectors PATH.npy`, shape (n, 384)): chunk i gets row i % n (rows past the first n copies
get 0.5-norm noise so they are not exact duplicates). Everything is derived from (seed, document number), so any
document, chunk or vector can be made again without reading the index back.

Built through the index contract as an ingest batch: `index.put(...)` per document, ONE `index.commit()` at the end.
A note (`NOTE_KEY`) records what was built; a later run on the same data dir and backend reuses the index when the
note matches (same N, seed, vectors), and refuses a data dir holding anything else rather than overwrite it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rag.ingest.chunking import chunk_id  # noqa: E402  (the engine's own ids)

DIM = 384
PER_DOC = 1000  # chunks per document of the base index
PER_PAGE = 10  # chunks per page
VOCABULARY = 5000
ZIPF_SHIFT = 2.7  # Zipf-Mandelbrot: p(rank r) ∝ 1 / (r + ZIPF_SHIFT)
WORDS = (50, 70)  # words per chunk, inclusive: ~60 on average
SEED = 20261205
EMBEDDER = "bench-synthetic-384"  # the name the index manifest records (no model is loaded)
NOTE_KEY = "bench.synthetic_index"
WRITE_PREFIX = "bench-write-"  # names of the documents write_cost.py adds and deletes again
BACKENDS = ("local", "qdrant-edge", "qdrant-client-local")
QDRANT_LOCAL = "qdrant-local"  # qdrant-client's local-mode folder inside the data dir


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """The options both benchmarks share: --chunks, --backend, --data-dir, --real-vectors, --json."""
    parser.add_argument("--chunks", type=int, required=True, help="chunks in the index (documents of 1,000)")
    parser.add_argument("--backend", choices=BACKENDS, default="local")
    parser.add_argument("--data-dir", type=Path, help="build here, or reuse the index this script built here")
    parser.add_argument("--real-vectors", type=Path, help="an (n, 384) .npy of real embedding vectors to use")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a readable line")


def settings_for(backend: str, data_dir: Path) -> Any:
    """The engine's Settings for `backend` over `data_dir` (RAG_* variables apply, e.g. RAG_ANN_THRESHOLD)."""
    from rag.config import Settings

    base = Settings.from_env()
    if backend == "qdrant-client-local":
        return base.replace(data_dir=data_dir, index="qdrant", qdrant_url=str(data_dir / QDRANT_LOCAL))
    return base.replace(data_dir=data_dir, index=backend)


def warn_stand_in(backend: str) -> None:
    if backend == "qdrant-client-local":
        print("warning: qdrant-client-local is qdrant-client's pure-Python local mode, a slow stand-in for a Qdrant "
              "server used by the tests; its numbers say nothing about a real server", file=sys.stderr)  # fmt: skip


def backend_bytes(backend: str, data_dir: Path) -> dict[str, int]:
    """Bytes on disk of this backend's files in `data_dir` (another backend's index in the same dir not counted):
    "disk_bytes" allocated (du), "disk_apparent_bytes" the file sizes (Qdrant Edge preallocates sparse files,
    e.g. two 32 MB WAL segments)."""
    if backend == "qdrant-edge":
        files = _files(data_dir / "qdrant-edge")
    elif backend == "qdrant-client-local":
        files = _files(data_dir / QDRANT_LOCAL)
    else:
        skip = (data_dir / "qdrant-edge", data_dir / QDRANT_LOCAL)
        files = [p for p in _files(data_dir) if not any(s in p.parents for s in skip)]
    stats = [p.stat() for p in files]
    return {"disk_bytes": sum(s.st_blocks * 512 for s in stats), "disk_apparent_bytes": sum(s.st_size for s in stats)}


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def describe_vectors(index: Any) -> dict[str, Any]:
    """What does dense search: FAISS flat/IVF for local; Qdrant Edge's segment counts (indexed = HNSW-indexed)."""
    store = getattr(index, "store", None)
    if store is not None:
        return {"faiss": store._vectors.describe()}
    shard = getattr(getattr(index, "engine", None), "shard", None)
    if shard is None:
        return {}
    info = shard.info()
    kinds: dict[str, int] = {}  # the dense index of each segment: "plain" = brute force, "hnsw" = graph
    for config in index.engine.folder.glob("segments/*/segment.json"):
        kind = json.loads(config.read_text())["config"]["vector_data"]["dense"]["index"]["type"]
        kinds[kind] = kinds.get(kind, 0) + 1
    return {"points_count": info.points_count, "indexed_vectors_count": info.indexed_vectors_count,
            "segments_count": info.segments_count, "dense_index_by_segment": kinds}  # fmt: skip


def process_threads() -> int:
    """Threads this process runs now (Qdrant Edge and FAISS start their own)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class Corpus:
    """The synthetic corpus: vocabulary, Zipf weights, and the vectors' source (random, or rows of a real matrix)."""

    seed: int = SEED
    real_vectors: Path | None = None

    @cached_property
    def words(self) -> np.ndarray:
        """VOCABULARY distinct pseudo-words of 2-4 consonant-vowel syllables, none an English stopword."""
        from bm25s.stopwords import STOPWORDS_EN

        rng = np.random.default_rng([self.seed, 0])
        onsets = list("bdfgklmnprstvz") + ["br", "ch", "kr", "sh", "st", "th", "tr"]
        vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
        found: dict[str, None] = {}
        while len(found) < VOCABULARY:
            word = "".join(onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))]
                           for _ in range(rng.integers(2, 5)))  # fmt: skip
            if word not in STOPWORDS_EN:
                found[word] = None
        return np.array(list(found))

    @cached_property
    def weights(self) -> np.ndarray:
        weights = 1.0 / (np.arange(VOCABULARY) + ZIPF_SHIFT)
        return weights / weights.sum()

    @cached_property
    def real(self) -> np.ndarray | None:
        if self.real_vectors is None:
            return None
        matrix = np.load(self.real_vectors).astype(np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != DIM:
            raise SystemExit(f"error: {self.real_vectors} has shape {matrix.shape}; expected (n, {DIM})")
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def fingerprint(self) -> str:
        """What the vectors are, for the build note: "random" or the real matrix's shape and content hash."""
        if self.real is None:
            return "random"
        return f"real:{self.real.shape[0]}:{hashlib.sha256(self.real.tobytes()).hexdigest()[:16]}"

    # ---- one document --------------------------------------------------------------------------------------
    def texts(self, number: int, count: int) -> list[str]:
        rng = np.random.default_rng([self.seed, 1, number])
        lengths = rng.integers(WORDS[0], WORDS[1] + 1, count)
        drawn = self.words[rng.choice(VOCABULARY, int(lengths.sum()), p=self.weights)]
        ends = np.cumsum(lengths)
        return [" ".join(drawn[end - n : end]).capitalize() + "." for n, end in zip(lengths, ends, strict=True)]

    def vectors(self, number: int, count: int, first_row: int) -> np.ndarray:
        """Unit vectors of document `number`; with real vectors, rows first_row.. of the real matrix (cycled)."""
        rng = np.random.default_rng([self.seed, 2, number])
        if self.real is None:
            matrix = rng.standard_normal((count, DIM), dtype=np.float32)
        else:
            rows = np.arange(first_row, first_row + count)
            matrix = self.real[rows % len(self.real)].copy()
            again = rows >= len(self.real)  # a second pass over the real rows: perturb so no two are identical
            matrix[again] += rng.standard_normal((int(again.sum()), DIM), dtype=np.float32) * (0.5 / np.sqrt(DIM))
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def doc_id(self, number: int, name: str) -> str:
        return hashlib.sha256(f"bench-synthetic:{self.seed}:{number}:{name}".encode()).hexdigest()

    def document(self, number: int, count: int, name: str, first_row: int) -> tuple[Any, list[Any], np.ndarray]:
        """(Document, chunks, vectors) of one synthetic document, ready for `index.put`."""
        from rag.types import Chunk, Document, Page

        doc_id, texts = self.doc_id(number, name), self.texts(number, count)
        pages, chunks = [], []
        for page_number, page_texts, spans in _pages(texts):
            for text, (start, end) in zip(page_texts, spans, strict=True):
                cid = chunk_id(doc_id, page_number, start, end)
                chunks.append(Chunk(cid, doc_id, name, page_number, start, end, text, (), len(chunks), name))
            pages.append(Page(page_number, "\n\n".join(page_texts)))
        document = Document(doc_id, name, f"/synthetic/{name}", "txt", tuple(pages), (), name.removesuffix(".txt"))
        return document, chunks, self.vectors(number, count, first_row)

    def base_layout(self, chunks: int) -> list[tuple[int, int, str, int]]:
        """(document number, chunk count, name, first row) of each document of an N-chunk base index."""
        return [(d, min(PER_DOC, chunks - start), f"synthetic-{d:05d}.txt", start)
                for d, start in enumerate(range(0, chunks, PER_DOC))]  # fmt: skip

    def write_document(self, chunks: int, run: int, count: int = 10) -> tuple[Any, list[Any], np.ndarray]:
        """A new `count`-chunk document for write run `run` (never one of the base documents)."""
        number = 10_000_000 + run
        return self.document(number, count, f"{WRITE_PREFIX}{run:04d}.txt", chunks + run * count)

    def base(self, chunks: int, vectors: bool = True) -> Iterator[tuple[int, list[str], list[str], np.ndarray | None]]:
        """Per base document, in build order: (first row, chunk ids, texts, vectors or None) without the index."""
        for number, count, name, first in self.base_layout(chunks):
            doc_id, texts = self.doc_id(number, name), self.texts(number, count)
            ids = [chunk_id(doc_id, page, start, end)
                   for page, page_texts, spans in _pages(texts) for start, end in spans]  # fmt: skip
            yield first, ids, texts, self.vectors(number, count, first) if vectors else None


def _pages(texts: list[str]) -> Iterator[tuple[int, list[str], list[tuple[int, int]]]]:
    """(page number, its chunk texts, their (start, end) offsets in the page text) for PER_PAGE chunks a page."""
    for page_number, at in enumerate(range(0, len(texts), PER_PAGE), start=1):
        page_texts, spans, start = texts[at : at + PER_PAGE], [], 0
        for text in page_texts:
            spans.append((start, start + len(text)))
            start += len(text) + 2  # the "\n\n" that joins them
        yield page_number, page_texts, spans


def note_value(corpus: Corpus, chunks: int) -> dict[str, Any]:
    return {"chunks": chunks, "seed": corpus.seed, "vectors": corpus.fingerprint(), "per_doc": PER_DOC}


def open_or_build(backend: str, data_dir: Path, corpus: Corpus, chunks: int, log: Any = None) -> tuple[Any, dict]:
    """Open the index in `data_dir`, building it first unless this module already built the same one there.

    Returns (the open index, {"build_s": seconds of the puts + the one commit, "reused": bool}). A leftover
    write_cost document (a run that was stopped) is deleted first, so the index holds exactly the base chunks.
    """
    from rag.index.backends import open_index

    settings = settings_for(backend, data_dir)
    index = open_index(settings, EMBEDDER, DIM)
    try:
        wanted = note_value(corpus, chunks)
        found = index.note(NOTE_KEY)
        if found is not None:
            built = json.loads(found)
            if {k: built.get(k) for k in wanted} != wanted:
                raise SystemExit(f"error: {data_dir} holds another synthetic {backend} index ({found}); "
                                 "use another --data-dir")  # fmt: skip
            leftovers = [d for d in index.documents() if d.name.startswith(WRITE_PREFIX)]
            for info in leftovers:
                index.delete(info.doc_id)
            if leftovers:
                index.commit()
            return index, {"build_s": built["build_s"], "reused": True}
        if index.documents():
            raise SystemExit(f"error: {data_dir} holds a {backend} index this benchmark did not build; "
                             "use another --data-dir")  # fmt: skip
        layout = corpus.base_layout(chunks)
        started = time.perf_counter()
        for n, (number, count, name, first) in enumerate(layout):
            index.put(*corpus.document(number, count, name, first))
            if log and (n + 1) % 5 == 0:
                log(f"built {n + 1}/{len(layout)} documents, {time.perf_counter() - started:.0f} s")
        index.commit()  # ONE commit for the batch, as an ingest does
        build_s = time.perf_counter() - started
        index.write_note(NOTE_KEY, json.dumps(wanted | {"build_s": build_s}))
        index.commit()  # makes the note durable on Qdrant Edge (nothing left to do for the local files)
        return index, {"build_s": build_s, "reused": False}
    except BaseException:
        index.close()
        raise


def environment() -> dict[str, Any]:
    """CPU SIMD flags, the cores this process may use, load average and commit (bench/common.py's machine())."""
    from common import machine

    found = machine()
    return {"cpu_flags": found["cpu_flags"], "threads": found["cores"], "load_avg": found["load_avg"],
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "commit": found["commit"]}  # fmt: skip
