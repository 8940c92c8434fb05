"""Run an EvalSet: build one index, then query it once per retrieval configuration and score each run.

    result = evaluate(evalset, settings, configs=parse_configs("dense,bm25,default"), ks=(5, 10), ...)

Every configuration searches the same index, so differences between rows are due to retrieval alone.
The rows: "default" is exactly what the app does with these settings (`Library.search`: fusion, re-ranker,
candidate depth and every other stage as configured); "dense", "bm25" and "hybrid" are the first stage alone
(no re-ranking, expansion, second hop or MMR), each retriever giving as many candidates as the cutoffs need.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings
from rag.errors import ConfigError
from rag.evaluate.index import IndexInfo, OpenIndex, SearchIndex, pages_reader, prepared_index
from rag.evaluate.judging import align_spans, gold_units, ranked_units, resolve_references
from rag.evaluate.metrics import MetricValue, measures_for, score
from rag.evaluate.records import RANKING_KINDS, DatasetError, EvalSet, Source
from rag.search.options import MODES as SEARCH_MODES
from rag.types import Hit, Page

DEFAULT = "default"  # the app's own retrieval, with every stage the settings turn on
MODES = (*SEARCH_MODES, DEFAULT)
DEFAULT_MODES = "dense,bm25,default"
BEIR_DEPTH = 200  # chunks fetched for BEIR so that R@100 over distinct documents is meaningful

# A way of searching other than `index.search(mode=...)` (see experiments.py): (index, query, depth) -> hits.
Strategy = Callable[[SearchIndex, str, int], list[Hit]]


@dataclass(frozen=True)
class RunConfig:
    """One row of the comparison: a mode of MODES, or a strategy (index, query, depth) -> hits of its own."""

    name: str
    mode: str
    strategy: Strategy | None = None


@dataclass(frozen=True)
class ConfigResult:
    """Scores and query latency of one configuration on one dataset."""

    config: str
    metrics: tuple[MetricValue, ...]
    queries: int
    latency_median_ms: float
    latency_p95_ms: float


@dataclass(frozen=True)
class DatasetResult:
    """Everything measured on one dataset: the index build and one result per configuration."""

    dataset: str
    kind: str
    queries: int
    per_chunk: bool
    notes: tuple[str, ...]
    index: IndexInfo
    configs: tuple[ConfigResult, ...]
    search: str = ""  # how the default row found passages here, e.g. the BM25 weight this library got


def parse_configs(modes: str) -> list[RunConfig]:
    """ "dense,bm25" -> one RunConfig per mode; an unknown mode is a ConfigError naming the valid ones."""
    configs = []
    for mode in (m.strip() for m in modes.split(",") if m.strip()):
        if mode not in MODES:
            raise ConfigError(f"--mode {mode!r}: expected a comma-separated list of {', '.join(MODES)}")
        configs.append(RunConfig(mode, mode))
    if not configs:
        raise ConfigError("--mode: give at least one of " + ", ".join(MODES))
    return configs


def evaluate(
    evalset: EvalSet,
    settings: Settings,
    configs: Sequence[RunConfig],
    ks: Sequence[int],
    open_index: OpenIndex,
    embedder_name: str,
    cache_dir: Path | None = None,
) -> DatasetResult:
    """Index `evalset` once (or reuse the cache), locate its gold on the loaded pages, and run every config."""
    check_query_lengths(evalset, settings.max_query_chars)
    with prepared_index(evalset, settings, embedder_name, open_index, cache_dir) as prepared:
        evalset = prepare_gold(evalset, pages_reader(prepared.paths, settings))
        results = tuple(run_config(prepared.index, evalset, config, ks, settings) for config in configs)
        search = prepared.index.describe_search()
    return DatasetResult(
        evalset.name, evalset.kind, len(evalset.queries), evalset.per_chunk, evalset.notes, prepared.info, results, search
    )


def check_query_lengths(evalset: EvalSet, limit: int) -> None:
    """Raise DatasetError before any indexing when a question is longer than the engine accepts (CISI has one)."""
    lengths = {q.qid: len(q.text.strip()) for q in evalset.queries}  # what Library.check_query measures
    too_long = [qid for qid, length in lengths.items() if length > limit]
    if too_long:
        longest = max(too_long, key=lengths.__getitem__)
        raise DatasetError(
            f"{evalset.name}: {len(too_long)} question(s) exceed RAG_MAX_QUERY_CHARS={limit} (the longest, "
            f"{longest!r}, has {lengths[longest]} characters). Raise the limit for this run, "
            f"e.g. RAG_MAX_QUERY_CHARS={lengths[longest] // 1000 * 1000 + 1000}"
        )


def prepare_gold(evalset: EvalSet, pages_of: Callable[[Source], Sequence[Page]]) -> EvalSet:
    """Find reference passages' pages and re-anchor answer spans on the text the loader produced."""
    loaded: dict[str, Sequence[Page]] = {}

    def cached(source: Source) -> Sequence[Page]:
        # each document is loaded at most once, however many questions point into it
        if source.name not in loaded:
            loaded[source.name] = pages_of(source)
        return loaded[source.name]

    return align_spans(resolve_references(evalset, cached), cached)


def search_depth(evalset: EvalSet, ks: Sequence[int]) -> int:
    """How many chunks to fetch per query: enough for every cutoff and RR@10 (and R@100 on BEIR)."""
    needed = max([10, *ks])
    return max(needed, BEIR_DEPTH) if evalset.kind in RANKING_KINDS else needed


def first_stage(settings: Settings, depth: int) -> Settings:
    """`settings` with every stage after the first turned off and each retriever `depth` candidates deep."""
    return settings.replace(
        reranker="none", expansion="none", multi_hop=False, mmr_lambda=1.0, candidates=max(depth, settings.candidates)
    )


def run_config(
    index: SearchIndex, evalset: EvalSet, config: RunConfig, ks: Sequence[int], settings: Settings
) -> ConfigResult:
    """Query every question with one configuration and return its scores and latencies."""
    from tqdm import tqdm

    depth = search_depth(evalset, ks)
    alone = first_stage(settings, depth)
    runs: dict[str, dict[str, list[str]]] = {level: {} for level in evalset.levels}
    latencies = []
    for query in tqdm(evalset.queries, desc=f"{evalset.name} {config.name}", unit="q"):
        started = time.perf_counter()
        if config.strategy is None and config.mode == DEFAULT:
            hits = index.search(query.text, k=depth)
        elif config.strategy is None:
            hits = index.search(query.text, k=depth, mode=config.mode, settings=alone)
        else:
            hits = config.strategy(index, query.text, depth)
        latencies.append(time.perf_counter() - started)
        for level in evalset.levels:
            runs[level][query.qid] = ranked_units(hits, query, level, evalset.per_chunk)
    metrics = []
    for level in evalset.levels:
        qrels = {q.qid: gold_units(q, level) for q in evalset.queries}
        metrics += score(runs[level], qrels, measures_for(evalset.kind, level, ks), level)
    return ConfigResult(config.name, tuple(metrics), len(evalset.queries), *_latency_ms(latencies))


def _latency_ms(seconds: Sequence[float]) -> tuple[float, float]:
    """(median, 95th percentile) in milliseconds; (0, 0) when nothing was timed."""
    if not seconds:
        return 0.0, 0.0
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000
