"""Load and chunk files in the sandbox (`rag.sandbox`), so a hostile file costs one error, not the app.

    with ParseWorker(settings, embedder.tokenizer_file) as worker:
        for path, name, result in worker.parse_many([(path, "report.pdf"), ...]):
            if isinstance(result, DocumentLoadError): ...   # the message names the file
            else: result.document, result.chunks

The worker is a long-lived child process that runs `load_document` + `Chunker.split`:
- a parse that takes longer than `settings.parse_timeout_s` is killed and reported; the worker restarts; a
  scanned PDF's pages read by OCR each add `ocr_page_timeout_s` (the worker reports every page it reads);
- its address space is capped at `settings.parse_memory_mb`: a MemoryError fails that file;
- a crash (segfault in a parser) fails that file; the next file gets a fresh worker. A PDF that crashed
  the worker (PDFium is C++: a decompression bomb makes it abort at the memory cap) is first retried once
  with pypdf alone, within what is left of its timeout, and gets `FALLBACK_WARNING`. A timeout is not
  retried: that would double the longest waits.
`parse_many` is pipelined: the worker reads file i+1 while the caller embeds file i. The child imports only the
loaders, pypdf, tokenizers and semantic-text-splitter (about 1 s), once; its replies are JSON, checked here
(`rag.ingest.reading.parsed_from_wire`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from rag.config import Settings
from rag.errors import DocumentLoadError
from rag.ingest.chunking import Chunker
from rag.ingest.cleaning import display_name
from rag.ingest.loaders import KINDS
from rag.ingest.reading import ParsedFile, chunker_for, ocr_progress_from_wire, parse_in_process, parsed_from_wire
from rag.sandbox.process import Crashed, TimedOut, Unreadable, WorkerProcess
from rag.sandbox.wire import BadMessage

logger = logging.getLogger(__name__)

OcrCallback = Callable[[int, int, int], None]  # (file's position in the batch, pages read, pages to read)
OCR_SLACK_S = 30.0  # beyond a page's OCR time limit: drawing the page, and the worker's own limit acting first
FALLBACK_WARNING = (
    "read with the fallback PDF reader after the main reader crashed; some pages may be missing or laid out differently"
)


class ParseWorker:
    """Parses one file at a time in a sandboxed child. Not safe to share between threads.

    Use as a context manager or call `close()`. `preload` names modules the child imports at start (tests use it
    to install slow or crashing loaders).
    """

    def __init__(self, settings: Settings, tokenizer_file: str | Path, *, preload: Sequence[str] = ()) -> None:
        self.settings = settings
        self.tokenizer_file = str(tokenizer_file)
        config = {
            "settings": settings.to_dict(),
            "tokenizer_file": self.tokenizer_file,
            "preload": list(preload),
            "memory_mb": settings.parse_memory_mb,
        }
        self._worker = WorkerProcess("parse", config)
        self._chunker: Chunker | None = None  # only for isolated=False
        self._on_pages: Callable[[int, int], None] | None = None  # OCR progress of the file being collected
        self._ocr_seen = (-1, -1)  # the last (done, total) OCR progress of the file being collected
        self._worker.start()  # start now: the child's imports overlap with whatever the caller does next

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def parse(self, path: Path, name: str | None = None) -> ParsedFile:
        """Load and chunk one file in the worker. Raises DocumentLoadError (or a subclass) naming the file."""
        name, path = _name(path, name), Path(path)
        result = self._answer(path, name, self._submit(path, name))
        if isinstance(result, DocumentLoadError):
            raise result
        return result

    def parse_many(
        self, items: Iterable[tuple[Path, str]], *, isolated: bool = True, on_ocr: OcrCallback | None = None
    ) -> Iterator[tuple[Path, str, ParsedFile | DocumentLoadError]]:
        """Parse files in order, yielding (path, name, ParsedFile or the DocumentLoadError) for each.

        While the caller handles file i the worker already reads file i+1. With `isolated=False`
        files are parsed in this process instead (no worker, no timeout). `on_ocr(i, done, total)` hears of
        file i's pages read by OCR; each such page also gives the file `ocr_page_timeout_s` more time.
        """
        if not isolated:
            yield from self._parse_many_here(items)
            return
        queue = iter(items)
        current = next(queue, None)
        if current is None:
            return
        submitted = self._submit(Path(current[0]), _name(*current))
        try:
            position = 0
            while current is not None:
                name = _name(*current)
                self._on_pages = partial(on_ocr, position) if on_ocr is not None else None
                result = self._answer(Path(current[0]), name, submitted)
                position += 1
                following = next(queue, None)
                if following is not None:
                    submitted = self._submit(Path(following[0]), _name(*following))
                yield current[0], name, result
                current = following
        finally:
            if self._worker.in_flight:  # the caller stopped early: drop the half-done file with its worker
                self._worker.stop()

    def close(self) -> None:
        """Stop the worker process."""
        self._worker.stop()

    def _submit(
        self, path: Path, name: str, *, pdfium: bool = True, budget_s: float | None = None
    ) -> float | DocumentLoadError:
        """Send one file to the worker; return its answer's deadline, or the error when no worker starts.

        The clock (`budget_s`, by default the parse timeout) starts once the worker is ready.
        """
        budget = self.settings.parse_timeout_s if budget_s is None else budget_s
        deadline = self._worker.submit({"path": str(path), "name": name, "pdfium": pdfium}, budget)
        if deadline is None:
            return DocumentLoadError(
                name, "could not be read: the document reader did not start; check RAG_PARSE_MEMORY_MB"
            )
        return deadline

    def _answer(self, path: Path, name: str, submitted: float | DocumentLoadError) -> ParsedFile | DocumentLoadError:
        """The result for what `_submit` returned: its error as is, or the worker's answer by the deadline.

        A PDF that crashed the worker is retried once with pypdf only (see the module docstring).
        """
        if isinstance(submitted, DocumentLoadError):
            return submitted
        result = self._collect(path, name, submitted)
        if not isinstance(result, Crashed):
            return result
        crash = _crash_error(name, result)
        if KINDS.get(path.suffix.lower()) != "pdf":  # as load_document picks the loader
            return crash
        return self._retry_without_pdfium(path, name, crash, submitted)

    def _retry_without_pdfium(
        self, path: Path, name: str, crash: DocumentLoadError, deadline: float
    ) -> ParsedFile | DocumentLoadError:
        """Read a PDF that crashed the worker again with pypdf only, in the time the file has left.

        The time left keeps a file's total within the parse timeout, as without the retry.
        """
        logger.warning("%s; retrying it with pypdf only", crash)
        submitted = self._submit(path, name, pdfium=False, budget_s=max(0.0, deadline - time.monotonic()))
        if isinstance(submitted, DocumentLoadError):
            return submitted
        result = self._collect(path, name, submitted)
        if isinstance(result, Crashed):  # pypdf's own error would say more; a second crash says only this
            return _crash_error(name, result)
        if isinstance(result, DocumentLoadError):
            return result
        document = replace(result.document, warnings=(*result.document.warnings, FALLBACK_WARNING))
        return ParsedFile(document, result.chunks)

    def _collect(self, path: Path, name: str, deadline: float) -> ParsedFile | DocumentLoadError | Crashed:
        """The answer to the request in flight, a DocumentLoadError (timeout, bad reply), or the crash."""
        self._ocr_seen = (-1, -1)
        outcome = self._worker.collect(deadline, on_progress=self._ocr_progress)
        if isinstance(outcome, TimedOut):
            if self._ocr_seen[0] >= 0:
                return DocumentLoadError(name, (
                    f"a scanned page took longer than {self.settings.ocr_page_timeout_s:g} s to read by OCR and the "
                    "file was stopped; raise RAG_OCR_PAGE_TIMEOUT_S, or set RAG_OCR=off to load it without OCR"
                ))  # fmt: skip
            timeout = self.settings.parse_timeout_s
            return DocumentLoadError(
                name, f"took longer than {timeout:g} s to read and was stopped; split it or raise RAG_PARSE_TIMEOUT_S"
            )
        if isinstance(outcome, Crashed):
            return outcome
        if isinstance(outcome, Unreadable):
            return self._distrusted(name, outcome.reason)
        try:
            return parsed_from_wire(outcome.message, path, name)
        except BadMessage as exc:
            return self._distrusted(name, str(exc))
        except OSError as exc:  # the file went away before we could hash it
            return DocumentLoadError(name, f"could not be opened ({exc.strerror or exc})")

    def _ocr_progress(self, data: object) -> float:
        """One more page read by OCR: tell the caller, and give the file time for the next page.

        Each report must advance, and a file has at most RAG_MAX_PAGES pages: a worker taken over by a hostile file
        cannot keep its file alive by repeating itself.
        """
        done, total = ocr_progress_from_wire(data)
        last_done, last_total = self._ocr_seen
        if done <= last_done or (last_total >= 0 and total != last_total) or total > self.settings.max_pages:
            raise BadMessage("OCR progress that does not advance")
        self._ocr_seen = (done, total)
        if self._on_pages is not None:
            self._on_pages(done, total)
        return time.monotonic() + self.settings.ocr_page_timeout_s + OCR_SLACK_S

    def _distrusted(self, name: str, reason: str) -> DocumentLoadError:
        """A reply that breaks the protocol: the file fails and the worker is replaced before the next one."""
        self._worker.stop()
        logger.warning("%s: the document reader sent an unreadable reply (%s)", name, reason)
        return DocumentLoadError(name, "could not be read: the document reader sent an unreadable reply; re-export it")

    def _parse_many_here(
        self, items: Iterable[tuple[Path, str]]
    ) -> Iterator[tuple[Path, str, ParsedFile | DocumentLoadError]]:
        if self._chunker is None:
            self._chunker = chunker_for(self.settings, self.tokenizer_file)
        for path, name in items:
            try:
                yield path, _name(path, name), parse_in_process(Path(path), self.settings, self._chunker, name)
            except DocumentLoadError as exc:
                yield path, _name(path, name), exc


def _crash_error(name: str, crash: Crashed) -> DocumentLoadError:
    return DocumentLoadError(name, f"made the document reader crash ({crash.how}) and was skipped; re-export or repair it")


def _name(path: Path | str, name: str | None = None) -> str:
    return display_name(name) if name else Path(path).name
