"""PNG plots for docs/speed.md from the JSON the other speed benchmarks write.

    python bench/plots.py --ingest ingest.json --query query.json --generation gen.json --dest docs/

Writes speed-ingest.png (pages/s and stage seconds, ours vs LangChain), speed-query.png (median/p95 latency per
mode vs corpus size), speed-ann.png (recall@10 vs latency of HNSW/IVF settings) and speed-generation.png
(time to first token vs prompt tokens, per cache case). A missing input file just skips its plot.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest", type=Path)
    parser.add_argument("--query", type=Path)
    parser.add_argument("--generation", type=Path)
    parser.add_argument("--dest", type=Path, default=Path(__file__).resolve().parent.parent / "docs")
    args = parser.parse_args()
    for path, plot in ((args.ingest, ingest), (args.query, query), (args.generation, generation)):
        if path is not None and path.is_file():
            for name, figure in plot(json.loads(path.read_text())):
                target = args.dest / name
                figure.savefig(target, dpi=110, bbox_inches="tight")
                plt.close(figure)
                print(f"wrote {target}")


def _load_note(data: dict[str, Any]) -> str:
    machine = data.get("machine", {})
    return f"{machine.get('cores', '?')} cores, load avg at end {machine.get('load_avg', ['?'])[0]}"


def ingest(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """Pages/s per run (bars) and median seconds per stage, ours vs LangChain."""
    runs = data["runs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.38
    for offset, side in ((-width / 2, "ours"), (width / 2, "theirs")):
        left.bar([r["run"] + offset for r in runs], [r[side]["pages_per_s"] for r in runs], width, label=side)
    left.set(
        xlabel="run (interleaved)", ylabel="pages / s", title=f"Ingest throughput ({data['corpus']['pages']} pages)"
    )
    left.legend()
    for i, side in enumerate(("ours", "theirs")):
        stages = runs[0][side]["stages"]
        names = [k for k in stages if k not in ("first_wait",)]
        values = [statistics.median(r[side]["stages"][k] for r in runs) for k in names]
        bottom = 0.0
        for name, value in zip(names, values, strict=True):
            right.bar(i, value, 0.5, bottom=bottom, label=f"{side}: {name}")
            bottom += value
    right.set_xticks([0, 1], ["ours", "LangChain"])
    right.set(ylabel="seconds (median of runs)", title="Where the time goes")
    right.legend(fontsize=7)
    fig.suptitle(_load_note(data), fontsize=8)
    return [("speed-ingest.png", fig)]


def query(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """Latency per mode vs corpus size, and the ANN recall/latency trade-off."""
    results = sorted(data["results"], key=lambda r: r["size"])
    sizes = [r["size"] for r in results]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for mode in ("dense", "bm25", "hybrid"):
        ax.plot(sizes, [r["latency_ms"][mode]["median"] for r in results], "o-", label=f"{mode} median")
        ax.plot(sizes, [r["latency_ms"][mode]["p95"] for r in results], "x--", alpha=0.5, label=f"{mode} p95")
    if all("embed_query" in r["latency_ms"] for r in results):
        ax.plot(
            sizes, [r["latency_ms"]["embed_query"]["median"] for r in results], "k:", label="query embedding median"
        )
    ax.set(xscale="log", yscale="log", xlabel="chunks", ylabel="ms per query (Library.search, k=5)",
           title="Query latency vs corpus size (exact FAISS)")  # fmt: skip
    ax.axhline(30, color="grey", lw=0.8, ls=":")
    ax.axhline(100, color="grey", lw=0.8, ls=":")
    ax.legend(fontsize=7)
    fig.suptitle(_load_note(data), fontsize=8)
    fig2, ax2 = plt.subplots(figsize=(6.5, 4))
    for r in results:
        for kind in ("hnsw", "ivf"):
            points = [a for a in r["ann"] if a["index"].startswith(kind)]
            if points:
                ax2.plot([a["ms"]["median"] for a in points], [a["recall10"] for a in points], "o-",
                         label=f"{points[0]['index']} @ {r['size']:,}")  # fmt: skip
        flat = next(a for a in r["ann"] if a["index"] == "flat")
        ax2.plot([flat["ms"]["median"]], [1.0], "k*", ms=9)
    ax2.axhline(0.95, color="grey", lw=0.8, ls=":")
    ax2.set(xscale="log", xlabel="ms per query (FAISS only)", ylabel="recall@10 vs exact",
            title="Approximate indexes (★ = exact flat)")  # fmt: skip
    ax2.legend(fontsize=7)
    return [("speed-query.png", fig), ("speed-ann.png", fig2)]


def generation(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """Time to first token vs prompt tokens for the cold / prefix / repeat cases."""
    rows = data["summary"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for case in ("new", "cold", "prefix", "repeat"):
        points = [r for r in rows if r[2] == case]
        ax.plot([r[1] for r in points], [r[3] for r in points], "o-", label=case)
    ax.axhline(5, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="prompt tokens", ylabel="seconds to first token (median)",
           title=f"{data['generator']} TTFT, {data['threads']} thread(s)")  # fmt: skip
    ax.legend()
    fig.suptitle(_load_note(data), fontsize=8)
    return [("speed-generation.png", fig)]


if __name__ == "__main__":
    main()
