"""Ingest time and pages/s for the 20 SEC 10-Q PDFs of docugami_sec10q (≈1,000 table-heavy pages).

    RAG_THREADS=1 python bench/ingest_sec.py [--data-dir DIR] [--docs DIR]

Prints one row per file (pages, passages, seconds waiting for the parser, seconds embedding, total) and
the batch total, with the load average before and after (the box is shared: a busy box slows torch a lot).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.library import Library  # noqa: E402
from rag.types import IngestProgress  # noqa: E402

DOCS = ROOT.parent / "shared" / "eval" / "docugami_sec10q" / "docs"


@dataclass
class Clock:
    """Stage timestamps per file index (first time each stage was seen)."""

    seen: dict[int, dict[str, float]] = field(default_factory=dict)

    def __call__(self, progress: IngestProgress) -> None:
        self.seen.setdefault(progress.file_index, {}).setdefault(progress.stage, time.perf_counter())

    def span(self, index: int, start: str, end: str) -> float:
        stages = self.seen.get(index, {})
        return stages[end] - stages[start] if start in stages and end in stages else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--docs", default=str(DOCS))
    args = parser.parse_args()
    settings = Settings.from_env()
    settings = settings.replace(data_dir=Path(args.data_dir or tempfile.mkdtemp(prefix="sec-")))
    load_before = os.getloadavg()
    embedder = load_embedder(settings)
    library = Library.open(settings, embedder)
    paths = sorted(Path(args.docs).glob("*.pdf"))
    clock = Clock()
    start = time.perf_counter()
    outcomes = library.ingest(paths, on_progress=clock)
    total = time.perf_counter() - start
    print(f"threads={settings.resolved_threads} chunk_tokens={settings.chunk_tokens} embedder={embedder.name}")
    print("| file | status | pages | passages | parse wait s | embed s | total s |\n|---|---|---|---|---|---|---|")
    for i, o in enumerate(outcomes):
        wait, embed = clock.span(i, "reading", "chunking"), clock.span(i, "chunking", "indexing")
        whole = clock.span(i, "reading", "done") if o.ok else clock.span(i, "reading", "failed")
        print(f"| {o.name[:40]} | {o.status} | {o.pages} | {o.chunks} | {wait:.1f} | {embed:.1f} | {whole:.1f} |")
    done = [o for o in outcomes if o.status in ("indexed", "replaced")]  # unchanged files cost ~nothing
    pages, chunks = sum(o.pages for o in done), sum(o.chunks for o in done)
    failed = [o.message for o in outcomes if not o.ok]
    print(
        f"\n{len(done)} of {len(outcomes)} files indexed in this run, {pages} pages, {chunks} passages in {total:.1f} s: {pages / total:.2f} pages/s, "
        f"{chunks / total:.1f} passages/s; failed: {failed or 'none'}"
    )
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (1-min)")
    library.close()


if __name__ == "__main__":
    main()
