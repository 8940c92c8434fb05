"""Uploading: limits for public mode, and live per-file, per-stage progress while a batch is indexed.

`Library.ingest` blocks until the whole batch is done, so it runs in a worker thread; its progress
callback feeds a queue that `ingest_live` drains, yielding the per-file table as it changes and calling
`report(fraction, description)` (the page's progress bar) on the way.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.types import FileOutcome, IngestProgress

from .config import AppSettings
from .memory import release_freed_memory
from .render import outcome_rows

Row = tuple[str, str, str]  # (file name, status, message) as the results table shows it
Report = Callable[[float, str], None]

# Share of one file's progress bar each stage covers; embedding dominates on a CPU.
STAGES = {"reading": (0.0, 0.25), "ocr": (0.0, 0.25), "chunking": (0.25, 0.35), "embedding": (0.35, 0.9), "indexing": (0.9, 1.0)}
REFRESH_S = 0.25


@dataclass(frozen=True)
class Upload:
    """One uploaded file: where Gradio stored it and the name the person gave it."""

    path: Path
    name: str


def check_limits(uploads: Sequence[Upload], held: int, app: AppSettings) -> tuple[list[Upload], list[Row]]:
    """Return (files to ingest, rows for refused files). Limits apply in public mode only."""
    if not app.public:
        return list(uploads), []
    accepted: list[Upload] = []
    refused: list[Row] = []
    room = max(app.max_session_files - held, 0)
    for upload in uploads:
        size_mb = upload.path.stat().st_size / 1e6 if upload.path.exists() else 0.0
        if size_mb > app.max_upload_mb:
            refused.append(
                (upload.name, "failed", f"{size_mb:.1f} MB is over this demo's {app.max_upload_mb:g} MB limit per file")
            )
        elif len(accepted) >= room:
            refused.append(
                (upload.name, "failed", f"this demo holds at most {app.max_session_files} documents per session")
            )
        else:
            accepted.append(upload)
    return accepted, refused


def describe(progress: IngestProgress) -> str:
    """Return the live status text of one file, e.g. "embedding 32/52 passages"."""
    if progress.stage == "embedding" and progress.total:
        return f"embedding {progress.done}/{progress.total} passages"
    if progress.stage == "ocr" and progress.total:
        return f"reading scanned pages by OCR: {progress.done}/{progress.total}"
    if progress.stage == "chunking" and progress.total:
        return f"chunking: {progress.total} passages"
    return {"reading": "reading…", "indexing": "indexing…", "done": "done", "failed": "failed"}.get(
        progress.stage, progress.stage
    )


def fraction(progress: IngestProgress) -> float:
    """Return the whole batch's progress in 0..1 from one file's report."""
    low, high = STAGES.get(progress.stage, (1.0, 1.0))
    within = progress.done / progress.total if progress.total else 0.0
    count = max(progress.file_count, 1)
    return min((progress.file_index + low + (high - low) * within) / count, 1.0)


def ingest_live(
    library: Any, uploads: Sequence[Upload], report: Report | None = None
) -> Iterator[tuple[list[Row], list[FileOutcome] | None]]:
    """Yield (rows, None) while indexing and finally (rows, outcomes). Re-raises the ingest's exception."""
    rows: list[Row] = [(u.name, "queued", "waiting…") for u in uploads]
    events: queue.Queue[IngestProgress] = queue.Queue()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["outcomes"] = library.ingest(
                [u.path for u in uploads], on_progress=events.put, names=[u.name for u in uploads]
            )
        except BaseException as exc:  # handed to the caller's thread, which re-raises it
            result["error"] = exc

    worker = threading.Thread(target=work, name="footnote-ingest", daemon=True)
    worker.start()
    yield rows, None
    last = time.monotonic()
    while worker.is_alive() or not events.empty():
        try:
            progress = events.get(timeout=REFRESH_S)
        except queue.Empty:
            continue
        if 0 <= progress.file_index < len(rows):
            rows[progress.file_index] = (rows[progress.file_index][0], "working", describe(progress))
        if report is not None:
            report(
                fraction(progress),
                f"{progress.name} ({progress.file_index + 1}/{progress.file_count}): {describe(progress)}",
            )
        if time.monotonic() - last >= REFRESH_S:
            last = time.monotonic()
            yield list(rows), None
    worker.join()
    release_freed_memory()  # parsing and embedding buffers of the whole batch are free now
    if "error" in result:
        raise result["error"]
    outcomes: list[FileOutcome] = result["outcomes"]
    yield outcome_rows(outcomes), outcomes
