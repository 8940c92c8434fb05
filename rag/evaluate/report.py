"""Printing results: a Markdown table per dataset (for the README) and a JSON document (for scripts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from rag.evaluate.runner import DatasetResult


def to_json(results: Sequence[DatasetResult]) -> str:
    """All results as indented JSON: metrics by name plus index build time and query latencies per config."""
    documents = []
    for result in results:
        record = asdict(result)
        for config in record["configs"]:
            config["metrics"] = {m["name"]: round(m["value"], 4) for m in config["metrics"]}
        documents.append(record)
    return json.dumps({"results": documents}, indent=2)


def _index_line(result: DatasetResult) -> str:
    """One line on how the index was obtained, e.g. "index: built in 131.2 s (5183 files, 0 failed)"."""
    info = result.index
    how = "reused from cache (built in" if info.cached else "built in"
    suffix = ")" if info.cached else ""
    return f"index: {how} {info.build_seconds:.1f} s{suffix}; {info.files} files, {len(info.failed)} failed"


def to_markdown(results: Sequence[DatasetResult]) -> str:
    """One section per dataset: a table with a row per configuration and a column per metric."""
    sections = []
    for result in results:
        names = [m.name for m in result.configs[0].metrics] if result.configs else []
        cut = "distinct documents" if not result.per_chunk else "chunks"
        lines = [
            f"### {result.dataset} ({result.queries} questions; @k counts {cut})",
            "",
            _index_line(result),
            "",
            f"default: {result.search}",
            "",
            "| config | " + " | ".join(names) + " | median ms | p95 ms |",
            "|---|" + "---:|" * (len(names) + 2),
        ]
        for config in result.configs:
            values = " | ".join(f"{m.value:.3f}" for m in config.metrics)
            lines.append(
                f"| {config.config} | {values} | {config.latency_median_ms:.0f} | {config.latency_p95_ms:.0f} |"
            )
        for note in result.notes:
            lines.append(f"\nnote: {note}")
        for failure in result.index.failed[:10]:
            lines.append(f"\nnot indexed: {failure}")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"
