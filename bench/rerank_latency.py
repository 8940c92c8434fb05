"""What the re-ranker costs per query: hybrid search with and without RAG_RERANKER=embed, interleaved.

    python bench/rerank_latency.py --data-dir /tmp/evalcache/squad-200423_covidQA-<key> --questions 100 --runs 3

`--data-dir` is an index built by the engine (an eval cache folder of `python -m rag eval --cache-dir`, or any
Footnote data dir); the queries are the first `--questions` COVID-QA questions. Each question goes through both
settings in turn (same process, same caches, `candidates` 100 as in the app) after three warm-up questions, so
load on the box hits both alike. Prints the median of each run and the difference.
"""

from __future__ import annotations

from pathlib import Path

from common import (
    base_parser,
    covid_evalset,
    go_offline,
    interleaved_search_ms,
    load_avg,
    shared_dir,
    table,
    write_json,
)


def measure(data_dir: Path, questions: list[str]) -> dict[str, float]:
    """Return the median milliseconds of hybrid search without and with the embed re-ranker."""
    from rag.config import Settings
    from rag.embedding import load_embedder
    from rag.library import Library

    base = Settings.from_env().replace(data_dir=data_dir, reranker="none", candidates=100)
    library = Library.open(base, load_embedder(base))
    variants = {"hybrid": base, "hybrid+rerank": base.replace(reranker="embed")}
    # warm-up: the first BM25 load, tokenizer and FAISS caches
    return interleaved_search_ms(library, variants, questions[:3], questions, mode="hybrid")

def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="an index built by the engine")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    go_offline()
    shared = shared_dir(args.shared)
    questions = [q.text for q in covid_evalset(shared).queries[: args.questions]]
    runs = [measure(args.data_dir, questions) for _ in range(args.runs)]
    rows = [[i + 1, r["hybrid"], r["hybrid+rerank"], r["hybrid+rerank"] - r["hybrid"]] for i, r in enumerate(runs)]
    print(table(["run", "hybrid ms", "hybrid + rerank ms", "added ms"], rows))
    write_json(args.out, {"runs": runs, "questions": len(questions), "load_avg": load_avg()})


if __name__ == "__main__":
    main()
