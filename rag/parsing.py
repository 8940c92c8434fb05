"""Load and chunk files in a sandboxed worker process, so a hostile file costs one error, not the app.

    with ParseWorker(settings, embedder.tokenizer_file) as worker:
        for path, name, result in worker.parse_many([(path, "report.pdf"), ...]):
            if isinstance(result, DocumentLoadError): ...   # the message names the file
            else: result.document, result.chunks

The worker is a long-lived child Python process that runs `load_document` + `Chunker.split`:
- a parse that takes longer than `settings.parse_timeout_s` is killed and reported; the worker restarts;
- its address space is capped at `settings.parse_memory_mb` (RLIMIT_AS): a MemoryError fails that file;
- a crash (segfault in a parser) fails that file; the next file gets a fresh worker. A PDF that crashed
  the worker (PDFium is C++: a decompression bomb makes it abort at the memory cap) is first retried once
  with pypdf alone, within what is left of its timeout, and gets `FALLBACK_WARNING`. A timeout is not
  retried: that would double the longest waits.
`parse_many` is pipelined: the worker reads file i+1 while the caller embeds file i.

Why a plain `subprocess` and not `multiprocessing`: fork is unsafe (the parent runs torch and Gradio
threads), and the "spawn"/"forkserver" contexts re-run the parent's main script in the child, which for
the app means importing Gradio and torch there, slowly and under the memory cap. We start
`python -c` ourselves (fork+exec, like spawn, with the parent's sys.path) and speak pickled messages
over `multiprocessing.connection.Connection` pipes (length-prefixed, any size); the child's side is
`rag/parse_child.py`. The child imports
only the loaders, pypdf, tokenizers and semantic-text-splitter (about 1 s), once.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .chunking import Chunker
from .config import Settings
from .errors import DocumentLoadError
from .types import Chunk, Document

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 120.0  # a fresh worker imports pypdf, tokenizers, ... (about 1 s idle; far more on a busy box)
FALLBACK_WARNING = (
    "read with the fallback PDF reader after the main reader crashed; some pages may be missing or laid out differently"
)


@dataclass(frozen=True)
class ParsedFile:
    """A loaded document and its chunks, in reading order."""

    document: Document
    chunks: tuple[Chunk, ...]


def parse_in_process(path: Path, settings: Settings, chunker: Chunker, name: str | None = None) -> ParsedFile:
    """Load and chunk one file in this process: no timeout, no memory cap (tests, trusted files)."""
    from .loaders import load_document

    document = load_document(Path(path), settings, name)
    return ParsedFile(document, tuple(chunker.split(document)))


class ParseWorker:
    """A child process that parses one file at a time; restarted after a timeout or a crash.

    One caller at a time: not safe to share between threads. Use as a context manager or call `close()`.
    `preload` names modules the child imports at start (tests use it to install slow or crashing loaders).
    """

    def __init__(self, settings: Settings, tokenizer_file: str | Path, *, preload: Sequence[str] = ()) -> None:
        self.settings = settings
        self.tokenizer_file = str(tokenizer_file)
        self.preload = tuple(preload)
        self._proc: subprocess.Popen | None = None
        self._conn = None  # a parse_child.Duplex to the worker
        self._in_flight = False  # a request was sent and its answer not read yet
        self._ready = False  # the current worker said "ready" (its imports are done)
        self._chunker: Chunker | None = None  # only for isolated=False
        self._start()  # start now: the child's imports overlap with whatever the caller does next

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def parse(self, path: Path, name: str | None = None) -> ParsedFile:
        """Load and chunk one file in the worker. Raises DocumentLoadError (or a subclass) naming the file."""
        name, path = _name(path, name), Path(path)
        result = self._answer(path, name, self._submit(path, name))
        if isinstance(result, DocumentLoadError):
            raise result
        return result

    def parse_many(
        self, items: Iterable[tuple[Path, str]], *, isolated: bool = True
    ) -> Iterator[tuple[Path, str, ParsedFile | DocumentLoadError]]:
        """Parse files in order, yielding (path, name, ParsedFile or the DocumentLoadError) for each.

        While the caller handles file i the worker already reads file i+1. With `isolated=False`
        files are parsed in this process instead (no worker, no timeout).
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
            while current is not None:
                name = _name(*current)
                result = self._answer(Path(current[0]), name, submitted)
                following = next(queue, None)
                if following is not None:
                    submitted = self._submit(Path(following[0]), _name(*following))
                yield current[0], name, result
                current = following
        finally:
            if self._in_flight:  # the caller stopped early: drop the half-done file with its worker
                self._stop()

    def close(self) -> None:
        """Stop the worker process."""
        self._stop()

    # --- worker process management ---

    def _start(self) -> None:
        parent_r, child_w = os.pipe()
        child_r, parent_w = os.pipe()
        code = (
            "import json, sys; sys.path[:0] = json.loads(sys.argv[3]); "
            "from rag.parse_child import serve; serve(int(sys.argv[1]), int(sys.argv[2]))"
        )
        paths = json.dumps([p for p in sys.path if p])  # the child finds what the parent finds (rag, test hooks)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code, str(child_r), str(child_w), paths],
            pass_fds=(child_r, child_w),
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
        os.close(child_r)
        os.close(child_w)
        from .parse_child import Duplex

        self._conn = Duplex(parent_r, parent_w)
        self._conn.send((self.settings, self.tokenizer_file, self.preload, logging.getLogger().getEffectiveLevel()))
        self._in_flight = False
        self._ready = False

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None
        self._in_flight = False

    def _submit(
        self, path: Path, name: str, *, pdfium: bool = True, budget_s: float | None = None
    ) -> float | DocumentLoadError:
        """Send one request to a ready worker (restarting a dead one); return the answer's deadline.

        The clock (`budget_s`, by default the parse timeout) starts only once the worker is ready, so a
        restart never eats into a file's time. `pdfium=False` reads a PDF with pypdf only.
        Returns a DocumentLoadError for the file if no worker can be started.
        """
        if self._in_flight:
            raise RuntimeError("ParseWorker is busy with another request; use one worker per caller")
        for _ in range(2):  # a worker that dies between start-up and the request gets one successor
            if self._proc is None or self._proc.poll() is not None:
                self._stop()
                self._start()
            failure = self._wait_ready(name)
            if failure is not None:
                return failure
            try:
                self._conn.send((str(path), name, pdfium))
            except OSError:
                self._stop()
                continue
            self._in_flight = True
            return time.monotonic() + (self.settings.parse_timeout_s if budget_s is None else budget_s)
        return _not_started(name)

    def _wait_ready(self, name: str) -> DocumentLoadError | None:
        """Wait for a new worker's "ready" (its imports done); None when ready, else the error for `name`."""
        if self._ready:
            return None
        try:
            self._ready = self._conn.poll(STARTUP_TIMEOUT_S) and self._conn.recv() == "ready"
        except (EOFError, OSError):  # it died while starting; its traceback is on stderr
            self._ready = False
        if self._ready:
            return None
        self._stop()
        return _not_started(name)

    def _answer(self, path: Path, name: str, submitted: float | DocumentLoadError) -> ParsedFile | DocumentLoadError:
        """The result for what `_submit` returned: its error as is, or the worker's answer by the deadline.

        A PDF that crashed the worker is retried once with pypdf only (see the module docstring).
        """
        if isinstance(submitted, DocumentLoadError):
            return submitted
        result = self._collect(name, submitted)
        if not isinstance(result, _Crash):
            return result
        from .loaders import KINDS

        if KINDS.get(path.suffix.lower()) != "pdf":  # as load_document picks the loader
            return result.error
        return self._retry_without_pdfium(path, name, result.error, submitted)

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
        result = self._collect(name, submitted)
        if not isinstance(result, ParsedFile):  # pypdf's own error says more than a second crash report
            return result.error if isinstance(result, _Crash) else result
        document = replace(result.document, warnings=(*result.document.warnings, FALLBACK_WARNING))
        return ParsedFile(document, result.chunks)

    def _collect(self, name: str, deadline: float) -> ParsedFile | DocumentLoadError | _Crash:
        """The answer to the request in flight, or a DocumentLoadError after a timeout, or a _Crash."""
        timeout = self.settings.parse_timeout_s
        try:
            if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                self._stop()
                return DocumentLoadError(
                    name,
                    f"took longer than {timeout:g} s to read and was stopped; split it or raise RAG_PARSE_TIMEOUT_S",
                )
            message = self._conn.recv()
        except (EOFError, OSError):
            return self._crashed(name)
        self._in_flight = False
        return message.result()

    def _crashed(self, name: str) -> _Crash:
        try:
            code = self._proc.wait(timeout=5) if self._proc is not None else None
        except subprocess.TimeoutExpired:  # the pipe broke but the process lives on: stop it
            code = None
        self._stop()
        how = f"signal {_signal_name(-code)}" if code is not None and code < 0 else f"exit code {code}"
        return _Crash(
            DocumentLoadError(name, f"made the document reader crash ({how}) and was skipped; re-export or repair it")
        )

    def _parse_many_here(self, items: Iterable[tuple[Path, str]]):
        if self._chunker is None:
            self._chunker = chunker_for(self.settings, self.tokenizer_file)
        for path, name in items:
            try:
                yield path, _name(path, name), parse_in_process(Path(path), self.settings, self._chunker, name)
            except DocumentLoadError as exc:
                yield path, _name(path, name), exc


@dataclass(frozen=True)
class _Crash:
    """The worker died on a file (a native crash or the memory cap), as opposed to a timeout or a load error."""

    error: DocumentLoadError


def _signal_name(number: int) -> str:
    """Example: 11 -> "SIGSEGV"."""
    return signal.Signals(number).name if number in signal.valid_signals() else str(number)


def _not_started(name: str) -> DocumentLoadError:
    return DocumentLoadError(name, "could not be read: the document reader did not start; check RAG_PARSE_MEMORY_MB")


def _name(path: Path | str, name: str | None = None) -> str:
    from .loaders import display_name

    return display_name(name) if name else Path(path).name


def chunker_for(settings: Settings, tokenizer_file: str) -> Chunker:
    """The Chunker that Settings ask for (chunk_tokens, chunk_overlap, chunk_context)."""
    return Chunker(tokenizer_file, settings.chunk_tokens, settings.chunk_overlap, settings.chunk_context)
