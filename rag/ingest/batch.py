"""Which files a batch holds: files as given, folders walked recursively for the types the loaders read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.loaders import KINDS


@dataclass(frozen=True)
class IngestItem:
    """One file of a batch: where it is and the name the user will see."""

    path: Path
    name: str


def expand(paths: Sequence[Path], names: Sequence[str] | None = None) -> list[IngestItem]:
    """Return the files to ingest: files as given, folders walked recursively for supported types (sorted).

    Files found in a folder are named by their path relative to it ("sub/report.pdf").
    """
    if names is not None and len(names) != len(paths):
        raise ValueError(f"{len(names)} names for {len(paths)} paths")
    items: list[IngestItem] = []
    for i, raw in enumerate(paths):
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in KINDS)
            items.extend(IngestItem(p, p.relative_to(path).as_posix()) for p in found)
        else:
            items.append(IngestItem(path, names[i] if names is not None else path.name))
    return items
