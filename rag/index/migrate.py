"""Copy an index from one backend to another without embedding anything again: `python -m rag migrate`.

Each document is read whole from the source (`Index.stored`: pages, chunks, vectors, kept file name) and written
to the target with one `put`, which is all-or-nothing on every backend. A document the target already holds with
the same id and passage count is skipped, so an interrupted migration resumes where it stopped. The calibrated
fusion weight is not copied: the target's keyword scores are its own, and it calibrates itself on first search.
Kept originals (page pictures) are copied when the target's data folder is another one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.index.contract import Index
from rag.index.files import writing


@dataclass(frozen=True)
class MigrationStep:
    """Progress: document `done` of `total` (1-based once copied or skipped), its name, and what happened."""

    done: int
    total: int
    name: str
    status: str  # "copied" or "skipped"
    chunks: int


@dataclass(frozen=True)
class MigrationReport:
    copied: int
    skipped: int
    chunks: int  # passages copied


def migrate(source: Index, target: Index, on_step: Callable[[MigrationStep], None] | None = None) -> MigrationReport:
    """Copy every document of `source` that `target` lacks; commit once at the end (and every 50 documents)."""
    report = on_step or (lambda _step: None)
    documents = source.documents()
    copied = skipped = chunks = 0
    for position, info in enumerate(documents, start=1):
        present = target.find(info.doc_id)
        if present is not None and present.doc_id == info.doc_id and present.chunks == info.chunks:
            skipped += 1
            report(MigrationStep(position, len(documents), info.name, "skipped", info.chunks))
            continue
        stored = source.stored(info.doc_id)
        if stored is None:  # deleted from the source meanwhile
            continue
        if stored.file:
            _copy_file(source.data_dir / "files", target.data_dir / "files", stored.file)
        target.put(stored.document, stored.chunks, stored.vectors, stored.file)
        copied, chunks = copied + 1, chunks + len(stored.chunks)
        if copied % 50 == 0:
            target.commit()
        report(MigrationStep(position, len(documents), info.name, "copied", len(stored.chunks)))
    target.commit()
    return MigrationReport(copied, skipped, chunks)


def _copy_file(source: Path, target: Path, name: str) -> None:
    if source.resolve() == target.resolve() or not (source / name).is_file() or (target / name).exists():
        return
    with writing("copy a kept original", target):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target / name)
