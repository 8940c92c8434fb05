"""Which BM25 weight does each question want? Per-query hit@5 vs fusion weight, and a query-rarity rule.

    python bench/fusion_weights.py --cache-dir /tmp/evalcache \
        --dataset docugami:../shared/eval/docugami_sec10q --dataset llamaindex:../shared/eval/blockchain_solana \
        --dataset squad:../shared/eval/covid_qa/200423_covidQA.json --limit 300 --out /tmp/fusion.json

For every question of each set (indexes built by, or shared with, `python -m rag eval --cache-dir`): dense and
BM25 top 100 once, then `rag.search.retrieve.fuse_normalized` at weights 0..1 and hit@5 with the eval's own gold
units. It also reports each query's word rarity (mean BM25 idf of its indexed words / ln(N + 1)) and the best
rule w = clip(0.5 + (rarity - c)·slope) found on a grid, plus "adjacent-deduped": hit@5 when a passage next to
one already picked (same file, ordinal ±1) is skipped. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WEIGHTS = [round(w / 10, 1) for w in range(11)]


def per_query(spec: str, cache_dir: Path, limit: int | None) -> list[dict]:
    """Return one row per question: rarity, and for each weight whether a gold unit is in the top 5."""
    from rag.config import Settings
    from rag.embedding import load_embedder
    from rag.evaluate.datasets import read_dataset
    from rag.evaluate.index import pages_reader, prepared_index
    from rag.evaluate.judging import gold_units, ranked_units
    from rag.evaluate.runner import prepare_gold
    from rag.library import Library
    from rag.search.fusion import fuse_normalized

    settings = Settings.from_env().replace(candidates=100, reranker="none")
    embedder = load_embedder(settings)
    evalset = read_dataset(spec, None, limit)
    rows = []
    with prepared_index(evalset, settings, embedder.name, lambda s: Library.open(s, embedder), cache_dir) as prep:
        evalset = prepare_gold(evalset, pages_reader(prep.paths, settings))
        library, level = prep.index, evalset.levels[0]
        for query in evalset.queries:
            dense = library.search(query.text, k=100, mode="dense")
            bm25 = library.search(query.text, k=100, mode="bm25")
            gold = gold_units(query, level)
            row = {"rarity": rarity(library, query.text), "hits": {}}
            for w in WEIGHTS:
                fused = fuse_normalized([dense, bm25], [1 - w, w])
                row["hits"][str(w)] = any(u in gold for u in ranked_units(fused[:10], query, level)[:5])
                if w == 0.5:
                    row["adjacent_deduped"] = any(u in gold for u in ranked_units(deduped(fused), query, level)[:5])
            rows.append(row)
    return rows


def rarity(library, query: str) -> float:
    """Mean idf of the query's indexed words / ln(N + 1) (bm25s keeps document frequencies as column lengths)."""
    from rag.index.lexical import tokenize

    index = library.index.bm25
    index.refresh()
    scores, vocab = index._retriever.scores, index._retriever.vocab_dict
    n, indptr = int(scores["num_docs"]), scores["indptr"]
    dfs = [int(indptr[vocab[t] + 1] - indptr[vocab[t]]) for t in tokenize([query])[0] if t in vocab]
    idfs = [math.log((n - df + 0.5) / (df + 0.5) + 1.0) for df in dfs]
    return statistics.mean(idfs) / math.log(n + 1.0) if idfs else 0.0


def deduped(hits: list) -> list:
    """The first 5 hits skipping any passage adjacent to one already picked (same document, ordinal ±1)."""
    picked = []
    for hit in hits:
        if not any(
            p.chunk.doc_id == hit.chunk.doc_id and abs(p.chunk.ordinal - hit.chunk.ordinal) <= 1 for p in picked
        ):
            picked.append(hit)
        if len(picked) == 5:
            break
    return picked


def rule_score(rows: list[dict], center: float, slope: float) -> float:
    """hit@5 when each query's weight is clip(0.5 + (rarity - center)·slope, 0.2, 0.8), rounded to 0.1."""
    weights = [round(min(0.8, max(0.2, 0.5 + (r["rarity"] - center) * slope)), 1) for r in rows]
    return sum(r["hits"][str(w)] for r, w in zip(rows, weights, strict=True)) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sets = {spec: per_query(spec, args.cache_dir, args.limit) for spec in args.dataset}
    for spec, rows in sets.items():
        curve = " ".join(f"{w}:{sum(r['hits'][str(w)] for r in rows) / len(rows):.3f}" for w in WEIGHTS)
        quart = statistics.quantiles([r["rarity"] for r in rows], n=4)
        adjacent = sum(r["adjacent_deduped"] for r in rows) / len(rows)
        print(f"{spec} ({len(rows)} q)\n  hit@5 by BM25 weight {curve}\n  rarity quartiles "
              f"{[round(q, 3) for q in quart]}; adjacent-deduped hit@5 at 0.5: {adjacent:.3f}")  # fmt: skip
    grid = [(c / 100, s) for c in range(24, 56, 2) for s in (1, 2, 3, 4, 6, 8)]
    scored = sorted(grid, key=lambda g: -sum(rule_score(rows, *g) for rows in sets.values()))
    for center, slope in scored[:5]:
        print(
            f"rule center {center} slope {slope}: "
            + ", ".join(f"{rule_score(r, center, slope):.3f}" for r in sets.values())
        )
    if args.out:
        args.out.write_text(json.dumps(sets))


if __name__ == "__main__":
    main()
