"""The front door: a data directory holding an index of documents you can ingest, search, list and delete.

    library = Library.open(settings, embedder)
    library.ingest([Path("report.pdf")])        # -> [FileOutcome(status="indexed", message="indexed 14 pages, 52 passages")]
    library.search("what was the revenue?")     # -> [Hit(chunk=Chunk(document="report.pdf", page=3, ...), score=...)]

Files are parsed in a sandboxed worker (`rag.ingest.parsing`), embedded here, and stored one document at a time
through the index contract (`rag.index.contract.Index`; the backend `Settings.index` names: on this disk each
document is one SQLite transaction, on Qdrant one versioned write). One bad file never stops a batch; a file
whose bytes are already indexed is skipped ("unchanged"). `Index.commit` runs once per batch (local files bring
FAISS and BM25 up to date there).
A copy of each original is kept in data_dir/files/<doc_id><ext> so the app can show its pages.
Several `Library` objects (one per app session) may share one embedder; each is safe to call from threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from contextlib import closing
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.digest import file_sha256
from rag.embedding import Embedder
from rag.errors import DocumentLoadError, DocumentNotFoundError
from rag.index.backends import open_index
from rag.index.contract import Index
from rag.index.files import drop_copy, keep_copy, remove_leftovers
from rag.ingest.batch import IngestItem, expand
from rag.ingest.parsing import FALLBACK_WARNING, ParseWorker
from rag.ingest.reading import ParsedFile
from rag.search.calibration import LibraryFusion
from rag.search.options import RetrievalOptions, Sources, check_query
from rag.search.retrieve import retrieve
from rag.types import Chunk, DocumentInfo, FileOutcome, Hit, IngestProgress

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[IngestProgress], None]


class Library:
    """An index in `settings.data_dir` plus the embedder that built it. Use `Library.open`."""

    def __init__(self, settings: Settings, embedder: Embedder, index: Index) -> None:
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.sources = Sources(index, embedder)
        self.fusion = LibraryFusion(index, embedder)  # the BM25 weight this library's passages ask for
        self._write_lock = threading.RLock()  # one ingest/delete at a time; searches run alongside
        self._max_bytes = settings.max_file_mb * 1024 * 1024

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder) -> Library:
        """Open (creating if needed) the index in `settings.data_dir`.

        Raises IndexMismatchError when it was built by another embedder, IndexWriteError when it cannot be created.
        """
        library = cls(settings, embedder, open_index(settings, embedder.name, embedder.dim))
        remove_leftovers(settings.data_dir, {d.doc_id for d in library.index.documents()})
        return library

    # ---- ingest ------------------------------------------------------------------------------------------
    def ingest(
        self, paths: Sequence[Path], on_progress: ProgressCallback | None = None, names: Sequence[str] | None = None
    ) -> list[FileOutcome]:
        """Index files and folders (recursively, supported types only); return one outcome per file, in order.

        `names` (parallel to `paths`, for uploads whose temp path is not the real name) sets display names.
        Raises IndexWriteError when the data dir is read-only or full; files finished before stay indexed.
        """
        items = expand(paths, names)
        report = on_progress or (lambda _progress: None)
        with self._write_lock:
            outcomes: list[FileOutcome | None] = [self._unchanged(item) for item in items]
            for i, outcome in enumerate(outcomes):
                if outcome is not None:
                    report(IngestProgress(items[i].name, "done", i, len(items), 1, 1))
            todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
            try:
                with closing(self._parse(items, todo, report)) as results:  # stops the parse worker promptly
                    for i, result in zip(todo, results, strict=True):
                        outcomes[i] = self._index(items[i], result, _Reporter(report, items[i].name, i, len(items)))
            finally:
                self._save_caches()
        return [outcome for outcome in outcomes if outcome is not None]

    def _unchanged(self, item: IngestItem, doc_id: str | None = None) -> FileOutcome | None:
        """Return an "unchanged" outcome when the file's bytes are already indexed, else None."""
        try:
            # Only regular files within the size limit: hashing a FIFO or /dev/zero here would block forever,
            # and the sandboxed parser reports those (and missing files) with a proper message.
            if doc_id is None and not (item.path.is_file() and item.path.stat().st_size <= self._max_bytes):
                return None
            doc_id = doc_id or file_sha256(item.path)
        except OSError:
            return None
        info = self.index.find(doc_id)
        if info is None or info.doc_id != doc_id:
            return None
        message = f"unchanged: already indexed as {info.name} ({_amounts(info.pages, info.chunks)})"
        return FileOutcome(
            str(item.path), info.name, "unchanged", message, info.pages, info.chunks, doc_id, info.warnings
        )

    def _parse(
        self, items: list[IngestItem], todo: list[int], report: ProgressCallback
    ) -> Generator[ParsedFile | DocumentLoadError]:
        """Yield each todo file's ParsedFile or DocumentLoadError, reporting "reading" before each file."""
        if not todo:
            return
        with ParseWorker(self.settings, self.embedder.tokenizer_file) as worker:
            report(IngestProgress(items[todo[0]].name, "reading", todo[0], len(items)))
            def on_ocr(position: int, done: int, total: int) -> None:
                i = todo[position]
                report(IngestProgress(items[i].name, "ocr", i, len(items), done, total))

            results = worker.parse_many([(items[i].path, items[i].name) for i in todo], on_ocr=on_ocr)
            for position, (_, _, result) in enumerate(results):
                yield result
                if position + 1 < len(todo):
                    nxt = todo[position + 1]
                    report(IngestProgress(items[nxt].name, "reading", nxt, len(items)))

    def _index(self, item: IngestItem, result: ParsedFile | DocumentLoadError, reporter: _Reporter) -> FileOutcome:
        """Embed and store one parsed file; return its outcome (a load error becomes a "failed" outcome)."""
        if isinstance(result, DocumentLoadError):
            reporter("failed")
            return FileOutcome(str(item.path), item.name, "failed", str(result))
        document, chunks = result.document, result.chunks
        already = self._unchanged(item, document.doc_id)  # the same bytes twice in one batch
        if already is not None:
            reporter("done", 1, 1)
            return already
        if not chunks:
            reporter("failed")
            return FileOutcome(str(item.path), document.name, "failed", f"{document.name}: no passages to index")
        reporter("chunking", len(chunks), len(chunks))
        previous = self.index.find(document.name)
        vectors = self._embed([c.indexed_text for c in chunks], previous, reporter)
        reporter("indexing")
        file = keep_copy(item.path, document.doc_id, self.settings.data_dir / "files")
        self.index.put(document, chunks, vectors, file)
        if previous is not None and previous.doc_id != document.doc_id:
            drop_copy(previous.doc_id, self.settings.data_dir / "files")
        status = "replaced" if previous is not None else "indexed"
        message = f"{status} {_amounts(document.page_count, len(chunks))}"
        reporter("done", 1, 1)
        return FileOutcome(
            str(item.path),
            document.name,
            status,
            message,
            document.page_count,
            len(chunks),
            document.doc_id,
            document.warnings,
        )

    def _embed(self, texts: list[str], previous: DocumentInfo | None, reporter: _Reporter) -> np.ndarray:
        """Return one vector per text, embedding only texts that the previous version of the file lacked."""
        known = self.index.vectors_by_text(previous.doc_id) if previous is not None else {}
        missing = [t for t in dict.fromkeys(texts) if t not in known]  # also embeds repeated passages once
        fresh = self.embedder.encode(missing, on_batch=lambda d, t: reporter("embedding", d, t))
        known.update(zip(missing, fresh, strict=True))
        return np.stack([known[t] for t in texts])

    def _save_caches(self) -> None:
        """Bring the index's derived structures up to date (once per batch, not per file), and the fusion weight
        when the library changed enough to measure it again."""
        self.index.commit()
        self.fusion.refresh()

    # ---- search ------------------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        documents: Sequence[str] | None = None,
        mode: str | None = None,
        settings: Settings | None = None,
    ) -> list[Hit]:
        """Return the best `k` (default settings.top_k) passages for `query`, best first.

        `documents` limits the search to these names or doc_ids (empty/None = all); `mode` is dense/bm25/hybrid.
        `settings` (default: the library's) supplies this call's retrieval settings (retrieval, top_k,
        candidates, reranker, expansion, multi_hop, mmr_lambda), so app sessions and the eval tool can compare
        configurations over one index. Raises QueryError for an empty or too long query,
        DocumentNotFoundError for an unknown document, ModelLoadError for a re-ranker that is not installed.
        """
        options = self.options(k=k, documents=documents, mode=mode, settings=settings)
        return retrieve(check_query(query, self.settings.max_query_chars), self.sources, options)

    def options(
        self,
        k: int | None = None,
        documents: Sequence[str] | None = None,
        mode: str | None = None,
        settings: Settings | None = None,
    ) -> RetrievalOptions:
        """Return retrieval options from `settings` (default: the library's), with these overrides and
        `documents` resolved to doc_ids."""
        settings = settings or self.settings
        overrides: dict[str, object] = {"documents": self.resolve(documents) if documents else None}
        if k is not None:
            overrides["k"] = k
        if mode is not None:
            overrides["mode"] = mode
        if settings.bm25_weight is None and (mode or settings.retrieval) == "hybrid":
            overrides["bm25_weight"] = self.fusion.weight()
        return RetrievalOptions.from_settings(settings, **overrides)

    def describe_search(self, settings: Settings | None = None) -> str:
        """How a search with `settings` (default: the library's) finds passages, in one line for people."""
        settings = settings or self.settings
        return self.options(settings=settings).describe(self.fusion.describe(settings.bm25_weight))

    def resolve(self, documents: Iterable[str]) -> tuple[str, ...]:
        """Return the doc_ids of these names or ids; raises DocumentNotFoundError naming the known documents."""
        return tuple(self._find(key).doc_id for key in documents)

    # ---- documents ---------------------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        """Return every indexed document, oldest first."""
        return self.index.documents()

    def delete(self, name_or_id: str) -> DocumentInfo:
        """Remove a document (metadata, vectors, BM25 entries and the kept copy); return what was removed."""
        with self._write_lock:
            info = self._find(name_or_id)
            self.index.delete(info.doc_id)
            drop_copy(info.doc_id, self.settings.data_dir / "files")
            self._save_caches()
        return info

    def chunk_neighbours(self, chunk: Chunk, n: int) -> list[Chunk]:
        """Return `chunk` with up to `n` chunks either side of it in its document, in reading order."""
        return self.index.neighbours(chunk.doc_id, chunk.ordinal, n)

    def page_text(self, doc_id: str, page: int) -> str:
        """Return the stored text of one page; raises DocumentNotFoundError for an unknown document or page."""
        text = self.index.page_text(doc_id, page)
        if text is None:
            raise DocumentNotFoundError(f"page {page} of document {doc_id} is not in the index")
        return text

    def document_path(self, doc_id: str) -> Path | None:
        """Return the kept copy of the original file, or None when there is none."""
        file = self.index.document_file(doc_id)
        path = self.settings.data_dir / "files" / file
        return path if file and path.is_file() else None

    def renderable(self, doc_id: str) -> Path | None:
        """Return the kept copy when its pages may be drawn (`rag.pages`), else None.

        A file that crashed PDFium while it was read (its text came from the fallback reader) is never handed to
        PDFium again, even in the sandbox.
        """
        info = self.index.find(doc_id)
        if info is None or FALLBACK_WARNING in info.warnings:
            return None
        return self.document_path(doc_id)

    def close(self) -> None:
        """Close the index; waits for a running ingest or delete to finish first."""
        with self._write_lock:
            self.index.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _find(self, key: str) -> DocumentInfo:
        info = self.index.find(key)
        if info is None:
            known = ", ".join(d.name for d in self.index.documents()) or "none yet"
            raise DocumentNotFoundError(
                f"no document named {key!r} in {self.settings.data_dir}; known documents: {known}"
            )
        return info


class _Reporter:
    """Sends IngestProgress for one file of a batch."""

    def __init__(self, report: ProgressCallback, name: str, index: int, count: int) -> None:
        self.report, self.name, self.index, self.count = report, name, index, count

    def __call__(self, stage: str, done: int = 0, total: int = 0) -> None:
        self.report(IngestProgress(self.name, stage, self.index, self.count, done, total))


def _amounts(pages: int, chunks: int) -> str:
    return f"{pages} page{'s' if pages != 1 else ''}, {chunks} passage{'s' if chunks != 1 else ''}"
