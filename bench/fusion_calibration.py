"""Fusion weight per library: the metric of each dev set at every BM25 weight, and what label-free calibration picks.

    RAG_EMBED_DTYPE=float32 python bench/fusion_calibration.py --cache-dir /work/evalcache --limit 300 \
        --dataset llamaindex:../shared/eval/blockchain_solana --dataset docugami:../shared/eval/docugami_sec10q ...

For every question (indexes built by, or shared with, `python -m rag eval --cache-dir`): dense and BM25 top
`candidates` once, then normalised fusion at each weight of WEIGHTS, scored with the eval's own gold units and
ir-measures, both as the first stage alone ("hybrid") and after the app's re-ranker ("default"). Then each
calibration recipe (`rag.search.calibration`) is run on the library alone, without its questions, and the report
says which weight it chose and what the real questions score there. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_json  # noqa: E402

WEIGHTS = [round(w / 10, 1) for w in range(11)]
RECIPES = ("sentence", "common")


def curves(spec: str, cache_dir: Path, limit: int | None, calibrate=None) -> dict:
    """Return {"metric": name, "dense": v, "bm25": v, "hybrid": {w: v}, "default": {w: v}} for one dataset."""
    from rag.config import Settings
    from rag.embedding import load_embedder
    from rag.evaluate.datasets import read_dataset
    from rag.evaluate.index import pages_reader, prepared_index
    from rag.evaluate.judging import gold_units, ranked_units
    from rag.evaluate.metrics import measures_for, score
    from rag.evaluate.runner import prepare_gold, search_depth
    from rag.library import Library
    from rag.search.fusion import fuse_normalized
    from rag.search.options import Query, RetrievalOptions
    from rag.search.rerank import rerank

    settings = Settings.from_env()
    embedder = load_embedder(settings)
    evalset = read_dataset(spec, None, limit)
    runs: dict[str, dict[str, list[str]]] = {}
    with prepared_index(evalset, settings, embedder.name, lambda s: Library.open(s, embedder), cache_dir) as prep:
        evalset = prepare_gold(evalset, pages_reader(prep.paths, settings))
        library, level = prep.index, evalset.levels[0]
        depth = search_depth(evalset, (1, 5, 10))
        options = RetrievalOptions.from_settings(settings, k=depth)
        for query in evalset.queries:
            q = Query(query.text, embedder.encode([query.text])[0])
            dense = library.index.dense_search(q.vector, max(depth, settings.candidates))
            bm25 = library.index.keyword_search(q.text, max(depth, settings.candidates))
            app_dense = dense[: settings.candidates]
            app_bm25 = bm25[: settings.candidates]
            rows = {"dense": dense[:depth], "bm25": bm25[:depth]}
            for w in WEIGHTS:
                fused = fuse_normalized([app_dense, app_bm25], [1 - w, w])
                rows[f"hybrid@{w}"] = fused[:depth]
                rows[f"default@{w}"] = rerank(q, fused, library.sources, replace(options, bm25_weight=w))[:depth]
            for name, hits in rows.items():
                runs.setdefault(name, {})[query.qid] = ranked_units(hits, query, level, evalset.per_chunk)
        qrels = {q.qid: gold_units(q, level) for q in evalset.queries}
        measures = measures_for(evalset.kind, level, (5,))
        metric = "nDCG@10" if "nDCG@10" in measures else "Success@5"
        values = {name: score(run, qrels, [metric], level)[0].value for name, run in runs.items()}
        found = {}
        if calibrate:
            from rag.search.calibration import sample_chunks

            sample = sample_chunks(library.index)
            for recipe in RECIPES:
                started = time.perf_counter()
                result = calibrate(library.index, embedder, sample, recipe)
                found[recipe] = {
                    "weight": result.weight if result else None,
                    "mrr": dict(result.scores) if result else {},
                    "seconds": round(time.perf_counter() - started, 2),
                }
    return {
        "dataset": spec,
        "metric": f"{level} {metric}",
        "dense": values["dense"],
        "bm25": values["bm25"],
        "hybrid": {w: values[f"hybrid@{w}"] for w in WEIGHTS},
        "default": {w: values[f"default@{w}"] for w in WEIGHTS},
        "calibration": found,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-calibration", action="store_true", help="only the curves")
    args = parser.parse_args()
    calibrate = None
    if not args.no_calibration:
        from rag.search.calibration import calibrate
    results = []
    for spec in args.dataset:
        result = curves(spec, args.cache_dir, args.limit, calibrate)
        results.append(result)
        best = max(result["default"], key=result["default"].get)
        line = (
            f"{spec}: {result['metric']} dense {result['dense']:.3f} bm25 {result['bm25']:.3f} | default by weight "
            + " ".join(f"{w}:{v:.3f}" for w, v in result["default"].items())
            + f" | best {best}"
        )
        for recipe, found in result["calibration"].items():
            chosen = found["weight"]
            mrr = " ".join(f"{w}:{v:.3f}" for w, v in found["mrr"].items())
            real = f"{result['default'][round(chosen, 1)]:.3f}" if chosen is not None else "-"
            line += f"\n    {recipe}: picks {chosen} -> {real} ({found['seconds']} s; MRR by weight {mrr})"
        print(line, flush=True)
    write_json(args.out, {"results": results})
    print(json.dumps([{k: r[k] for k in ("dataset", "calibration")} for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
