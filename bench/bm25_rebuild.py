"""What one write costs the keyword index at N chunks: `Bm25Index.refresh` after adding a 20-chunk document.

    python bench/bm25_rebuild.py --sizes 10000,100000 --runs 3 --out bm25.json

bm25s cannot add or remove documents, so every ingest batch or delete rebuilds BM25 from all of SQLite's chunk
texts (`rag/index/lexical.py`). The chunks are real text: COVID-QA's articles (../shared) cut into 180-word windows,
repeated up to N, stored through `rag.index.store.Store.put` (vectors are zeros: FAISS is not involved). Per run one
20-chunk document is added and the refresh that follows is timed whole (read + tokenize + index + save); the
tokenizer alone is timed over the same texts to show its share. Prints medians.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import (
    COVID_JSON,
    base_parser,
    covid_evalset,
    go_offline,
    load_avg,
    shared_dir,
    synthetic_document,
    table,
    write_json,
)

WORDS = 180  # ≈ a 240-token passage


def windows(shared: Path) -> list[str]:
    """COVID-QA's article texts cut into WORDS-word windows."""
    texts = [source.text or "" for source in covid_evalset(shared).sources]
    words = [text.split() for text in texts]
    return [" ".join(w[i : i + WORDS]) for w in words for i in range(0, len(w), WORDS)]


def document(name: str, texts: list[str]) -> tuple:
    return synthetic_document(name, texts, np.zeros((len(texts), 384), np.float32))


def measure(size: int, runs: int, texts: list[str]) -> dict[str, list[float]]:
    from rag.index.lexical import Bm25Index, tokenize
    from rag.index.store import Store

    corpus = (texts * (size // len(texts) + 1))[:size]
    found: dict[str, list[float]] = {"refresh": [], "tokenize": []}
    with tempfile.TemporaryDirectory(prefix="bm25-rebuild-") as tmp:
        store = Store.open(Path(tmp), "synthetic", 384)
        for start in range(0, size, 1000):
            store.put(*document(f"base{start}", corpus[start : start + 1000]))
        bm25 = Bm25Index(store)
        bm25.refresh()
        for run in range(runs):
            store.put(*document(f"new{run}", texts[run * 20 : run * 20 + 20]))
            started = time.perf_counter()
            bm25.refresh()
            found["refresh"].append(time.perf_counter() - started)
            started = time.perf_counter()
            tokenize(store.corpus().texts)
            found["tokenize"].append(time.perf_counter() - started)
        store.close()
    return found


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    go_offline()
    texts = windows(shared_dir(args.shared, COVID_JSON))
    rows, data = [], {}
    for size in [int(s) for s in args.sizes.split(",")]:
        found = measure(size, args.runs, texts)
        data[str(size)] = found
        refresh, tokens = statistics.median(found["refresh"]), statistics.median(found["tokenize"])
        rows.append([size, refresh, tokens, ", ".join(f"{t:.2f}" for t in found["refresh"])])
    print(table(["chunks", "refresh s (median)", "of which tokenize s", "refresh runs"], rows))
    write_json(args.out, {"results": data, "load_avg": load_avg()})


if __name__ == "__main__":
    main()
