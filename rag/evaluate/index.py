"""Building (or reusing) the index an evaluation searches: never the user's data dir.

Without a cache dir the index lives in a temporary folder removed afterwards. With `--cache-dir DIR` it lives in
`DIR/<key>`, where the key covers the dataset's content, the chunk settings, the embedder and the source of the
modules that shape the index, so a stale index is never reused silently. Embedding is the slow part; a cached
index makes a second run cost only the queries.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.config import Settings
from rag.embedding import planned_dtype
from rag.evaluate.records import EvalSet, Source
from rag.index.backends import DEFAULT_BACKEND
from rag.ingest.loaders import load_document
from rag.types import FileOutcome, Hit, IngestProgress, Page

COMPLETE_MARKER = "eval-index.json"
# The code that decides what ends up in an index (packages and modules under rag/): a change to any of their
# files invalidates cached indexes. A name that does not exist is a bug in this list, never skipped.
INDEX_CODE = (
    "ingest",
    "index",
    "sandbox",
    "config.py",
    "digest.py",
    "embedding.py",
    "batching.py",
    "onnx_embedder.py",
    "onnx_export.py",
    "library.py",
    "text.py",
    "types.py",
)


class SearchIndex(Protocol):
    """What the runner needs from `rag.Library` (tests pass a fake)."""

    def ingest(
        self,
        paths: Sequence[Path],
        on_progress: Callable[[IngestProgress], None] | None = None,
        names: Sequence[str] | None = None,
    ) -> list[FileOutcome]: ...

    def search(
        self,
        query: str,
        k: int | None = None,
        documents: Any = None,
        mode: str | None = None,
        settings: Settings | None = None,
    ) -> list[Hit]: ...

    def describe_search(self, settings: Settings | None = None) -> str: ...


OpenIndex = Callable[[Settings], SearchIndex]


class LexicalOnlyEmbedder:
    """Stands in for the embedder when only BM25 is measured: every text gets the same unit vector, instantly.

    Embedding is the slow part of indexing (hours for BEIR corpora on a busy 2-core box); BM25 numbers over the
    real loader and chunker need none of it. Chunks are still measured with the real tokenizer.
    """

    dim = 8

    def __init__(self, tokenizer_file: Path, max_tokens: int) -> None:
        self.name = "lexical-only (no embedding)"
        self.tokenizer_file = tokenizer_file
        self.max_tokens = max_tokens

    def encode(self, texts: list[str], on_batch: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Return len(texts) copies of one unit vector (float32)."""
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        vectors[:, 0] = 1.0
        if on_batch is not None:
            on_batch(len(texts), len(texts))
        return vectors


@dataclass(frozen=True)
class IndexInfo:
    """How the evaluation index came to be: built (and how long it took) or reused from the cache."""

    data_dir: str
    cached: bool
    build_seconds: float
    files: int
    failed: tuple[str, ...]  # "name: message" for files the Library could not ingest


@dataclass(frozen=True)
class PreparedIndex:
    index: SearchIndex
    info: IndexInfo
    paths: dict[str, Path]  # source name -> file on disk (text sources written to a temp folder)


def cache_key(evalset: EvalSet, settings: Settings, embedder_name: str) -> str:
    """A short hash of everything that changes the index's content."""
    digest = hashlib.sha256()
    parts = [
        evalset.kind,
        evalset.name,
        embedder_name,
        # each backend keeps its own copy ("auto" builds a fresh eval index on the default backend)
        DEFAULT_BACKEND if settings.index == "auto" else settings.index,
        planned_dtype(settings.embed_dtype),  # what "auto" means on this machine: int8 and bf16 vectors differ
        settings.chunk_tokens,
        settings.chunk_overlap,
        settings.chunk_context,
        settings.pdf_tables,
        settings.ocr,
    ]
    digest.update(json.dumps([str(p) for p in parts]).encode())
    for source in evalset.sources:
        digest.update(source.name.encode())
        if source.text is not None:
            digest.update(source.text.encode())
        elif source.path is not None:
            stat = source.path.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    root = Path(__file__).resolve().parents[2]
    for path in index_code_files():
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{evalset.kind}-{evalset.path.stem}-{digest.hexdigest()[:16]}"


def index_code_files(names: Sequence[str] = INDEX_CODE) -> list[Path]:
    """Every .py file of the packages and modules `names` (under rag/), sorted; raises RuntimeError for a name
    that does not exist, so a moved module can never leave a stale cached index in use."""
    package = Path(__file__).resolve().parent.parent
    files: list[Path] = []
    for name in names:
        path = package / name
        if path.is_dir():
            files += sorted(path.rglob("*.py"))
        elif path.is_file():
            files.append(path)
        else:
            raise RuntimeError(f"rag/evaluate/index.py: INDEX_CODE names rag/{name}, which does not exist; update it")
    return files


def write_sources(sources: Sequence[Source], folder: Path) -> dict[str, Path]:
    """Return each source's file: existing files as they are, texts written to `folder/<name>`."""
    paths = {}
    for source in sources:
        if source.path is not None:
            paths[source.name] = source.path
        else:
            target = folder / source.name
            target.write_text(source.text or "", encoding="utf-8")
            paths[source.name] = target
    return paths


def pages_reader(paths: dict[str, Path], settings: Settings) -> Callable[[Source], Sequence[Page]]:
    """A function giving a source's pages exactly as the index's loader sees them (for locating gold)."""
    def pages_of(source: Source) -> Sequence[Page]:
        return load_document(paths[source.name], settings, name=source.name).pages

    return pages_of


def index_location(evalset: EvalSet, settings: Settings, embedder_name: str, cache_dir: Path | None) -> Path | None:
    """Where a kept index lives: `cache_dir/<key>`, or None for a throw-away one.

    `cache_dir` holding an `eval-index.json` itself is an index chosen by hand (e.g. one built before an
    unrelated code change) and is used as it is.
    """
    if cache_dir is None:
        return None
    cache_dir = Path(cache_dir).expanduser()
    if (cache_dir / COMPLETE_MARKER).exists():
        return cache_dir
    return cache_dir / cache_key(evalset, settings, embedder_name)


@contextmanager
def prepared_index(
    evalset: EvalSet, settings: Settings, embedder_name: str, open_index: OpenIndex, cache_dir: Path | None
) -> Iterator[PreparedIndex]:
    """Yield the index for `evalset`, building it unless a complete cached copy exists."""
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        texts = Path(tmp) / "sources"
        texts.mkdir()
        paths = write_sources(evalset.sources, texts)
        kept = index_location(evalset, settings, embedder_name, cache_dir)
        data_dir = kept or Path(tmp) / "index"
        if settings.index == "qdrant":  # one collection per set on a server, not the library's own
            key = cache_key(evalset, settings, embedder_name)
            settings = settings.replace(qdrant_collection=f"{settings.qdrant_collection}-eval-{key}")
        index = open_index(settings.replace(data_dir=data_dir))
        try:
            info = _reuse(data_dir) or _build(index, evalset, paths, data_dir, kept is not None)
            yield PreparedIndex(index, info, paths)
        finally:
            close = getattr(index, "close", None)
            if close is not None:  # the Library holds SQLite connections; fakes need not
                close()


def _reuse(data_dir: Path) -> IndexInfo | None:
    """The recorded IndexInfo of a complete cached index, or None.

    An index where some files failed is not reused: the ingest runs again (skipping indexed files), so a file
    that only timed out on a busy machine gets another chance.
    """
    marker = data_dir / COMPLETE_MARKER
    if not marker.exists():
        return None
    record = json.loads(marker.read_text(encoding="utf-8"))
    if record["failed"]:
        return None
    return IndexInfo(str(data_dir), True, float(record["build_seconds"]), int(record["files"]), tuple(record["failed"]))


def _build(index: SearchIndex, evalset: EvalSet, paths: dict[str, Path], data_dir: Path, keep: bool) -> IndexInfo:
    """Ingest every source with a progress bar; record completion so a cache is only reused when whole."""
    from tqdm import tqdm

    names = [s.name for s in evalset.sources]
    bar = tqdm(total=len(names), desc=f"indexing {evalset.name}", unit="file")

    def on_progress(event: IngestProgress) -> None:
        if event.stage in ("done", "failed"):
            bar.update(1)

    started = time.perf_counter()
    try:
        outcomes = index.ingest([paths[n] for n in names], on_progress=on_progress, names=names)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    failed = tuple(_named(o.name, o.message) for o in outcomes if not o.ok) + _duplicates(names, outcomes)
    info = IndexInfo(str(data_dir), False, seconds, len(names), failed)
    if keep:
        data_dir.mkdir(parents=True, exist_ok=True)
        record = {"build_seconds": seconds, "files": len(names), "failed": list(failed), "dataset": evalset.name}
        (data_dir / COMPLETE_MARKER).write_text(json.dumps(record, indent=1), encoding="utf-8")
    return info


def _named(name: str, message: str) -> str:
    """ "name: message", unless the Library's message already starts with the file name (its errors do)."""
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def _duplicates(names: Sequence[str], outcomes: Sequence[FileOutcome]) -> tuple[str, ...]:
    """Files the Library skipped because identical bytes were indexed under another name.

    Their chunks carry the other name, so gold pointing at them can never be matched: say so in the report.
    """
    return tuple(
        f"{name}: {outcome.message}"
        for name, outcome in zip(names, outcomes, strict=False)
        if outcome.status == "unchanged" and outcome.name != name
    )
